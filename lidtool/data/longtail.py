"""Long-tailed subsets: N_c = N_0 * mu^c per language, imbalance factor beta = N_0 / N_{C-1}.

Amounts are utterance counts or hours (from utt2dur). N_0 is the largest value every
language can still supply, so the result follows the exact geometric profile.
"""
from __future__ import annotations

import numpy as np

from lidtool.data.datadir import DataDir, subset_data_dir
from lidtool.data.tables import invert
from lidtool.errors import DataDirError


def longtail_targets(available: dict[str, float], beta: float,
                     order: list[str] | None = None,
                     proportions: list[float] | None = None) -> dict[str, float]:
    """Target amount per language. `order` is largest-first (default: by availability);
    `proportions` (e.g. the paper's hours 58.0/25.7/...) replaces the geometric profile."""
    order = list(order) if order else sorted(available, key=lambda k: (-available[k], k))
    missing = [lang for lang in order if lang not in available]
    if missing:
        raise ValueError(f"languages {missing} have no data")
    n = len(order)
    if proportions is not None:
        if len(proportions) != n:
            raise ValueError(f"{len(proportions)} proportions for {n} languages")
        shape = np.asarray(proportions, dtype=float) / max(proportions)
    else:
        if beta < 1:
            raise ValueError("beta must be >= 1")
        mu = beta ** (-1.0 / (n - 1)) if n > 1 else 1.0
        shape = mu ** np.arange(n)
    n0 = min(available[lang] / shape[c] for c, lang in enumerate(order))
    return {lang: float(n0 * shape[c]) for c, lang in enumerate(order)}


def longtail_subset(src, dst, *, beta: float, order: list[str] | None = None,
                    proportions: list[float] | None = None, by: str = "utts",
                    seed: int = 0) -> dict[str, float]:
    """Write the long-tailed subset of `src` to `dst`; returns the amount kept per language."""
    d = DataDir(src)
    if d.utt2lang is None:
        raise DataDirError(d.file("utt2lang"), "file does not exist")
    lang2utt = invert(d.utt2lang)
    if by == "utts":
        amount = {u: 1.0 for u in d.utts}
    elif by == "hours":
        if d.utt2dur is None:
            raise DataDirError(d.file("utt2dur"), "file does not exist", fix="needed for --by hours")
        amount = {u: d.numeric("utt2dur", u) / 3600.0 for u in d.utts}
    else:
        raise ValueError("by must be 'utts' or 'hours'")
    available = {lang: sum(amount[u] for u in utts) for lang, utts in lang2utt.items()}
    if order:
        unknown = [lang for lang in order if lang not in lang2utt]
        if unknown:
            raise DataDirError(d.file("utt2lang"), f"languages {unknown} do not occur")
        available = {lang: available[lang] for lang in order}
    targets = longtail_targets(available, beta, order, proportions)
    rng = np.random.default_rng(seed)
    keep, kept = [], {}
    for lang, target in targets.items():
        utts = lang2utt[lang]
        total = 0.0
        for i in rng.permutation(len(utts)):
            if total + amount[utts[i]] > target + 1e-9 and total > 0:
                if by == "utts":
                    break
                continue
            keep.append(utts[i])
            total += amount[utts[i]]
        kept[lang] = total
    subset_data_dir(src, dst, utts=keep)
    return kept
