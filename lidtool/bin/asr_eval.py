"""Score alignments (frame accuracy) and phone-loop output (PER) against true timings.

Score the recogniser against true phone timings: frame accuracy of an alignment and
phone error rate of phone-loop output (silence excluded); prints and writes JSON.

Usage: lidtool asr-eval --timings timings.ctm|supervisions.jsonl.gz [--ali ali.scp] [--phone-seq phone_seq] [--out result.json] model
"""
from __future__ import annotations


from lidtool.asr.pipeline import evaluate_dir
from lidtool.errors import ConfigError
from lidtool.fileio import emit_json


def add_arguments(parser) -> None:
    parser.add_argument("--timings", required=True,
                        help="CTM or lhotse manifest with alignment['phone']")
    parser.add_argument("--ali", default=None, help="ali.scp to score by frame accuracy")
    parser.add_argument("--phone-seq", default=None, help="phone_seq to score by PER")
    parser.add_argument("--frame-shift", type=float, default=0.01)
    parser.add_argument("--frame-length", type=float, default=0.025)
    parser.add_argument("--out", default=None, help="write the result here as JSON")
    parser.add_argument("model")


def main(args) -> int:
    if args.ali is None and args.phone_seq is None:
        raise ConfigError("<command line>", "give --ali and/or --phone-seq")
    r = evaluate_dir(args.model, args.timings, ali_scp=args.ali, phone_seq=args.phone_seq,
                     frame_shift=args.frame_shift, frame_length=args.frame_length)
    emit_json(r, args.out)
    return 0


if __name__ == "__main__":
    from lidtool.cli import module_entry
    module_entry(__name__)
