"""Audio-to-features speed and output identity: compute_features (mfcc_pitch, mfcc, fbank)
and reading a segments data dir (many segments of one long recording).

    PYTHONPATH=<tree> .venv/bin/python benchmarks/audio_speed.py [--seconds 60] [--segments 40]

Run it with PYTHONPATH=/work/main (before) and with the new tree (after): the printed sha1
of every output must be the same in both runs (the speed fixes keep outputs bit-identical).
Best of --repeats runs. Results and notes: README_startup.md.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from lidtool.data.datadir import iter_utterance_audio
from lidtool.features.extract import FeatureConfig, compute_features

SR = 16000


def best(fn, repeats: int):
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def digest(arrays) -> str:
    h = hashlib.sha1()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:12]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--segments", type=int, default=40)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    n = int(args.seconds * SR)
    t = np.arange(n) / SR
    x = (0.3 * np.sin(2 * np.pi * (200 + 100 * np.sin(t)) * t)
         + 0.02 * rng.standard_normal(n)).astype(np.float32)
    print(f"tree: {os.environ.get('PYTHONPATH', '(installed)')}")
    for kind in ("mfcc_pitch", "mfcc", "fbank"):
        cfg = FeatureConfig.from_dict({"type": kind})
        sec, feats = best(lambda: compute_features(x, SR, cfg), args.repeats)
        print(f"  compute_features {kind:10s} {args.seconds:.0f} s audio: {sec:6.3f} s "
              f"({args.seconds / sec:6.0f}x real time)  sha1 {digest([feats])}")
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        sf.write(d / "rec.flac", x, SR, subtype="PCM_16")
        (d / "wav.scp").write_text(f"rec {d / 'rec.flac'}\n")
        step = args.seconds / args.segments
        utts = [f"rec-{i:04d}" for i in range(args.segments)]
        (d / "segments").write_text("".join(
            f"{u} rec {i * step:.2f} {(i + 1) * step:.2f}\n" for i, u in enumerate(utts)))
        (d / "utt2spk").write_text("".join(f"{u} rec\n" for u in utts))
        sec, segs = best(lambda: [s for _, s, _ in iter_utterance_audio(d)], args.repeats)
        print(f"  read {args.segments} segments of one {args.seconds:.0f} s flac: {sec:6.3f} s"
              f"  sha1 {digest(segs)}")


if __name__ == "__main__":
    main()
