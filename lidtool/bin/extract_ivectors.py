"""Extract i-vectors for a data dir to an ark/scp pair (written atomically)."""
import logging

from lidtool.backend.vectors import write_vectors
from lidtool.ivector.config import add_config_args, config_from_args
from lidtool.ivector.extractor import load_extractor
from lidtool.ivector.feats import (chunk_utterances, default_chunk_frames, default_max_utts,
                                   iter_utterance_features)

log = logging.getLogger(__name__)


def add_arguments(p):
    add_config_args(p)
    p.add_argument("--extractor", required=True, help="trained extractor (final.ie)")
    p.add_argument("--data", required=True, help="data dir (or one split) with feats.scp")
    p.add_argument("--ark", required=True, help="output ark, e.g. exp/ivectors_x/ivector.1.ark")
    p.add_argument("--scp", required=True, help="output scp pointing into the ark")


def main(args):
    cfg = config_from_args(args)
    ie = load_extractor(args.extractor)
    utts = iter_utterance_features(args.data, dim=ie.dim, cmn_window=cfg.features.cmn_window,
                                   use_vad=cfg.features.use_vad,
                                   progress="extract")
    chunks = chunk_utterances(utts, default_chunk_frames(ie.ubm.num_comps), dim=ie.dim,
                              where=f"{args.data}/feats.scp",
                              max_utts=default_max_utts(ie.ubm.num_comps, ie.dim, ie.ivector_dim))
    n = write_vectors(args.ark, args.scp, ie.extract(chunks))
    log.info("wrote %d i-vectors of dim %d to %s", n, ie.ivector_dim, args.scp)


if __name__ == "__main__":
    from lidtool.cli import module_entry
    module_entry(__name__)
