"""Corpus statistics: hours and utterances per language and set, duration histogram PNG.

Reads utt2lang and utt2dur of each data dir; writes OUT/stats.md (markdown table) and
OUT/durations.png, and prints the table.

Usage: lidtool corpus-stats --out exp/corpus_stats data/train_lt data/test_3s ...
"""
from __future__ import annotations

from lidtool.corpora.synth.stats import corpus_stats


def add_arguments(parser) -> None:
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("data_dirs", nargs="+", help="Kaldi data dirs with utt2lang, utt2dur")


def main(args) -> int:
    md, png = corpus_stats(args.data_dirs, args.out)
    print(md.read_text(encoding="utf-8"), end="")
    print(f"histogram: {png}")
    return 0


if __name__ == "__main__":
    from lidtool.cli import module_entry
    module_entry(__name__)
