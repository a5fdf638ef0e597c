"""Invert a utt2spk (or utt2lang) table read from a file or stdin; prints spk2utt (lang2utt)."""
import sys

from lidtool.data.tables import invert


def add_arguments(p):
    p.add_argument("table", nargs="?", default="-", help="utt2spk/utt2lang file, '-' = stdin")


def main(args):
    f = sys.stdin if args.table == "-" else open(args.table, encoding="utf-8")
    pairs = dict(line.split(maxsplit=1) for line in f if line.strip())
    for key, utts in invert({k: v.strip() for k, v in pairs.items()}).items():
        print(key, " ".join(utts))


if __name__ == "__main__":
    from lidtool.cli import module_entry
    module_entry(__name__)
