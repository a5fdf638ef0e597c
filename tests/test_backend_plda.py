"""Two-covariance PLDA: LLR against the closed-form Gaussian ratio, EM estimates."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from lidtool.backend.plda import Plda


def random_model(dim, seed=0):
    rng = np.random.default_rng(seed)
    a, c = rng.normal(size=(dim, dim)), rng.normal(size=(dim, dim))
    return rng.normal(size=dim), a @ a.T + np.eye(dim), 0.5 * c @ c.T + 0.3 * np.eye(dim)


def closed_form_llr(mu, B, W, x1, n1, x2, n2):
    """log N([x1; x2]; [mu; mu], [[B + W/n1, B], [B, B + W/n2]]) minus the two marginals:
    the means of n1 and n2 utterances of one speaker against two speakers."""
    joint = np.block([[B + W / n1, B], [B, B + W / n2]])
    same = multivariate_normal(np.r_[mu, mu], joint).logpdf(np.r_[x1, x2])
    return (same - multivariate_normal(mu, B + W / n1).logpdf(x1)
            - multivariate_normal(mu, B + W / n2).logpdf(x2))


@pytest.mark.parametrize("n1,n2", [(1, 1), (3, 1), (2, 5)])
def test_llr_equals_closed_form_two_covariance_ratio(n1, n2):
    mu, B, W = random_model(3)
    plda = Plda(mu, B, W)
    rng = np.random.default_rng(1)
    A, T = mu + 2 * rng.normal(size=(4, 3)), mu + 2 * rng.normal(size=(5, 3))
    expected = np.array([[closed_form_llr(mu, B, W, a, n1, t, n2) for t in T] for a in A])
    assert plda.llr_matrix(A, n1, T, n2) == pytest.approx(expected, abs=1e-9)
    # per-trial scoring gives the same numbers, also with mixed counts in one call
    rows, cols = np.array([0, 3, 1, 2]), np.array([4, 0, 2, 2])
    assert plda.llr_pairs(A[rows], n1, T[cols], n2) == pytest.approx(
        expected[rows, cols], abs=1e-9)
    counts = np.array([1, n1, 4, n1])
    mixed = plda.llr_pairs(A[rows], counts, T[cols], n2)
    for k in range(4):
        assert mixed[k] == pytest.approx(
            closed_form_llr(mu, B, W, A[rows[k]], counts[k], T[cols[k]], n2), abs=1e-9)


def test_llr_is_symmetric_for_single_utterances():
    plda = Plda(*random_model(4, seed=2))
    X = np.random.default_rng(3).normal(size=(6, 4))
    S = plda.llr_matrix(X, 1, X, 1)
    assert S == pytest.approx(S.T, abs=1e-9)


def test_em_recovers_between_and_within_covariances():
    mu, B, W = random_model(3, seed=4)
    rng = np.random.default_rng(5)
    speakers, per = 3000, 8
    Y = rng.multivariate_normal(mu, B, size=speakers)
    X = np.repeat(Y, per, axis=0) + rng.multivariate_normal(np.zeros(3), W, size=speakers * per)
    y = np.repeat(np.arange(speakers), per)
    # unequal numbers of utterances per speaker exercise the grouped E-step
    keep = rng.random(len(X)) < 0.8
    plda = Plda.fit(X[keep], y[keep], iters=20)
    scale = np.abs(B).max()
    assert np.abs(plda.between - B).max() < 0.1 * scale
    assert np.abs(plda.within - W).max() < 0.05 * np.abs(W).max()
    assert plda.mu == pytest.approx(mu, abs=0.15)


def test_state_round_trip_scores_identically():
    plda = Plda(*random_model(3, seed=6))
    again = Plda.from_state(plda.state())
    X = np.random.default_rng(7).normal(size=(5, 3))
    assert np.array_equal(plda.llr_matrix(X, 2, X, 1), again.llr_matrix(X, 2, X, 1))
