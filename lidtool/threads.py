"""CPU threads of a lidtool process: one by default, because parallelism comes from jobs.

Kaldi style, `--nj` jobs use the cores; a torch process that also starts one OpenMP thread
per core oversubscribes them. Measured on 2 busy cores: 2 torch threads whose OpenMP
workers spin-wait are 9-14x slower than 1 thread (utils/env.sh also sets
OMP_WAIT_POLICY=PASSIVE so that idle workers sleep instead of spinning).
"""
from __future__ import annotations

import os
import sys

DEFAULT_NUM_THREADS = 1


def add_num_threads_argument(parser, default: int = DEFAULT_NUM_THREADS) -> None:
    """`--num-threads N` (default 1; 0 = torch's own default, one per core)."""
    parser.add_argument("--num-threads", type=int, default=default, metavar="N",
                        help=f"torch CPU threads of this process (default {default}; use "
                        "--nj jobs for more cores; 0 = torch's default, one per core)")


def apply_num_threads(num_threads: int | None) -> None:
    """Use `num_threads` torch/OpenMP threads in this process (None or 0: leave the default).

    The environment is set too, so that a torch imported later (and child processes)
    start with the same count."""
    if not num_threads or num_threads < 0:
        return
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(num_threads)
    torch = sys.modules.get("torch")
    if torch is None:
        import torch
    if torch.get_num_threads() != num_threads:
        torch.set_num_threads(num_threads)
