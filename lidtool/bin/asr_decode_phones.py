"""Phone-loop decode a data dir into per-frame pdf-id labels (ali.scp).

Phone-loop decode a data dir (any language) into frame labels: ali.scp with one
pdf-id ("virtual phoneme") per feature frame, ali_phone.scp and phone_seq.

Usage: lidtool asr-decode-phones [--suffix .3] exp/tri1/final.mdl exp/tri1/graph/HCLG.fst data/train/split4/3 exp/labels
"""
from __future__ import annotations

from lidtool.asr.model import AcousticModel
from lidtool.asr.phone_loop import decode_data_dir, load_graph


def add_arguments(parser) -> None:
    parser.add_argument("--acoustic-scale", type=float, default=0.1)
    parser.add_argument("--beam", type=float, default=13.0)
    parser.add_argument("--max-active", type=int, default=7000)
    parser.add_argument("--suffix", default="",
                        help="output name suffix, e.g. .JOB for parallel jobs")
    parser.add_argument("model")
    parser.add_argument("graph")
    parser.add_argument("data")
    parser.add_argument("dir")


def main(args) -> int:
    r = decode_data_dir(AcousticModel.load(args.model), load_graph(args.graph), args.data,
                        args.dir, suffix=args.suffix, acoustic_scale=args.acoustic_scale,
                        beam=args.beam, max_active=args.max_active)
    print(f"decoded {r['utts']} utterances, {r['frames']} frames, {r['partial']} of them "
          "not reaching a final state")
    return 0


if __name__ == "__main__":
    from lidtool.cli import module_entry
    module_entry(__name__)
