"""Combine data dirs into one (ids must be unique across sources)."""
from lidtool.data.ops import combine_data_dirs


def add_arguments(p):
    p.add_argument("dst")
    p.add_argument("srcs", nargs="+")


def main(args):
    combine_data_dirs(args.dst, args.srcs)


if __name__ == "__main__":
    from lidtool.cli import module_entry
    module_entry(__name__)
