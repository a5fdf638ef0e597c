"""Identify the language of audio files with a trained model: top languages + probabilities.

    lidtool identify --model exp/<sys>/final.pt [--top 3] [--unknown-threshold 0.5] a.wav ...
    lidtool identify --model exp/<sys>/final.pt --data-dir data/test     (wav.scp [+ segments])

Features are computed from the raw audio exactly as in training (the feature, VAD and CMN
options saved in final.pt); other sample rates are resampled to the model's. One line per
file on stdout: `<file> <lang1> <p1> <lang2> <p2> ...`, best first (posterior
probabilities). With --unknown-threshold T, a file whose top posterior is below T prints
`<file> unknown <lang1> <p1> ...` (open-set rejection).

Warnings go to stderr: silence, too little speech, a weakly supported top language. A file
that cannot be read is reported (`ERROR: ...`) and the next one is processed; the exit
status is 1 when any file failed. `lidtool model-info final.pt` shows what a model knows.
"""
from __future__ import annotations

import logging
import sys

from lidtool.threads import add_num_threads_argument

log = logging.getLogger("lidtool.identify")


def add_arguments(p):
    p.add_argument("--model", required=True, help="exp/<sys>/final.pt")
    p.add_argument("--top", type=int, default=3, help="how many languages to print per file")
    p.add_argument("--unknown-threshold", type=float, default=None, metavar="P",
                   help="print 'unknown' when the top posterior is below P (default: never)")
    p.add_argument("--data-dir", default=None,
                   help="identify every utterance of this Kaldi data dir (wav.scp [+ segments]) "
                   "instead of / besides the audio files")
    p.add_argument("--device", default="auto", help="auto (cuda if available), cpu, cuda[:N]")
    add_num_threads_argument(p)
    p.add_argument("audio", nargs="*", help="audio files (anything soundfile reads)")


def format_line(name: str, result, top: int) -> str:
    ranked = result.ranked[: max(1, top)]
    head = " unknown" if result.language == "unknown" else ""
    return name + head + "".join(f" {lang} {p:.4f}" for lang, p in ranked)


def main(args):
    from lidtool.errors import ConfigError
    from lidtool.inference.identifier import Identifier
    if not args.audio and not args.data_dir:
        raise ConfigError("identify", "give audio files or --data-dir")
    ident = Identifier.from_pretrained(args.model, args.device, num_threads=None,
                                       unknown_threshold=args.unknown_threshold)
    streams = []
    if args.audio:
        streams.append(ident.identify_all(args.audio, progress=len(args.audio) > 20))
    if args.data_dir:
        streams.append(ident.identify_data_dir(args.data_dir))
    total = failed = 0
    for stream in streams:
        for name, result in stream:
            total += 1
            if isinstance(result, Exception):
                failed += 1
                print(f"ERROR: {result}", file=sys.stderr, flush=True)
                continue
            for warning in result.warnings:
                print(f"WARNING: {name}: {warning}", file=sys.stderr, flush=True)
            print(format_line(name, result, args.top), flush=True)
    if failed:
        print(f"ERROR: {failed} of {total} inputs failed (see the errors above)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    from lidtool.cli import module_entry
    module_entry(__name__)
