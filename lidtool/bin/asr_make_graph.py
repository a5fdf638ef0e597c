"""Build the phone-loop decoding graph (phone bigram -> G -> HCLG.fst).

Build the phone-loop decoding graph: phone bigram (ARPA, from training alignments)
-> G (kaldilm) -> context expansion + HMMs of the model -> HCLG.fst.

Usage: lidtool asr-make-graph data/lang exp/tri1/final.mdl exp/tri1/ali.scp exp/tri1/graph
"""
from __future__ import annotations

from lidtool.asr.model import AcousticModel
from lidtool.asr.phone_loop import make_phone_loop_graph
from lidtool.asr.pipeline import train_phone_sequences


def add_arguments(parser) -> None:
    parser.add_argument("--transition-scale", type=float, default=1.0)
    parser.add_argument("lang")
    parser.add_argument("model")
    parser.add_argument("ali", help="ali.scp of the training data (the LM's phone text)")
    parser.add_argument("dir", help="output graph dir")


def main(args) -> int:
    model = AcousticModel.load(args.model)
    graph = make_phone_loop_graph(model, args.lang, train_phone_sequences(args.ali, model),
                                  args.dir, transition_scale=args.transition_scale)
    print(f"{args.dir}/HCLG.fst: {graph.num_states} states")
    return 0


if __name__ == "__main__":
    from lidtool.cli import module_entry
    module_entry(__name__)
