"""Language-identification metrics on a score matrix [utterances x target languages].

Inputs everywhere: `matrix` (float [U, N]), `labels` (the true language of each row, a
string; it need not be a target language) and `langs` (the N target languages, the matrix
columns, in order).

Conventions (documented, tested):
- Accuracy is the argmax over target languages, counted over utterances whose language IS
  a target; utterances of other languages (open set) cannot be right by argmax and are
  left out of accuracy (they are counted as `n_unknown` by the report). Ties in the argmax
  go to the first target language in `langs` order.
- Pooled trials (EER, minDCF): every (utterance, target language) pair; the pair is a
  target trial when the language is the utterance's own, otherwise a non-target trial
  (all N scores of an open-set utterance are non-target trials).
- Cavg (OLR definition, METHODS.md section 3), decision "score >= threshold":
      P_miss(L)    = share of L's utterances whose L-score is below the threshold
      P_fa(L, M)   = share of M's utterances whose L-score is at or above it
      cost(L)      = P_tar P_miss(L) + P_non * sum_{M != L} P_fa(L, M),  P_tar = 0.5
      Cavg         = mean of cost(L) over the N target languages.
  Closed set: M runs over the other target languages, P_non = 0.5 / (N - 1).
  Open set (some utterance's language is not a target): all such utterances form one
  extra class "unknown" that M also runs over, and P_non = 0.5 / N.
- A class with no test utterances: a target language L without utterances has no
  P_miss(L) term (cost(L) keeps only its false-alarm terms, and L stays in the mean over
  the N targets because false alarms against it are still errors); no P_fa(., L) term is
  formed for it either. P_tar and P_non are not renormalised. The report lists such
  languages and warns.
- min-Cavg (the official OLR scoring): Cavg at the 21 thresholds
  numpy.linspace(min score, max score, 21) over the whole matrix; the minimum and the
  first threshold reaching it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

P_TARGET = 0.5


def label_indices(labels: Sequence[str], langs: Sequence[str]) -> np.ndarray:
    """Column index of each utterance's language in `langs`, -1 for a non-target one."""
    pos = {lang: j for j, lang in enumerate(langs)}
    return np.array([pos.get(lab, -1) for lab in labels], dtype=np.int64)


def _check(matrix, labels, langs) -> tuple[np.ndarray, np.ndarray]:
    arr = np.asarray(matrix, dtype=np.float64)
    if arr.ndim != 2 or arr.shape != (len(labels), len(langs)):
        raise ValueError(f"score matrix shape {arr.shape} does not match {len(labels)} "
                         f"labels x {len(langs)} languages")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError("empty score matrix")
    return arr, label_indices(labels, langs)


def predictions(matrix) -> np.ndarray:
    """Argmax column per row (ties: the first column)."""
    return np.argmax(np.asarray(matrix), axis=1)


@dataclass
class Accuracy:
    accuracy: float | None             # over utterances of target languages; None if none
    n_correct: int
    n_scored: int                      # utterances of target languages
    per_lang: dict[str, dict]          # lang -> {"accuracy": float|None, "count": int}


def accuracy(matrix, labels, langs) -> Accuracy:
    arr, y = _check(matrix, labels, langs)
    pred = predictions(arr)
    known = y >= 0
    correct = (pred == y) & known
    per_lang = {}
    for j, lang in enumerate(langs):
        mask = y == j
        count = int(mask.sum())
        per_lang[lang] = {"accuracy": float(correct[mask].mean()) if count else None,
                          "count": count}
    n_scored = int(known.sum())
    acc = float(correct.sum() / n_scored) if n_scored else None
    return Accuracy(acc, int(correct.sum()), n_scored, per_lang)


def pooled_trials(matrix, labels, langs) -> tuple[np.ndarray, np.ndarray]:
    """(target scores, non-target scores) over every (utterance, target language) pair."""
    arr, y = _check(matrix, labels, langs)
    is_target = np.zeros(arr.shape, dtype=bool)
    rows = np.nonzero(y >= 0)[0]
    is_target[rows, y[rows]] = True
    return arr[is_target], arr[~is_target]


