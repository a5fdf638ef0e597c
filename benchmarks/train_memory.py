"""Peak memory of the training data path: preloaded vs streamed features, vs archive size.

    .venv/bin/python benchmarks/train_memory.py [--sizes-mb 50 200] [--dim 40]
        [--steps 30] [--batch-size 64] [--cache-mb 0 32 256] [--work /tmp/lidtool_mem]
        [--out benchmarks/train_memory.md]

For each size, a synthetic data dir is written once with kaldiio (feats.ark/scp of about
that many MB of float32 [T, dim] matrices, T in 200..800, vad.scp with 10 % silence,
utt2num_frames, utt2lang over 4 languages). Then, each in a fresh process,
`load_train_data` runs with data.preload=true and with data.preload=false for every
--cache-mb, and --steps batches of --batch-size chunks (200..400 frames, the random sampler
as in training) are drawn through the DataLoader. Reported: the process's peak resident
memory (ru_maxrss), the same less the resident memory after the imports (what the data
costs), the start-up time of load_train_data and the time per batch. Prints a Markdown
table (and writes it to --out if given). Not a test: numbers depend on the machine and its
load; see benchmarks/README_train.md.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def make_corpus(root: Path, size_mb: float, dim: int, seed: int = 0) -> Path:
    """Write (once) a data dir whose feats.ark holds about `size_mb` MB."""
    import kaldiio
    d = root / f"feats_{int(size_mb)}mb_d{dim}"
    if (d / ".done").is_file():
        return d
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    budget = size_mb * 2 ** 20
    total, i, u2l, u2n = 0, 0, {}, {}
    with kaldiio.WriteHelper(f"ark,scp:{d}/feats.ark,{d}/feats.scp") as wf, \
            kaldiio.WriteHelper(f"ark,scp:{d}/vad.ark,{d}/vad.scp") as wv:
        while total < budget:
            utt = f"u{i:07d}"
            t = int(rng.integers(200, 801))
            lang = i % 4
            x = rng.standard_normal((t, dim), dtype=np.float32)
            x[:, lang] *= 3.0
            vad = np.ones(t, np.float32)
            vad[: t // 10] = 0.0
            wf(utt, x)
            wv(utt, vad)
            u2l[utt], u2n[utt] = f"lang{lang}", t
            total += x.nbytes
            i += 1
    (d / "utt2lang").write_text("".join(f"{u} {v}\n" for u, v in u2l.items()))
    (d / "utt2spk").write_text("".join(f"{u} {u}\n" for u in u2l))
    (d / "utt2num_frames").write_text("".join(f"{u} {v}\n" for u, v in u2n.items()))
    (d / ".done").touch()
    return d


def child(args) -> None:
    """One measurement in this (fresh) process; prints a JSON line."""
    import torch

    from lidtool.train.data import ChunkDataset, load_train_data
    from lidtool.train.samplers import ChunkBatchSampler
    torch.set_num_threads(1)
    base = rss_mb()
    t0 = time.perf_counter()
    data = load_train_data(args.child, cmn_window=300, min_frames=50,
                           preload=args.mode == "preload", cache_mb=args.cache)
    t_load = time.perf_counter() - t0
    sampler = ChunkBatchSampler("random", data.labels, args.batch_size, min_chunk=200,
                                max_chunk=400, seed=1, num_classes=len(data.classes))
    loader = iter(torch.utils.data.DataLoader(ChunkDataset(data),
                                              batch_sampler=sampler.batches(0)))
    t0 = time.perf_counter()
    frames = 0
    for _ in range(args.steps):
        x, _ = next(loader)[:2]
        frames += x.shape[0] * x.shape[1]
    t_batch = (time.perf_counter() - t0) / args.steps
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    cache = data.cache
    print(json.dumps({"base": base, "peak": peak, "load_s": t_load, "batch_s": t_batch,
                      "utts": len(data), "hits": None if cache is None else cache.hits,
                      "misses": None if cache is None else cache.misses}))


def measure(d: Path, mode: str, cache: float, args) -> dict:
    cmd = [sys.executable, __file__, "--child", str(d), "--mode", mode, "--cache", str(cache),
           "--steps", str(args.steps), "--batch-size", str(args.batch_size)]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes-mb", type=float, nargs="+", default=[50, 200])
    p.add_argument("--dim", type=int, default=40)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--cache-mb", type=float, nargs="+", default=[0, 32, 256])
    p.add_argument("--work", default="/tmp/lidtool_mem")
    p.add_argument("--out", default=None)
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--mode", default="preload", help=argparse.SUPPRESS)
    p.add_argument("--cache", type=float, default=256, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args)
        return
    rows = ["| archive (MB) | utts | data.preload | cache_mb | peak RSS (MB) | "
            "peak - RSS after imports (MB) | start-up (s) | s/batch | cache hits/misses |",
            "|---:|---:|---|---:|---:|---:|---:|---:|---|"]
    for size in args.sizes_mb:
        d = make_corpus(Path(args.work), size, args.dim)
        ark_mb = (d / "feats.ark").stat().st_size / 2 ** 20
        runs = [("preload", 0.0)] + [("stream", c) for c in args.cache_mb]
        for mode, cache in runs:
            r = measure(d, mode, cache, args)
            hits = "-" if r["hits"] is None else f"{r['hits']}/{r['misses']}"
            rows.append(f"| {ark_mb:.0f} | {r['utts']} | {str(mode == 'preload').lower()} | "
                        f"{'-' if mode == 'preload' else f'{cache:g}'} | {r['peak']:.0f} | "
                        f"{r['peak'] - r['base']:.0f} | {r['load_s']:.1f} | "
                        f"{r['batch_s']:.3f} | {hits} |")
            print(rows[-1], flush=True)
    head = (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"dim {args.dim}, {args.steps} batches of {args.batch_size} chunks (200..400 "
            "frames), random sampler, 1 torch thread")
    text = head + "\n\n" + "\n".join(rows) + "\n"
    print("\n" + text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
