"""Sum i-vector statistics of parallel jobs; write the EM-updated extractor (min-divergence)."""
import logging

from lidtool.ivector.config import add_config_args, config_from_args
from lidtool.ivector.extractor import load_extractor, sum_ivector_stats

log = logging.getLogger(__name__)


def add_arguments(p):
    add_config_args(p)
    p.add_argument("--extractor", required=True, help="extractor the statistics were made with")
    p.add_argument("--out", required=True, help="updated extractor")
    p.add_argument("stats", nargs="+", help="statistics files of the parallel jobs")


def main(args):
    cfg = config_from_args(args)
    ie = load_extractor(args.extractor)
    st = sum_ivector_stats(args.stats)
    log.info("%d utterances from %d jobs, objective %.5f per frame", st.num_utts,
             len(args.stats), st.objective_per_frame)
    ie.update(st, min_divergence=cfg.extractor.min_divergence).save(args.out)


if __name__ == "__main__":
    from lidtool.cli import module_entry
    module_entry(__name__)
