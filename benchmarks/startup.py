"""Start-up cost of the inference commands: wall seconds of `lidtool identify` on one file,
`lidtool --help`, and `lidtool infer` over K data dirs as K processes or as one.

    PYTHONPATH=<tree> .venv/bin/python benchmarks/startup.py --model exp/<sys>/final.pt \\
        --audio a.flac --data-dir data/test_1s [--data-dir data/test_3s ...] [--repeats 5]

Every command runs as a fresh process with PYTHONPATH=<tree> (default: this checkout), so
running it once with PYTHONPATH=/work/main (or any older checkout) and once with the new
tree gives before/after on the same inputs. Median of --repeats runs, after one warm-up
(page cache). Results and notes: README_startup.md.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def wall(cmd: list[str], env: dict, repeats: int, cwd) -> float | None:
    """Median wall seconds of `cmd`, or None when it fails (e.g. an older tree lacks it).
    `cwd` must not hold a lidtool package: `python -m` puts the current dir first on the path."""
    times = []
    for i in range(repeats + 1):
        start = time.perf_counter()
        proc = subprocess.run(cmd, env=env, capture_output=True, cwd=cwd)
        if proc.returncode != 0:
            return None
        if i:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--audio", required=True)
    ap.add_argument("--data-dir", action="append", required=True)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    args.model, args.audio = Path(args.model).resolve(), Path(args.audio).resolve()
    args.data_dir = [str(Path(d).resolve()) for d in args.data_dir]
    tree = os.environ.get("PYTHONPATH") or str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": tree, "OMP_NUM_THREADS": "1"}
    lid = [sys.executable, "-m", "lidtool.cli"]
    out = Path(tempfile.mkdtemp())
    rows = [("lidtool --help", wall(lid + ["--help"], env, args.repeats, out)),
            ("python -c 'import torch'", wall([sys.executable, "-c", "import torch"], env,
                                              args.repeats, out)),
            ("lidtool identify (1 file)",
             wall(lid + ["identify", "--model", str(args.model), str(args.audio)], env,
                  args.repeats, out))]
    k = len(args.data_dir)
    per_dir = [wall(lid + ["infer", str(args.model), d, str(out / f"s{i}")], env,
                    args.repeats, out)
               for i, d in enumerate(args.data_dir)]
    rows.append((f"lidtool infer, {k} data dirs, {k} processes",
                 None if None in per_dir else sum(per_dir)))
    pairs = [x for i, d in enumerate(args.data_dir) for x in (d, str(out / f"m{i}"))]
    rows.append((f"lidtool infer, {k} data dirs, 1 process",
                 wall(lid + ["infer", str(args.model), *pairs], env, args.repeats, out)))
    print(f"tree: {tree}   (median of {args.repeats} runs, wall seconds)")
    for name, sec in rows:
        print(f"  {name:42s} {'n/a (not supported)' if sec is None else f'{sec:6.2f}'}")


if __name__ == "__main__":
    main()
