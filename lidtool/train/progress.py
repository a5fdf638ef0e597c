"""One line about a running (or finished) training, for a terminal that only sees a log file.

`lidtool train` runs through the job runner into exp/<sys>/log/train.log; steps/train_nnet.sh
calls `lidtool train-progress` every few seconds and prints the line. It reads only
train_log.jsonl (one JSON line per step, with the seconds since the run started) and the
total step count that the trainer logs at start-up, so it is cheap and needs no torch.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

_TOTAL = (re.compile(r"; (\d+) steps;"), re.compile(r"\|\s*\d+/(\d+) \["))


def total_steps(train_log: Path) -> int | None:
    """The step budget the trainer announced in log/train.log (None before it did)."""
    try:
        text = train_log.read_text(errors="replace")
    except OSError:
        return None
    for pattern in _TOTAL:
        found = pattern.findall(text)
        if found:
            return int(found[-1])
    return None


def _this_run(lines: list[dict]) -> list[dict]:
    """The records written since the latest (re)start: "time" restarts at 0 on a resume."""
    start = 0
    for i in range(1, len(lines)):
        if lines[i].get("time", 0) < lines[i - 1].get("time", 0):
            start = i
    return lines[start:]


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


def progress_line(exp_dir) -> str | None:
    """'step k/N (p%), loss x, acc y, <elapsed> elapsed, ETA <t>' or None before step 1."""
    exp_dir = Path(exp_dir)
    records = []
    try:
        with open(exp_dir / "train_log.jsonl") as f:
            for line in f:
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError:
                    break           # a line being written right now
    except OSError:
        return None
    if not records:
        return None
    run = _this_run(records)
    last = run[-1]
    step = int(last["step"])
    total = total_steps(exp_dir / "log" / "train.log")
    parts = [f"step {step}/{total} ({100 * step // total}%)" if total else f"step {step}"]
    parts += [f"{key} {last[key]:.4g}" for key in ("loss", "acc", "valid_acc") if key in last]
    elapsed = float(last.get("time", 0.0))
    parts.append(f"{_duration(elapsed)} elapsed")
    done = step - int(run[0]["step"]) + 1
    if total and step < total and elapsed > 0 and done > 0:
        parts.append(f"ETA {_duration(elapsed / done * (total - step))}")
    return ", ".join(parts)
