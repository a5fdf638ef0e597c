"""Split a data dir into DATA/splitN/{1..N} for N parallel jobs (reused while up to date)."""
from lidtool.data.datadir import split_data_dir


def add_arguments(p):
    p.add_argument("data_dir")
    p.add_argument("nj", type=int)
    p.add_argument("--per-spk", action="store_true", help="keep each speaker in one part")


def main(args):
    for part in split_data_dir(args.data_dir, args.nj, per_spk=args.per_spk):
        print(part)


if __name__ == "__main__":
    from lidtool.cli import module_entry
    module_entry(__name__)
