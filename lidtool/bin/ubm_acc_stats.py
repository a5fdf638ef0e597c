"""Accumulate UBM EM statistics over one data dir (one parallel job) into a stats file."""
import logging

from lidtool.ivector.config import add_config_args, config_from_args
from lidtool.ivector.feats import chunk_utterances, default_chunk_frames, iter_utterance_features
from lidtool.ivector.gmm import load_gmm
from lidtool.ivector.ubm import accumulate

log = logging.getLogger(__name__)


def add_arguments(p):
    add_config_args(p)
    p.add_argument("--model", required=True, help="current UBM (.dubm diagonal or .fubm full)")
    p.add_argument("--data", required=True, help="data dir (usually one split) with feats.scp")
    p.add_argument("--out", required=True, help="statistics file to write")
    p.add_argument("--full", action="store_true",
                   help="full-covariance statistics even for a diagonal model (diag -> full)")


def main(args):
    cfg = config_from_args(args)
    gmm = load_gmm(args.model)
    utts = iter_utterance_features(args.data, dim=gmm.dim, cmn_window=cfg.features.cmn_window,
                                   use_vad=cfg.features.use_vad,
                                   progress="ubm stats")
    chunks = chunk_utterances(utts, default_chunk_frames(gmm.num_comps), dim=gmm.dim,
                              where=f"{args.data}/feats.scp")
    st = accumulate(gmm, chunks, full_stats=args.full, num_gselect=cfg.ubm.num_gselect)
    log.info("%d frames, average log-likelihood %.5f", st.frames, st.avg_loglike)
    st.save(args.out)


if __name__ == "__main__":
    from lidtool.cli import module_entry
    module_entry(__name__)
