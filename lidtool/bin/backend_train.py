"""Train a LID back-end (length norm / LDA / cosine, LR or Gaussian) on utterance vectors."""
import logging

from lidtool.backend.config import BackendConfig
from lidtool.backend.model import Backend
from lidtool.backend.vectors import labels_for, read_vectors
from lidtool.ivector.config import add_config_args, load_yaml

log = logging.getLogger(__name__)


def add_arguments(p):
    add_config_args(p)
    p.add_argument("--vectors", required=True, help="training vectors (ivector.scp, xvector.scp)")
    p.add_argument("--utt2lang", required=True, help="languages of the training utterances")
    p.add_argument("--out", required=True, help="back-end file to write, e.g. exp/x/backend.npz")


def main(args):
    data = load_yaml(args.config, args.override)
    be = Backend(BackendConfig.from_dict(data.get("backend"), where=args.config or "<defaults>"))
    utts, X = read_vectors(args.vectors)
    langs = labels_for(utts, args.utt2lang)
    be.fit(X, langs, where=args.vectors)
    log.info("back-end %s -> %s on %d vectors of dim %d, %d languages",
             "+".join(be.cfg.chain), be.cfg.classifier, len(utts), X.shape[1], len(be.langs))
    be.save(args.out)


if __name__ == "__main__":
    from lidtool.cli import module_entry
    module_entry(__name__)
