"""Build a triphone decision tree and initial model from monophone alignments.

Build a triphone decision tree from monophone alignments (tree stats, phone questions,
greedy likelihood splitting to --num-leaves) and the initial triphone model.

Usage: lidtool asr-build-tree [--num-leaves 1500] data/asr_train data/lang exp/mono exp/tri1
Writes exp/tri1/{tree.json, questions.txt, tree_log.json, 0.mdl}.
"""
from __future__ import annotations

from lidtool.asr.pipeline import build_tree_dir


def add_arguments(parser) -> None:
    parser.add_argument("--num-leaves", type=int, default=1500,
                        help="leaf (pdf) budget of the tree")
    parser.add_argument("--min-count", type=float, default=100.0,
                        help="fewest frames a leaf may hold")
    parser.add_argument("--min-gain", type=float, default=0.0,
                        help="smallest log-likelihood gain worth a split")
    parser.add_argument("data")
    parser.add_argument("lang")
    parser.add_argument("mono_dir", help="monophone dir (final.mdl, ali.scp)")
    parser.add_argument("dir", help="output triphone dir")


def main(args) -> int:
    model = build_tree_dir(args.data, args.lang, args.mono_dir, args.dir,
                           num_leaves=args.num_leaves, min_count=args.min_count,
                           min_gain=args.min_gain)
    print(f"{args.dir}/0.mdl: tree with {model.num_pdfs} leaves")
    return 0


if __name__ == "__main__":
    from lidtool.cli import module_entry
    module_entry(__name__)
