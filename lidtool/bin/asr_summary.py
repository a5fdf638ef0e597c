"""Collect a phone-recogniser run's measurements into one JSON file.

Collect the measurements of a phone-recogniser run (lidtool.asr.report): pdfs, Gaussians,
topology and alignment failures of mono/tri1, held-out frame accuracy and PER, label
statistics of the decoded data and the wall time of each step.

Usage: lidtool asr-summary [--labels exp/phone_labels/train_olr] [--out exp/asr/summary.json] exp/asr
"""
from __future__ import annotations


from lidtool.asr.report import summarize
from lidtool.fileio import emit_json


def add_arguments(parser) -> None:
    parser.add_argument("--labels", default=None, help="a phone-loop labels dir")
    parser.add_argument("--out", default=None, help="write the summary here")
    parser.add_argument("asr_dir", help="exp/asr (holds mono/, tri1/, eval_*_dev.json)")


def main(args) -> int:
    emit_json(summarize(args.asr_dir, args.labels), args.out)
    return 0


if __name__ == "__main__":
    from lidtool.cli import module_entry
    module_entry(__name__)
