"""Sum the UBM statistics of parallel jobs and write the EM-updated model."""
import logging

from lidtool.ivector.config import add_config_args, config_from_args
from lidtool.ivector.gmm import load_gmm
from lidtool.ivector.ubm import sum_stats, update

log = logging.getLogger(__name__)


def add_arguments(p):
    add_config_args(p)
    p.add_argument("--model", required=True, help="the model the statistics were made with")
    p.add_argument("--out", required=True, help="updated model (full if the stats are full)")
    p.add_argument("stats", nargs="+", help="statistics files of the parallel jobs")


def main(args):
    cfg = config_from_args(args)
    old = load_gmm(args.model)
    st = sum_stats(args.stats)
    log.info("%d frames from %d jobs, average log-likelihood %.5f (%s stats)", st.frames,
             len(args.stats), st.avg_loglike, "full" if st.full else "diag")
    update(old, st, var_floor=cfg.ubm.var_floor).save(args.out)


if __name__ == "__main__":
    from lidtool.cli import module_entry
    module_entry(__name__)
