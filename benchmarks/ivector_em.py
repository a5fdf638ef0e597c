"""Seconds per EM iteration of the GMM-UBM (diagonal, full with Gaussian selection) and of
the i-vector extractor (T matrix), and peak memory, as frames / components / dims grow.

    .venv/bin/python benchmarks/ivector_em.py                  # default grid, markdown table
    .venv/bin/python benchmarks/ivector_em.py --frames 100000 --comps 256 512 --ivector-dims 100
    .venv/bin/python benchmarks/ivector_em.py --quick          # tiny grid (smoke run)

Each configuration runs in its own process so that the reported peak resident memory
(resource.getrusage ru_maxrss, which includes torch's allocations that tracemalloc cannot
see) belongs to it alone; "extra MB" is that peak minus the process's size after imports
and data generation. Timings are wall-clock seconds of one iteration (E-step over all
frames + M-step), one process, `--threads` torch threads.
"""
from __future__ import annotations

import argparse
import itertools
import json
import resource
import subprocess
import sys
import time


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_one(frames: int, comps: int, dim: int, ivector_dim: int, threads: int) -> dict:
    import torch
    from lidtool.ivector.extractor import IvectorExtractor
    from lidtool.ivector.feats import Chunk, chunk_utterances, default_chunk_frames
    from lidtool.ivector.gmm import DiagGmm
    from lidtool.ivector.ubm import accumulate, update

    torch.set_num_threads(threads)
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(comps, dim, generator=g, dtype=torch.float64) * 3
    x = centres[torch.randint(0, comps, (frames,), generator=g)] + \
        torch.randn(frames, dim, generator=g, dtype=torch.float64)
    step = default_chunk_frames(comps)
    chunks = [Chunk(x[i:i + step], torch.zeros(0, dtype=torch.int64), [])
              for i in range(0, frames, step)]
    diag = DiagGmm(torch.full((comps,), 1.0 / comps, dtype=torch.float64),
                   x[torch.randperm(frames, generator=g)[:comps]].clone(),
                   x.var(0).expand(comps, dim).clone())
    accumulate(diag, chunks[:1], full_stats=True)       # warm-up (first-call overheads)
    base = _rss_mb()
    out = {"frames": frames, "comps": comps, "dim": dim, "ivector_dim": ivector_dim,
           "threads": threads}

    t = time.perf_counter()
    diag = update(diag, accumulate(diag, chunks))
    out["ubm_diag_s"] = time.perf_counter() - t

    t = time.perf_counter()
    full = update(diag, accumulate(diag, chunks, full_stats=True, num_gselect=20))
    out["ubm_full_s"] = time.perf_counter() - t
    t = time.perf_counter()
    full = update(full, accumulate(full, chunks, num_gselect=20))
    out["ubm_full_gmm_s"] = time.perf_counter() - t

    utts = [(f"u{i:06d}", x[i:i + 300].numpy()) for i in range(0, frames, 300)]
    ie = IvectorExtractor.init_from_ubm(full, ivector_dim)
    t = time.perf_counter()
    ie = ie.update(ie.accumulate(chunk_utterances(utts, step)))
    out["tmatrix_s"] = time.perf_counter() - t
    out["peak_mb"] = _rss_mb()
    out["extra_mb"] = out["peak_mb"] - base
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, nargs="+", default=[50000, 200000])
    p.add_argument("--comps", type=int, nargs="+", default=[64, 256, 512])
    p.add_argument("--dims", type=int, nargs="+", default=[23, 40])
    p.add_argument("--ivector-dims", type=int, nargs="+", default=[100])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--quick", action="store_true", help="tiny grid, for a smoke run")
    p.add_argument("--one", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        print(json.dumps(run_one(*json.loads(args.one))))
        return 0
    if args.quick:
        args.frames, args.comps, args.dims, args.ivector_dims = [5000], [16, 32], [13], [20]
    print("| frames | comps | dim | ivec dim | UBM diag s/it | UBM full s/it (from diag) "
          "| UBM full s/it | T s/it | peak MB | extra MB |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for frames, comps, dim, idim in itertools.product(args.frames, args.comps, args.dims,
                                                      args.ivector_dims):
        spec = json.dumps([frames, comps, dim, idim, args.threads])
        res = subprocess.run([sys.executable, __file__, "--one", spec], capture_output=True,
                             text=True)
        if res.returncode != 0:
            print(f"| {frames} | {comps} | {dim} | {idim} | failed: "
                  f"{res.stderr.strip().splitlines()[-1]} |||||")
            continue
        r = json.loads(res.stdout.strip().splitlines()[-1])
        print(f"| {frames} | {comps} | {dim} | {idim} | {r['ubm_diag_s']:.2f} | "
              f"{r['ubm_full_s']:.2f} | {r['ubm_full_gmm_s']:.2f} | {r['tmatrix_s']:.2f} | "
              f"{r['peak_mb']:.0f} | {r['extra_mb']:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
