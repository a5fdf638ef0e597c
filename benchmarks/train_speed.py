"""Training throughput and inference real-time factor of the DNN LID models on this machine.

    .venv/bin/python benchmarks/train_speed.py [--models tdnn etdnn resnet32 resnet34]
        [--batch-size 32] [--chunk 200] [--feat-dim 23] [--steps 5] [--threads 2]
        [--infer-seconds 10] [--device cpu] [--out benchmarks/train_speed.md]

For each model (full-size settings of egs/synth_lid/conf unless --small): the time of an SGD
step (forward + backward + update) on random [batch, chunk, feat_dim] input after one
warm-up step -> frames/s and utterances (chunks)/s; and the time to score one utterance of
--infer-seconds of speech (100 frames/s) -> real-time factor (compute time / audio time).
Prints a Markdown table (and writes it to --out if given). Not a test: numbers depend on
the machine; see benchmarks/README_train.md.
"""
from __future__ import annotations

import argparse
import platform
import time

import torch
import torch.nn.functional as F

from lidtool.nnet.model import build_model, count_parameters

FULL = {"tdnn": {"name": "tdnn", "hidden": [512, 512]},
        "etdnn": {"name": "etdnn", "hidden": [512, 512]},
        "resnet32": {"name": "resnet32", "hidden": [256]},
        "resnet34": {"name": "resnet34", "hidden": [256]}}


def bench_model(name, args):
    torch.manual_seed(0)
    model = build_model(FULL[name], {"name": "softmax"}, args.feat_dim, 6).to(args.device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(args.batch_size, args.chunk, args.feat_dim, device=args.device)
    y = torch.randint(0, 6, (args.batch_size,), device=args.device)

    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x, y), y).backward()
        opt.step()

    model.train()
    step()
    _sync(args.device)
    t0 = time.perf_counter()
    for _ in range(args.steps):
        step()
    _sync(args.device)
    step_s = (time.perf_counter() - t0) / args.steps
    model.eval()
    frames = int(args.infer_seconds * 100)
    u = torch.randn(1, frames, args.feat_dim, device=args.device)
    with torch.inference_mode():
        model(u)
        _sync(args.device)
        t0 = time.perf_counter()
        for _ in range(args.infer_reps):
            model(u)
        _sync(args.device)
    infer_s = (time.perf_counter() - t0) / args.infer_reps
    return {"model": name, "params": count_parameters(model), "step_s": step_s,
            "frames_s": args.batch_size * args.chunk / step_s,
            "utts_s": args.batch_size / step_s, "rtf": infer_s / args.infer_seconds}


def _sync(device):
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=list(FULL), choices=list(FULL))
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--chunk", type=int, default=200, help="frames per training chunk")
    p.add_argument("--feat-dim", type=int, default=23)
    p.add_argument("--steps", type=int, default=5, help="timed training steps")
    p.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    p.add_argument("--infer-seconds", type=float, default=10.0)
    p.add_argument("--infer-reps", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", default=None, help="also write the Markdown table here")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = [bench_model(m, args) for m in args.models]
    lines = [f"Machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
             f"{args.threads} threads, device {args.device}; batch {args.batch_size} x "
             f"{args.chunk} frames x {args.feat_dim} dims; inference on "
             f"{args.infer_seconds:g} s utterances.", "",
             "| model | params | s/step | frames/s (train) | utts/s (train) | RTF (infer) |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['params'] / 1e6:.2f} M | {r['step_s']:.3f} | "
                     f"{r['frames_s']:.0f} | {r['utts_s']:.1f} | {r['rtf']:.4f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        from lidtool.fileio import write_text_atomic
        write_text_atomic(args.out, text)


if __name__ == "__main__":
    main()
