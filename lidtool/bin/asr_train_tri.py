"""Train the triphone GMM-HMM of a tree dir (EM, mixing up, realignment).

Train the triphone GMM-HMM of a tree dir (alignments converted from the monophone
system, Viterbi EM, mixing up, realignment).

Usage: lidtool asr-train-tri [options] data/asr_train data/lang exp/mono exp/tri1
Needs exp/tri1/0.mdl from asr-build-tree; writes exp/tri1/{final.mdl, ali.scp, ...}.
"""
from __future__ import annotations

from lidtool.asr.pipeline import train_tri_dir
from lidtool.asr.cli_options import add_train_options, train_options


def add_arguments(parser) -> None:
    add_train_options(parser, num_iters=35, total_gauss=10000, max_iter_inc=25,
                      realign="10 20 30")
    parser.add_argument("data")
    parser.add_argument("lang")
    parser.add_argument("mono_dir")
    parser.add_argument("dir")


def main(args) -> int:
    model = train_tri_dir(args.data, args.lang, args.mono_dir, args.dir, train_options(args))
    print(f"{args.dir}/final.mdl: {model.num_pdfs} pdfs, {model.gmm.total_gauss()} Gaussians")
    return 0


if __name__ == "__main__":
    from lidtool.cli import module_entry
    module_entry(__name__)
