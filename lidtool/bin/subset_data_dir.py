"""Copy part of a data dir: a list of utts or speakers, first/last N, N at random, or the N shortest."""
from lidtool.data.datadir import subset_data_dir
from lidtool.data.tables import read_table


def add_arguments(p):
    p.add_argument("src")
    p.add_argument("dst")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--utt-list", help="file whose first column lists the utterances to keep")
    g.add_argument("--spk-list", help="file whose first column lists the speakers to keep")
    g.add_argument("--first", type=int)
    g.add_argument("--last", type=int)
    g.add_argument("--random", type=int, help="N utterances at random (see --seed)")
    g.add_argument("--shortest", type=int, help="the N shortest utterances (needs utt2dur)")
    p.add_argument("--seed", type=int, default=0)


def _keys(path):
    return list(read_table(path, require_sorted=False, allow_empty_value=True))


def main(args):
    subset_data_dir(args.src, args.dst,
                    utts=_keys(args.utt_list) if args.utt_list else None,
                    spks=_keys(args.spk_list) if args.spk_list else None,
                    first=args.first, last=args.last, random_n=args.random,
                    shortest=args.shortest, seed=args.seed)


if __name__ == "__main__":
    from lidtool.cli import module_entry
    module_entry(__name__)
