"""Copy a data dir, optionally prefixing utterance (and recording) and speaker ids."""
from lidtool.data.ops import copy_data_dir


def add_arguments(p):
    p.add_argument("src")
    p.add_argument("dst")
    p.add_argument("--utt-prefix", default="")
    p.add_argument("--spk-prefix", default="")


def main(args):
    copy_data_dir(args.src, args.dst, utt_prefix=args.utt_prefix, spk_prefix=args.spk_prefix)


if __name__ == "__main__":
    from lidtool.cli import module_entry
    module_entry(__name__)
