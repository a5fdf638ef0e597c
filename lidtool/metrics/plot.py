"""Confusion-matrix PNG (matplotlib, Agg backend, written atomically)."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from lidtool.fileio import atomic_path


def write_confusion_png(path, counts, row_names: Sequence[str], col_names: Sequence[str],
                        title: str = "") -> None:
    """Rows: true language; columns: predicted language. Cells are shaded by the share of
    the row and labelled with the count."""
    import matplotlib
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    counts = np.asarray(counts)
    if counts.shape != (len(row_names), len(col_names)):
        raise ValueError(f"confusion counts {counts.shape} do not match "
                         f"{len(row_names)} x {len(col_names)} labels")
    totals = counts.sum(axis=1, keepdims=True)
    share = counts / np.maximum(totals, 1)
    size = 1.5 + 0.55 * max(len(row_names), len(col_names))
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    try:
        im = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0, aspect="auto")
        ax.set_xticks(range(len(col_names)), labels=list(col_names), rotation=45, ha="right")
        ax.set_yticks(range(len(row_names)), labels=list(row_names))
        ax.set_xlabel("predicted language")
        ax.set_ylabel("true language")
        if title:
            ax.set_title(title)
        if counts.size <= 900:
            for i in range(counts.shape[0]):
                for j in range(counts.shape[1]):
                    ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=8,
                            color="white" if share[i, j] > 0.5 else "black")
        fig.colorbar(im, ax=ax, label="share of the true language's utterances")
        fig.tight_layout()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=100)
    finally:
        plt.close(fig)


def write_curve_png(path, x_labels: Sequence[str], series: dict[str, Sequence[float]], *,
                    xlabel: str = "", ylabel: str = "", title: str = "") -> None:
    """One line per series over the x positions (numeric labels are placed at their value,
    others evenly, in the given order); a None value leaves a gap."""
    import matplotlib
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    try:
        xs = [float(x) for x in x_labels]
    except ValueError:
        xs = list(range(len(x_labels)))
    fig, ax = plt.subplots(figsize=(6, 4))
    try:
        for name, ys in series.items():
            if len(ys) != len(xs):
                raise ValueError(f"series '{name}' has {len(ys)} values for {len(xs)} x labels")
            ax.plot(xs, [np.nan if y is None else y for y in ys], marker="o", label=name)
        ax.set_xticks(xs, labels=list(x_labels))
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if title:
            ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=100)
    finally:
        plt.close(fig)
