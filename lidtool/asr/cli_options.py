"""Command-line options shared by the asr-train-* commands (lidtool/bin/asr_train_*.py)."""
from __future__ import annotations

from lidtool.asr.train import MONO_REALIGN, TrainOptions
from lidtool.errors import ConfigError


def add_train_options(parser, *, num_iters: int, total_gauss: int, max_iter_inc: int,
                      realign: str) -> None:
    g = parser.add_argument_group("training")
    g.add_argument("--num-iters", type=int, default=num_iters)
    g.add_argument("--realign-iters", default=realign,
                   help="space/comma separated iterations at which to realign")
    g.add_argument("--total-gauss", type=int, default=total_gauss,
                   help="target number of Gaussians after mixing up")
    g.add_argument("--max-iter-inc", type=int, default=max_iter_inc,
                   help="last iteration that adds Gaussians")
    g.add_argument("--acoustic-scale", type=float, default=0.1)
    g.add_argument("--beam", type=float, default=10.0)
    g.add_argument("--retry-beam", type=float, default=40.0)
    g.add_argument("--var-floor-scale", type=float, default=0.01,
                   help="variance floor as a fraction of the global variance")
    g.add_argument("--seed", type=int, default=0)


def train_options(args) -> TrainOptions:
    try:
        realign = tuple(int(x) for x in args.realign_iters.replace(",", " ").split())
    except ValueError:
        raise ConfigError("--realign-iters", f"not a list of integers: {args.realign_iters!r}")
    if args.num_iters < 1:
        raise ConfigError("--num-iters", "must be at least 1")
    return TrainOptions(num_iters=args.num_iters, realign_iters=realign,
                        total_gauss=args.total_gauss, max_iter_inc=args.max_iter_inc,
                        acoustic_scale=args.acoustic_scale, beam=args.beam,
                        retry_beam=args.retry_beam, var_floor_scale=args.var_floor_scale,
                        seed=args.seed)


MONO_REALIGN_STR = " ".join(str(i) for i in MONO_REALIGN)
