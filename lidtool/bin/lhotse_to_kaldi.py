"""Write a Kaldi data dir from lhotse manifests (recordings + supervisions, or a CutSet)."""
from lhotse import CutSet, RecordingSet, SupervisionSet

from lidtool.data.lhotse_io import cuts_to_data_dir, manifests_to_data_dir


def add_arguments(p):
    p.add_argument("out_dir")
    p.add_argument("--recordings")
    p.add_argument("--supervisions")
    p.add_argument("--cuts")
    p.add_argument("--no-language", action="store_true",
                   help="allow supervisions without a language (no utt2lang)")


def main(args):
    kw = dict(require_language=not args.no_language)
    if args.cuts:
        cuts_to_data_dir(CutSet.from_file(args.cuts), args.out_dir, **kw)
    elif args.recordings and args.supervisions:
        manifests_to_data_dir(RecordingSet.from_file(args.recordings),
                              SupervisionSet.from_file(args.supervisions), args.out_dir, **kw)
    else:
        raise SystemExit("give --cuts, or --recordings and --supervisions")


if __name__ == "__main__":
    from lidtool.cli import module_entry
    module_entry(__name__)
