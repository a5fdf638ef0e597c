"""Binary detection metrics over pooled trials: ROC operating points, EER, minDCF.

Decision rule everywhere in lidtool.metrics: a trial is accepted when its score is AT OR
ABOVE the threshold (the OLR Cavg convention). So for a threshold t
    P_miss(t) = share of target scores  <  t,
    P_fa(t)   = share of non-target scores >= t.

Operating points and ties. The ROC is evaluated at every DISTINCT score value (plus +inf,
where nothing is accepted). Trials with equal scores are therefore always accepted or
rejected together: a tie between a target and a non-target moves the curve diagonally in
one step, never first along one axis and then the other, so the result does not depend on
how a sort happened to order tied trials.

EER definition (lidtool's choice, fixed here and tested): the ROC operating points, in
order of decreasing threshold, are joined by straight lines, and the EER is the value at
which this piecewise-linear curve crosses P_miss = P_fa. P_miss - P_fa decreases strictly
from one operating point to the next (from +1 at t = +inf to -1 below the lowest score),
so there is exactly one crossing. If it falls on an operating point, EER is that point's
P_miss (= P_fa); otherwise it is interpolated linearly on the segment that crosses. The
straight segment across a tie is the expected curve under random tie-breaking. (This is
not the ROC-convex-hull EER of BOSARIS, which can be lower on non-convex curves.)

minDCF: normalised detection cost with C_miss = C_fa = 1,
    DCF(t) = P_tar P_miss(t) + (1 - P_tar) P_fa(t),  normalised by min(P_tar, 1 - P_tar),
minimised over the same operating points (thresholds +inf and every distinct score).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class RocPoints:
    """Operating points in order of decreasing threshold (`thresholds[0]` is +inf).

    `n_miss[k]` target scores are below `thresholds[k]`, `n_fa[k]` non-target scores are
    at or above it (integers, so comparisons can be exact)."""
    thresholds: np.ndarray
    n_miss: np.ndarray
    n_fa: np.ndarray
    n_tar: int
    n_non: int

    @property
    def p_miss(self) -> np.ndarray:
        return self.n_miss / self.n_tar

    @property
    def p_fa(self) -> np.ndarray:
        return self.n_fa / self.n_non


def _as_scores(x, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64).ravel()
    if arr.size == 0:
        raise ValueError(f"no {name} scores: EER/minDCF need both target and non-target trials")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} scores contain NaN/inf")
    return arr


def roc_points(target_scores, nontarget_scores) -> RocPoints:
    """All distinct operating points of the pooled trials (see the module docstring)."""
    tar = np.sort(_as_scores(target_scores, "target"))
    non = np.sort(_as_scores(nontarget_scores, "non-target"))
    distinct = np.unique(np.concatenate([tar, non]))[::-1]
    thresholds = np.concatenate([[np.inf], distinct])
    # targets below t: searchsorted left; non-targets at or above t: n - searchsorted left
    n_miss = np.searchsorted(tar, thresholds, side="left")
    n_fa = len(non) - np.searchsorted(non, thresholds, side="left")
    return RocPoints(thresholds, n_miss.astype(np.int64), n_fa.astype(np.int64),
                     len(tar), len(non))


def eer(target_scores, nontarget_scores) -> float:
    """Equal error rate (a fraction in [0, 1]) by linear interpolation between tie-aware
    ROC operating points; see the module docstring for the exact definition."""
    roc = roc_points(target_scores, nontarget_scores)
    # sign of P_miss - P_fa computed exactly on integers: n_miss/n_tar - n_fa/n_non
    diff = roc.n_miss * roc.n_non - roc.n_fa * roc.n_tar
    k = int(np.argmax(diff <= 0))  # first point at or past the crossing (last one is < 0)
    p_miss, p_fa = roc.p_miss, roc.p_fa
    if diff[k] == 0:
        return float(p_miss[k])
    # k >= 1 because diff[0] = n_tar * n_non > 0
    d0 = p_miss[k - 1] - p_fa[k - 1]
    d1 = p_miss[k] - p_fa[k]
    lam = d0 / (d0 - d1)
    return float(p_miss[k - 1] + lam * (p_miss[k] - p_miss[k - 1]))


def min_dcf(target_scores, nontarget_scores, p_target: float,
            c_miss: float = 1.0, c_fa: float = 1.0) -> tuple[float, float]:
    """Minimum normalised DCF and the threshold that reaches it (+inf = reject all)."""
    if not 0.0 < p_target < 1.0:
        raise ValueError(f"p_target must be in (0, 1), got {p_target}")
    roc = roc_points(target_scores, nontarget_scores)
    dcf = c_miss * p_target * roc.p_miss + c_fa * (1.0 - p_target) * roc.p_fa
    dcf = dcf / min(c_miss * p_target, c_fa * (1.0 - p_target))
    k = int(np.argmin(dcf))
    return float(dcf[k]), float(roc.thresholds[k])
