"""Summarise frame labels (ali.scp): distinct labels, most frequent share, entropy.

Summarise how the frame labels of an ali.scp (pdf-ids or phone ids) are spread: how many
distinct labels occur, the most frequent one and its share of the frames, the entropy and
perplexity; prints JSON and writes it with --out.

Usage: lidtool asr-label-stats [--num-classes N] [--out stats.json] exp/labels/ali.scp
"""
from __future__ import annotations


from lidtool.asr.labels import label_stats
from lidtool.fileio import emit_json


def add_arguments(parser) -> None:
    parser.add_argument("--num-classes", type=int, default=None,
                        help="how many labels exist (e.g. the model's num_pdfs)")
    parser.add_argument("--out", default=None, help="write the result here as JSON")
    parser.add_argument("ali", help="ali.scp (one int label per frame)")


def main(args) -> int:
    r = label_stats(args.ali, args.num_classes)
    emit_json(r, args.out)
    return 0


if __name__ == "__main__":
    from lidtool.cli import module_entry
    module_entry(__name__)
