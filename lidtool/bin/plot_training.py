"""Draw training curves (loss and accuracy per step) from exp/<sys>/train_log.jsonl as a PNG.

    lidtool plot-training [--smooth 50] [--out exp/<sys>/train_curves.png] EXP_DIR [EXP_DIR...]

Several exp dirs are drawn on the same axes (one line per system and metric). Metrics
plotted: every `*loss` and `*acc` key of the log (e.g. WADCL's r_loss / loss), smoothed by a
moving average over --smooth steps; validation metrics (`valid_loss`, `valid_acc`, logged
every train.valid_every steps) are drawn unsmoothed with markers.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from lidtool.errors import InputError

log = logging.getLogger("lidtool.plot_training")


def add_arguments(p):
    p.add_argument("--smooth", type=int, default=50, help="moving-average window (steps)")
    p.add_argument("--out", default=None,
                   help="output PNG (default: <first EXP_DIR>/train_curves.png)")
    p.add_argument("exp_dirs", nargs="+", help="exp/<sys> dirs with train_log.jsonl")


def read_log(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{metric: (steps, values)} of a train_log.jsonl; bad lines name file and line."""
    if not path.is_file():
        raise InputError(path, "training log does not exist", fix="train the system first")
    series: dict[str, list] = {}
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            try:
                row = json.loads(line)
                step = int(row["step"])
            except (ValueError, KeyError, TypeError):
                raise InputError(path, "not a JSON object with a 'step'", line=lineno) from None
            for key, value in row.items():
                if key.endswith("loss") or key.endswith("acc"):
                    series.setdefault(key, []).append((step, float(value)))
    return {k: (np.array([s for s, _ in v]), np.array([x for _, x in v]))
            for k, v in series.items()}


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    if window <= 1 or len(values) < 2:
        return values
    window = min(window, len(values))
    csum = np.cumsum(np.insert(values, 0, 0.0))
    out = np.empty_like(values, dtype=np.float64)
    for i in range(len(values)):
        lo = max(0, i - window + 1)
        out[i] = (csum[i + 1] - csum[lo]) / (i + 1 - lo)
    return out


def main(args):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lidtool.fileio import atomic_path

    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    for exp in args.exp_dirs:
        series = read_log(Path(exp) / "train_log.jsonl")
        for key, (steps, values) in sorted(series.items()):
            ax = ax_loss if key.endswith("loss") else ax_acc
            if key.startswith("valid_"):
                ax.plot(steps, values, "o-", markersize=3, label=f"{Path(exp).name} {key}")
            else:
                ax.plot(steps, smooth(values, args.smooth), label=f"{Path(exp).name} {key}")
    for ax, title in ((ax_loss, "loss"), (ax_acc, "accuracy")):
        ax.set_xlabel("step")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    out = Path(args.out) if args.out else Path(args.exp_dirs[0]) / "train_curves.png"
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    log.info("wrote %s", out)


if __name__ == "__main__":
    from lidtool.cli import module_entry
    module_entry(__name__)
