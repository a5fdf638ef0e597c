"""Check a Kaldi data dir (sorted, consistent tables; utt2lang/lang2utt too); exit 1 naming file, line and fix.

With --check-readable all|N it also reads every entry (or N at random) of feats.scp and
vad.scp: readable, finite, one feature dimension, frame counts agreeing with utt2num_frames
and VAD lengths with the features.
"""
import argparse

from lidtool.data.datadir import validate_data_dir


def readable_count(value: str):
    """`all` -> None (every entry), else a positive sample size."""
    if value == "all":
        return None
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected 'all' or a positive integer, got '{value}'")
    return n


def add_arguments(p):
    p.add_argument("data_dir")
    p.add_argument("--need-feats", action="store_true", help="feats.scp must exist")
    p.add_argument("--need-lang", action="store_true", help="utt2lang must exist")
    p.add_argument("--need-text", action="store_true", help="text must exist")
    p.add_argument("--no-wav", action="store_true", help="wav.scp is not required")
    p.add_argument("--check-readable", type=readable_count, default=False, metavar="all|N",
                   help="read all (or N random) entries of feats.scp / vad.scp and check "
                        "their dimensions and frame counts")
    p.add_argument("--seed", type=int, default=0, help="seed of the --check-readable sample")


def main(args):
    d = validate_data_dir(args.data_dir, need_feats=args.need_feats, need_lang=args.need_lang,
                          need_wav=False if args.no_wav else None, need_text=args.need_text)
    read = ""
    if args.check_readable is not False:
        from lidtool.features.readable import check_readable
        stats = check_readable(d, args.check_readable, seed=args.seed)
        read = f"; {stats['checked']} read" + (f", dim {stats['dim']}" if stats["dim"] else "")
    print(f"{args.data_dir}: OK ({len(d.utts)} utterances{read})")


if __name__ == "__main__":
    from lidtool.cli import module_entry
    module_entry(__name__)
