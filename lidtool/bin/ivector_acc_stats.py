"""Accumulate i-vector extractor EM statistics over one data dir (one parallel job)."""
import logging

from lidtool.ivector.config import add_config_args, config_from_args
from lidtool.ivector.extractor import load_extractor
from lidtool.ivector.feats import (chunk_utterances, default_chunk_frames, default_max_utts,
                                   iter_utterance_features)

log = logging.getLogger(__name__)


def add_arguments(p):
    add_config_args(p)
    p.add_argument("--extractor", required=True, help="current extractor (N.ie)")
    p.add_argument("--data", required=True, help="data dir (usually one split) with feats.scp")
    p.add_argument("--out", required=True, help="statistics file to write")


def main(args):
    cfg = config_from_args(args)
    ie = load_extractor(args.extractor)
    utts = iter_utterance_features(args.data, dim=ie.dim, cmn_window=cfg.features.cmn_window,
                                   use_vad=cfg.features.use_vad,
                                   progress="ivector stats")
    chunks = chunk_utterances(utts, default_chunk_frames(ie.ubm.num_comps), dim=ie.dim,
                              where=f"{args.data}/feats.scp",
                              max_utts=default_max_utts(ie.ubm.num_comps, ie.dim, ie.ivector_dim))
    st = ie.accumulate(chunks)
    log.info("%d utterances, %.0f frames, objective %.5f per frame", st.num_utts, st.frames,
             st.objective_per_frame)
    st.save(args.out)


if __name__ == "__main__":
    from lidtool.cli import module_entry
    module_entry(__name__)
