"""Back-end transforms: LDA against scikit-learn, length norm, mean subtraction."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

from lidtool.backend.transforms import LengthNorm, Lda, MeanSubtract, class_scatter


def classes(seed=0, n=400, dim=8, k=4):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, dim)) * 2
    mix = rng.normal(size=(dim, dim))
    y = np.arange(n) % k
    X = centres[y] + rng.normal(size=(n, dim)) @ mix.T * 0.5
    return X, y


def separability(Z, y):
    """Between- over within-class variance ratio (trace), invariant to invertible maps."""
    k = y.max() + 1
    _, _, w, b = class_scatter(Z, y, k)
    return np.trace(np.linalg.solve(w, b))


def test_lda_matches_sklearn_subspace():
    X, y = classes()
    ours = Lda(dim=None, within_floor=1e-10).fit(X, y)
    assert ours.proj.shape == (8, 3)                     # C - 1 directions
    sk = LinearDiscriminantAnalysis(solver="eigen", n_components=3).fit(X, y)
    A, B = ours.apply(X), sk.transform(X)
    # same subspace: B is an invertible linear map of A (up to the offset)
    A1 = np.c_[A, np.ones(len(A))]
    coef, *_ = np.linalg.lstsq(A1, B, rcond=None)
    assert np.abs(A1 @ coef - B).max() < 1e-6 * np.abs(B).max()
    assert separability(A, y) == pytest.approx(separability(B, y), rel=1e-6)
    # whitened within-class covariance, directions sorted by discriminability
    _, _, within, _ = class_scatter(A, y, 4)
    assert np.allclose(within, np.eye(3), atol=1e-8)
    assert np.all(np.diff(ours.eigvals) <= 0)


def test_lda_dim_is_capped_and_floor_handles_singular_within():
    X, y = classes(n=12, dim=30, k=3)                     # more dimensions than vectors
    lda = Lda(dim=100).fit(X, y)
    Z = lda.apply(X)
    assert Z.shape == (12, 2) and np.isfinite(Z).all()
    assert Lda(dim=1).fit(X, y).apply(X).shape == (12, 1)
    assert separability(Z, y) > 1.0


def test_length_norm_and_centering():
    X = np.array([[3.0, 4.0], [0.0, 2.0], [0.0, 0.0]])
    unit = LengthNorm(scale_sqrt_dim=False).apply(X)
    assert np.allclose(np.linalg.norm(unit[:2], axis=1), 1.0) and np.all(unit[2] == 0)
    assert np.allclose(np.linalg.norm(LengthNorm().apply(X[:2]), axis=1), np.sqrt(2))
    c = MeanSubtract().fit(X, None)
    assert np.allclose(c.apply(X).mean(0), 0)
    assert np.allclose(MeanSubtract.from_state(c.state(), {}).apply(X), c.apply(X))
