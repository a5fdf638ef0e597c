"""Score utterance vectors with a trained back-end: `<utt> <lang> <score>` for every pair."""
import logging

from lidtool.backend.model import Backend
from lidtool.backend.vectors import read_vectors
from lidtool.metrics.scores import write_scores

log = logging.getLogger(__name__)


def add_arguments(p):
    p.add_argument("--backend", required=True, help="file written by `lidtool backend-train`")
    p.add_argument("--vectors", required=True, help="test vectors (ivector.scp, xvector.scp)")
    p.add_argument("--out", required=True, help="score file to write")


def main(args):
    be = Backend.load(args.backend)
    utts, X = read_vectors(args.vectors)
    write_scores(args.out, utts, be.langs, be.scores(X, where=args.vectors))
    log.info("scored %d utterances x %d languages -> %s", len(utts), len(be.langs), args.out)


if __name__ == "__main__":
    from lidtool.cli import module_entry
    module_entry(__name__)
