"""Speed- or volume-perturb a data dir, Kaldi style (sp0.9- ids; sox --vol gains).

    lidtool perturb-data-dir --speed 0.9 SRC DST          # one factor: ids sp0.9-<utt>
    lidtool perturb-data-dir --speed 0.9,1.0,1.1 SRC DST  # combined; 1.0 = the originals
    lidtool perturb-data-dir --volume [--scale-low 0.125 --scale-high 2 --seed 0] DIR  # in place
"""
from __future__ import annotations

from lidtool.errors import ConfigError
from lidtool.features.perturb import speed_perturb_data_dir, volume_perturb_data_dir


def add_arguments(p):
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--speed", default=None,
                      help="speed factor(s), comma separated (e.g. 0.9 or 0.9,1.0,1.1)")
    mode.add_argument("--volume", action="store_true",
                      help="random volume per recording, in place (skipped if already done)")
    p.add_argument("--scale-low", type=float, default=0.125, help="lowest volume gain")
    p.add_argument("--scale-high", type=float, default=2.0, help="highest volume gain")
    p.add_argument("--seed", type=int, default=0, help="random seed for the gains")
    p.add_argument("src", help="source data dir (the dir itself with --volume)")
    p.add_argument("dst", nargs="?", default=None, help="new data dir (speed only)")


def main(args):
    if args.volume:
        if args.dst is not None:
            raise ConfigError("perturb-data-dir", "--volume works in place: give one dir")
        volume_perturb_data_dir(args.src, args.scale_low, args.scale_high, args.seed)
        return 0
    if args.dst is None:
        raise ConfigError("perturb-data-dir", "--speed needs SRC and DST")
    try:
        factors = [float(f) for f in args.speed.replace(" ", ",").split(",") if f]
    except ValueError:
        raise ConfigError("perturb-data-dir", f"bad --speed '{args.speed}'",
                          fix="e.g. --speed 0.9,1.0,1.1") from None
    try:
        speed_perturb_data_dir(args.src, args.dst, factors)
    except ValueError as err:
        raise ConfigError("perturb-data-dir", str(err)) from None
    return 0


if __name__ == "__main__":
    from lidtool.cli import module_entry
    module_entry(__name__)
