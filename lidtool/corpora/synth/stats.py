"""Corpus statistics: hours and utterances per language and set, and a duration histogram.

Works on any Kaldi data dirs with utt2lang and utt2dur (not only the synthetic corpus).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from lidtool.data.tables import read_table
from lidtool.errors import DataDirError
from lidtool.fileio import atomic_open, atomic_path


def collect(data_dirs: list) -> dict[str, dict[str, list[float]]]:
    """set name -> language -> utterance durations (seconds)."""
    out: dict[str, dict[str, list[float]]] = {}
    for d in data_dirs:
        d = Path(d)
        utt2lang = read_table(d / "utt2lang")
        utt2dur = read_table(d / "utt2dur")
        per: dict[str, list[float]] = {}
        for utt, lang in utt2lang.items():
            if utt not in utt2dur:
                raise utt2lang.error(utt, f"utterance '{utt}' has no line in {d / 'utt2dur'}",
                                     fix="utils/fix_data_dir.sh")
            try:
                dur = float(utt2dur[utt])
            except ValueError:
                raise utt2dur.error(utt, f"duration '{utt2dur[utt]}' is not a number") \
                    from None
            per.setdefault(lang, []).append(dur)
        if d.name in out:
            raise DataDirError(d, f"two data dirs are named '{d.name}'")
        out[d.name] = per
    return out


def markdown_table(stats: dict[str, dict[str, list[float]]]) -> str:
    lines = ["| set | language | utterances | hours | mean dur (s) |",
             "|---|---|---:|---:|---:|"]
    for name, per in stats.items():
        tot_n, tot_s = 0, 0.0
        for lang in sorted(per):
            durs = per[lang]
            tot_n += len(durs)
            tot_s += sum(durs)
            lines.append(f"| {name} | {lang} | {len(durs)} | {sum(durs) / 3600:.3f} | "
                         f"{np.mean(durs):.2f} |")
        lines.append(f"| **{name}** | **all** | **{tot_n}** | **{tot_s / 3600:.3f}** | "
                     f"{tot_s / max(tot_n, 1):.2f} |")
    return "\n".join(lines) + "\n"


def histogram(stats: dict[str, dict[str, list[float]]], png) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 4.5))
    all_d = [x for per in stats.values() for d in per.values() for x in d]
    bins = np.linspace(0, max(all_d) * 1.02 if all_d else 1, 60)
    for name, per in stats.items():
        ax.hist([x for d in per.values() for x in d], bins=bins, histtype="step", label=name)
    ax.set_xlabel("utterance duration (s)")
    ax.set_ylabel("utterances")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    ax.set_title("duration per data set")
    fig.tight_layout()
    with atomic_path(png) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def corpus_stats(data_dirs: list, out_dir) -> tuple[Path, Path]:
    """Write OUT/stats.md and OUT/durations.png; returns their paths."""
    stats = collect(data_dirs)
    out_dir = Path(out_dir)
    md, png = out_dir / "stats.md", out_dir / "durations.png"
    with atomic_open(md) as f:
        f.write(markdown_table(stats))
    histogram(stats, png)
    return md, png