@dataclass
class CavgCurve:
    thresholds: np.ndarray   # [T]
    cavg: np.ndarray         # [T]
    costs: np.ndarray        # [T, N] cost(L) per target language
    open_set: bool
    empty_langs: list[str]   # target languages without test utterances
    p_non: float


def cavg_curve(matrix, labels, langs, thresholds) -> CavgCurve:
    """Cavg (and cost per language) at each threshold; see the module docstring."""
    arr, y = _check(matrix, labels, langs)
    n_utt, n_lang = arr.shape
    open_set = bool((y < 0).any())
    if not open_set and n_lang < 2:
        raise ValueError("closed-set Cavg needs at least two target languages")
    p_non = 0.5 / n_lang if open_set else 0.5 / (n_lang - 1)
    n_class = n_lang + (1 if open_set else 0)
    cls = np.where(y >= 0, y, n_lang)          # open-set utterances -> class N ("unknown")
    onehot = np.zeros((n_utt, n_class))
    onehot[np.arange(n_utt), cls] = 1.0
    counts = onehot.sum(axis=0)                # [K] utterances per class
    has = counts > 0
    safe = np.where(has, counts, 1.0)
    thresholds = np.atleast_1d(np.asarray(thresholds, dtype=np.float64))
    costs = np.empty((len(thresholds), n_lang))
    eye = np.zeros((n_class, n_lang), dtype=bool)
    eye[np.arange(n_lang), np.arange(n_lang)] = True
    for t, theta in enumerate(thresholds):
        accepted = onehot.T @ (arr >= theta)   # [K, N]: class-k utterances with L-score >= t
        rate = accepted / safe[:, None]        # [K, N]
        p_miss = np.where(has[:n_lang], 1.0 - np.diag(rate[:n_lang]), 0.0)
        p_fa_sum = (rate * (has[:, None] & ~eye)).sum(axis=0)
        costs[t] = P_TARGET * p_miss + p_non * p_fa_sum
    empty = [lang for j, lang in enumerate(langs) if not has[j]]
    return CavgCurve(thresholds, costs.mean(axis=1), costs, open_set, empty, p_non)


def cavg(matrix, labels, langs, threshold: float = 0.0) -> float:
    """Cavg at one global threshold (0 is the Bayes threshold for calibrated LLR scores)."""
    return float(cavg_curve(matrix, labels, langs, [threshold]).cavg[0])


def min_cavg_thresholds(matrix, num: int = 21) -> np.ndarray:
    arr = np.asarray(matrix, dtype=np.float64)
    return np.linspace(arr.min(), arr.max(), num)


def min_cavg(matrix, labels, langs, num: int = 21) -> tuple[float, float]:
    """OLR min-Cavg: the minimum of Cavg over `num` evenly spaced thresholds between the
    lowest and highest score, and the first threshold that reaches it."""
    curve = cavg_curve(matrix, labels, langs, min_cavg_thresholds(matrix, num))
    k = int(np.argmin(curve.cavg))
    return float(curve.cavg[k]), float(curve.thresholds[k])


def confusion_matrix(matrix, labels, langs) -> tuple[np.ndarray, list[str]]:
    """Counts [rows, N]: rows are the target languages then each non-target language found
    in `labels` (sorted); columns are the predicted (argmax) target language."""
    arr, y = _check(matrix, labels, langs)
    others = sorted({lab for lab, j in zip(labels, y) if j < 0})
    row_names = list(langs) + others
    row_of = {name: i for i, name in enumerate(row_names)}
    counts = np.zeros((len(row_names), len(langs)), dtype=np.int64)
    for lab, p in zip(labels, predictions(arr)):
        counts[row_of[lab], p] += 1
    return counts, row_names
