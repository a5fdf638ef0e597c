"""Train a monophone GMM-HMM (flat start, equal alignment, Viterbi EM, mixing up).

Usage: lidtool asr-train-mono [options] data/asr_train data/lang exp/mono
Writes exp/mono/{final.mdl, ali.scp, ali_phone.scp, phone_seq, pdf_info.txt, history.json}.
"""
from __future__ import annotations

from lidtool.asr.model import TOPOLOGIES
from lidtool.asr.pipeline import train_mono_dir
from lidtool.asr.cli_options import MONO_REALIGN_STR, add_train_options, train_options


def add_arguments(parser) -> None:
    add_train_options(parser, num_iters=40, total_gauss=1000, max_iter_inc=30,
                      realign=MONO_REALIGN_STR)
    parser.add_argument("--delta-order", type=int, default=2, help="0: no deltas")
    parser.add_argument("--no-cmn", action="store_true", help="skip per-utterance CMN")
    parser.add_argument("--topology", choices=TOPOLOGIES, default="3state",
                        help="3state: Kaldi's left-to-right HMM, >= 3 frames a phone; "
                             "skip: states may be skipped, >= 2 frames a phone")
    parser.add_argument("--num-states", type=int, default=3, help="HMM states per phone")
    parser.add_argument("data", help="data dir with text and feats.scp")
    parser.add_argument("lang", help="lang dir from asr-prepare-lang")
    parser.add_argument("dir", help="output experiment dir")


def main(args) -> int:
    model = train_mono_dir(args.data, args.lang, args.dir, train_options(args),
                           delta_order=args.delta_order, cmn=not args.no_cmn,
                           topology=args.topology, num_states=args.num_states)
    print(f"{args.dir}/final.mdl: {model.num_pdfs} pdfs, {model.gmm.total_gauss()} Gaussians")
    return 0


if __name__ == "__main__":
    from lidtool.cli import module_entry
    module_entry(__name__)
