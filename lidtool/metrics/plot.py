"""Confusion-matrix and DET-curve PNGs (matplotlib, Agg backend, written atomically)."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from lidtool.fileio import atomic_path

DET_TICKS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6)


def _pyplot():
    import matplotlib
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    return plt


def _save(fig, path) -> None:
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)


def write_confusion_png(path, counts, row_names: Sequence[str], col_names: Sequence[str],
                        title: str = "") -> None:
    """Rows: true language; columns: predicted language. Cells are shaded by the share of
    the row and labelled with the count."""
    plt = _pyplot()

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
        _save(fig, path)
    finally:
        plt.close(fig)


def write_det_png(path, curves: Mapping[str, tuple], title: str = "") -> None:
    """DET curves (P_miss against P_fa on probit axes), one per `name -> (target_scores,
    nontarget_scores)`, each marked at its EER. Rates of 0 or 1 are drawn at the axis edge."""
    from scipy.stats import norm

    from lidtool.metrics.detection import eer, roc_points

    plt = _pyplot()
    lo = min(DET_TICKS)
    edge = (lo / 2, max(DET_TICKS))
    fig, ax = plt.subplots(figsize=(5.5, 5.5))
    try:
        for name, (tar, non) in curves.items():
            roc = roc_points(tar, non)
            x = norm.ppf(np.clip(roc.p_fa, *edge))
            y = norm.ppf(np.clip(roc.p_miss, *edge))
            rate = eer(tar, non)
            line, = ax.plot(x, y, label=f"{name} (EER {100 * rate:.2f}%)")
            point = norm.ppf(np.clip(rate, *edge))
            ax.plot([point], [point], "o", color=line.get_color())
        ticks = norm.ppf(DET_TICKS)
        labels = [f"{100 * t:g}" for t in DET_TICKS]
        ax.set_xticks(ticks, labels=labels)
        ax.set_yticks(ticks, labels=labels)
        ax.set_xlim(*norm.ppf(edge))
        ax.set_ylim(*norm.ppf(edge))
        ax.plot(norm.ppf(edge), norm.ppf(edge), ":", color="grey", linewidth=0.8)
        ax.set_xlabel("false alarm probability (%)")
        ax.set_ylabel("miss probability (%)")
        ax.grid(True, linewidth=0.4)
        ax.legend(loc="upper right", fontsize=8)
        if title:
            ax.set_title(title)
        _save(fig, path)
    finally:
        plt.close(fig)


def write_curve_png(path, x_labels: Sequence[str], series: dict[str, Sequence[float]], *,
                    xlabel: str = "", ylabel: str = "", title: str = "") -> None:
    """One line per series over the x positions (numeric labels are placed at their value,
    others evenly, in the given order); a None value leaves a gap."""
    try:
        xs = [float(x) for x in x_labels]
    except ValueError:
        xs = list(range(len(x_labels)))
    lines = {}
    for name, ys in series.items():
        if len(ys) != len(xs):
            raise ValueError(f"series '{name}' has {len(ys)} values for {len(xs)} x labels")
        lines[name] = (xs, [np.nan if y is None else y for y in ys])
    write_lines_png(path, lines, xlabel, ylabel, title, xticks=(xs, list(x_labels)),
                    legend_always=True)


def write_lines_png(path, series: Mapping[str, tuple], xlabel: str, ylabel: str,
                    title: str = "", xlog: bool = False, xticks: tuple | None = None,
                    legend_always: bool = False) -> None:
    """One marked line per entry of `series` (label -> (x values, y values)); `xticks` =
    (positions, labels) replaces matplotlib's ticks."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.6))
    for label, (x, y) in series.items():
        ax.plot(list(x), list(y), marker="o", label=label)
    if xlog:
        ax.set_xscale("log")
    if xticks is not None:
        ax.set_xticks(xticks[0], labels=xticks[1])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(True, alpha=0.3)
    if len(series) > 1 or legend_always:
        ax.legend(fontsize=8)
    _save(fig, path)
    plt.close(fig)
