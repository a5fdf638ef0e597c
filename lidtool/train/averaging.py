"""Checkpoint averaging (`train.average_last: N`): final.pt holds the element-wise mean of
the weights of the last N checkpoints (as WeSpeaker's and ESPnet's average_model do).

From each checkpoint the weights final.pt would have held at that step are taken (the WMA
model when WMA is on, else the model). Floating-point tensors (weights and BatchNorm
statistics) are averaged in float64 and cast back; integer buffers (num_batches_tracked)
are the last checkpoint's.
"""
from __future__ import annotations

import logging


from lidtool.errors import CheckpointError, ConfigError
from lidtool.train import checkpoint as ckpt_io

log = logging.getLogger(__name__)


def check_average_last(cfg_train: dict, total_steps: int, source: str) -> None:
    """A run must write at least train.average_last checkpoints (one every ckpt_every
    steps and one at the end)."""
    n, every = int(cfg_train["average_last"]), int(cfg_train["ckpt_every"])
    written = -(-total_steps // every)
    if n > written:
        raise ConfigError(source, f"train.average_last={n}, but a run of {total_steps} steps "
                          f"with ckpt_every={every} writes only {written} checkpoints",
                          fix="lower train.ckpt_every")


def checkpoint_weights(state: dict) -> dict:
    wma = state.get("wma")
    return wma["model"] if wma is not None else state["model"]


def average_last(exp_dir, n: int, up_to_step: int) -> dict:
    """The mean weights of the last `n` checkpoints of `exp_dir` at steps <= `up_to_step`."""
    found = [(s, p) for s, p in ckpt_io.list_checkpoints(exp_dir) if s <= up_to_step][-n:]
    if len(found) < n:
        raise CheckpointError(exp_dir, f"train.average_last={n} but only {len(found)} "
                              "checkpoints are there", fix="lower train.average_last")
    states = [checkpoint_weights(ckpt_io.load_checkpoint(p)) for _, p in found]
    out = {}
    for key, last in states[-1].items():
        if last.is_floating_point():
            total = sum(s[key].double() for s in states)
            out[key] = (total / n).to(last.dtype)
        else:
            out[key] = last.clone()
    log.info("final weights: mean of the checkpoints at steps %s",
             ", ".join(str(s) for s, _ in found))
    return out
