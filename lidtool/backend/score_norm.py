"""Adaptive symmetric score normalisation (AS-norm; Matejka et al., Interspeech 2017).

For a trial (e, t) with raw score s, the cohort scores of the enrolment model, s(e, c) for
every cohort entry c, are reduced to their `top` highest, whose mean and standard deviation
are mu_e, sigma_e; likewise mu_t, sigma_t for the test side. Then
    s' = ((s - mu_e) / sigma_e + (s - mu_t) / sigma_t) / 2.
The standard deviation is the sample one (ddof = 1), as WeSpeaker's torch.std computes it.
"""
from __future__ import annotations

import numpy as np


def top_cohort_stats(cohort_scores: np.ndarray, top: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of the `top` highest scores of each row of [M, C]."""
    cohort_scores = np.asarray(cohort_scores, dtype=np.float64)
    if not 2 <= top <= cohort_scores.shape[1]:
        raise ValueError(f"top must be between 2 and the cohort size "
                         f"({cohort_scores.shape[1]}), got {top}")
    best = -np.partition(-cohort_scores, top - 1, axis=1)[:, :top]
    std = best.std(axis=1, ddof=1)
    # a cohort whose top scores are all equal would divide by zero
    return best.mean(axis=1), np.maximum(std, 1e-12)


def adaptive_snorm(scores, enrol_idx, test_idx, enrol_cohort, test_cohort,
                   top: int) -> np.ndarray:
    """AS-norm of trial scores [K]: trial k pairs enrolment model enrol_idx[k] (a row of
    enrol_cohort [E, C]) with test test_idx[k] (a row of test_cohort [T, C])."""
    mu_e, sd_e = top_cohort_stats(enrol_cohort, top)
    mu_t, sd_t = top_cohort_stats(test_cohort, top)
    s = np.asarray(scores, dtype=np.float64)
    return 0.5 * ((s - mu_e[enrol_idx]) / sd_e[enrol_idx]
                  + (s - mu_t[test_idx]) / sd_t[test_idx])
