"""Merge per-job frame labels and check them against the data dir's frame counts.

Merge per-job decoding outputs (ali.N.scp, ali_phone.N.scp, phone_seq.N) and check
that every utterance of the data dir has exactly one label per feature frame.

Usage: lidtool asr-merge-ali --nj 4 data/train exp/labels
"""
from __future__ import annotations

from pathlib import Path

from lidtool.asr.labels import merge_labels, merge_text
from lidtool.errors import ConfigError


def add_arguments(parser) -> None:
    parser.add_argument("--nj", type=int, required=True)
    parser.add_argument("data")
    parser.add_argument("dir")


def main(args) -> int:
    d = Path(args.dir)
    if args.nj < 1:
        raise ConfigError("--nj", "must be at least 1")
    for name in ("ali", "ali_phone"):
        merge_labels(d, name, [d / f"{name}.{j}.scp" for j in range(1, args.nj + 1)],
                     args.data)
    merge_text(d / "phone_seq", [d / f"phone_seq.{j}" for j in range(1, args.nj + 1)])
    print(f"{d}/ali.scp: labels checked against {args.data}")
    return 0


if __name__ == "__main__":
    from lidtool.cli import module_entry
    module_entry(__name__)
