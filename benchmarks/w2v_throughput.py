"""wav2vec 2.0 pretraining throughput (frames/s) and its share of the machine's GEMM roof.

    .venv/bin/python benchmarks/w2v_throughput.py [--batch-size 8] [--chunk 400]
        [--steps 5] [--threads 1] [--device cpu] [--amp none|bf16]
        [--paper] [--override dim=512 --override layers=6 ...] [--gemm 1024]

Model: `model.name: wav2vec2` with its default (CPU) sizes, the paper's (--paper: 24 x 1024,
16 heads, FFN 4096, final 768), and/or --override KEY=VALUE model options. One training
step = forward (masking, quantiser, K = 100 distractors, contrastive + diversity loss) +
backward + Adam update on random log-mel crops [batch, chunk, 80]; the fastest of --steps
timed steps after one warm-up step -> input frames (10 ms) per second.

FLOPs per frame: counted by torch.utils.flop_counter.FlopCounterMode over one training step
(matmuls, convolutions, attention; forward and backward; element-wise work not counted),
divided by the frames of the batch. GEMM roof: GFLOP/s of a torch.matmul of --gemm x --gemm
matrices (float32, or bfloat16 with --amp bf16) on the same threads (best of several).
Share = achieved model GFLOP/s / roof. Not a test; see benchmarks/README_w2v.md.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch
import yaml
from torch.utils.flop_counter import FlopCounterMode

from lidtool.nnet.model import count_parameters
from lidtool.nnet.w2v_pretrain import build_pretrain
from lidtool.nnet.wav2vec2 import paper_sizes


def gemm_gflops(n: int, device, dtype=torch.float32, reps: int = 10) -> float:
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    torch.matmul(a, b)
    best = float("inf")
    for _ in range(reps):
        _sync(device)
        t0 = time.perf_counter()
        torch.matmul(a, b)
        _sync(device)
        best = min(best, time.perf_counter() - t0)
    return 2 * n ** 3 / best / 1e9


def _sync(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--chunk", type=int, default=400)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--amp", choices=("none", "bf16"), default="none")
    p.add_argument("--paper", action="store_true", help="the paper's model sizes")
    p.add_argument("--override", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--gemm", type=int, default=1024)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    options = paper_sizes() if args.paper else {}
    for item in args.override:
        key, value = item.split("=", 1)
        options[key] = yaml.safe_load(value)
    torch.manual_seed(0)
    device = torch.device(args.device)
    model = build_pretrain(80, **options).to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    x = torch.randn(args.batch_size, args.chunk, 80, device=device)
    rng = np.random.default_rng(0)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.amp == "bf16")

    def step():
        opt.zero_grad(set_to_none=True)
        with autocast:
            loss = model(x, None, rng)["loss"]
        loss.backward()
        opt.step()

    with FlopCounterMode(display=False) as counter:
        step()
    flops = counter.get_total_flops()
    times = []
    for _ in range(args.steps):
        _sync(device)
        t0 = time.perf_counter()
        step()
        _sync(device)
        times.append(time.perf_counter() - t0)
    # the fastest step, like the GEMM roof's best of several: the least disturbed by other load
    step_s, mean_s = min(times), sum(times) / len(times)
    frames = args.batch_size * args.chunk
    dtype = torch.bfloat16 if args.amp == "bf16" else torch.float32
    roof = gemm_gflops(args.gemm, device, dtype)
    achieved = flops / step_s / 1e9
    c = model.config
    print(f"model: dim {c.dim} x {c.layers} layers, {c.heads} heads, ffn {c.ffn}, enc "
          f"{c.enc_dim}, final {c.final_dim}; {count_parameters(model) / 1e6:.2f} M params")
    print(f"device {device}, threads {args.threads}, amp {args.amp}, batch {args.batch_size} "
          f"x {args.chunk} frames, load average {os.getloadavg()[0]:.1f}")
    print(f"step {step_s * 1000:.0f} ms (mean {mean_s * 1000:.0f}) -> "
          f"{frames / step_s:.0f} frames/s "
          f"({frames / step_s / 100:.1f} s of speech per s)")
    print(f"FLOPs per frame (train step, fwd+bwd) {flops / frames / 1e6:.2f} MFLOP -> "
          f"{achieved:.2f} GFLOP/s")
    print(f"GEMM roof ({args.gemm}^3 {str(dtype)[6:]} matmul): {roof:.2f} GFLOP/s -> share "
          f"{100 * achieved / roof:.0f} %")


if __name__ == "__main__":
    main()
