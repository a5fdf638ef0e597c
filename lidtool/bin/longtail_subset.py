"""Long-tailed subset of a data dir: N_c = N_0 * mu^c per language with imbalance factor beta."""
import json

from lidtool.data.longtail import longtail_subset


def add_arguments(p):
    p.add_argument("src")
    p.add_argument("dst")
    p.add_argument("--beta", type=float, default=40.0, help="imbalance factor max/min")
    p.add_argument("--order", default="", help="comma-separated languages, largest first")
    p.add_argument("--proportions", default="",
                   help="comma-separated amounts replacing the geometric profile, e.g. "
                        "58.0,25.7,14.0,7.8,2.6,1.4")
    p.add_argument("--by", choices=["utts", "hours"], default="utts")
    p.add_argument("--seed", type=int, default=0)


def main(args):
    kept = longtail_subset(
        args.src, args.dst, beta=args.beta,
        order=[x for x in args.order.split(",") if x] or None,
        proportions=[float(x) for x in args.proportions.split(",") if x] or None,
        by=args.by, seed=args.seed)
    print(json.dumps(kept, indent=1))


if __name__ == "__main__":
    from lidtool.cli import module_entry
    module_entry(__name__)
