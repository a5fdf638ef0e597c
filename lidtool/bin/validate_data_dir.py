"""Check a Kaldi data dir (sorted, consistent tables; utt2lang/lang2utt too); exit 1 naming file, line and fix."""
from lidtool.data.datadir import validate_data_dir


def add_arguments(p):
    p.add_argument("data_dir")
    p.add_argument("--need-feats", action="store_true", help="feats.scp must exist")
    p.add_argument("--need-lang", action="store_true", help="utt2lang must exist")
    p.add_argument("--need-text", action="store_true", help="text must exist")
    p.add_argument("--no-wav", action="store_true", help="wav.scp is not required")


def main(args):
    d = validate_data_dir(args.data_dir, need_feats=args.need_feats, need_lang=args.need_lang,
                          need_wav=False if args.no_wav else None, need_text=args.need_text)
    print(f"{args.data_dir}: OK ({len(d.utts)} utterances)")


if __name__ == "__main__":
    from lidtool.cli import module_entry
    module_entry(__name__)
