"""Forced-align a data dir with transcripts into per-frame pdf-ids and phones.

Forced-align a data dir with transcripts: one pdf-id per frame (ali.scp), phone ids
per frame (ali_phone.scp) and phone sequences (phone_seq).

Usage: lidtool asr-align [--beam 10] [--retry-beam 40] data data/lang exp/tri1/final.mdl exp/tri1_ali
"""
from __future__ import annotations

from lidtool.asr.pipeline import align_dir


def add_arguments(parser) -> None:
    parser.add_argument("--acoustic-scale", type=float, default=0.1)
    parser.add_argument("--beam", type=float, default=10.0)
    parser.add_argument("--retry-beam", type=float, default=40.0)
    parser.add_argument("data")
    parser.add_argument("lang")
    parser.add_argument("model")
    parser.add_argument("dir")


def main(args) -> int:
    r = align_dir(args.data, args.lang, args.model, args.dir,
                  acoustic_scale=args.acoustic_scale, beam=args.beam,
                  retry_beam=args.retry_beam)
    print(f"aligned {r['utts']} utterances ({r['failed']} failed)")
    return 0


if __name__ == "__main__":
    from lidtool.cli import module_entry
    module_entry(__name__)
