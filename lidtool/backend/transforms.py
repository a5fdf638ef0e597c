"""Vector transforms of the back-end chain: length normalisation, LDA, mean subtraction.

Each transform has `fit(X, y)` (y: int class index per row), `apply(X)`, and
`state() -> dict of arrays` / `from_state(state, opts)` for saving in the back-end file.
"""
from __future__ import annotations

import numpy as np
import scipy.linalg


class LengthNorm:
    """x / ||x||, times sqrt(dim) when `scale_sqrt_dim` (Kaldi's ivector-normalize-length)."""
    name = "lnorm"

    def __init__(self, scale_sqrt_dim: bool = True):
        self.scale_sqrt_dim = scale_sqrt_dim

    def fit(self, X, y):
        return self

    def apply(self, X: np.ndarray) -> np.ndarray:
        norms = np.linalg.norm(X, axis=1, keepdims=True)
        out = X / np.maximum(norms, 1e-20)
        return out * np.sqrt(X.shape[1]) if self.scale_sqrt_dim else out

    def state(self) -> dict:
        return {}

    @classmethod
    def from_state(cls, state: dict, opts: dict) -> "LengthNorm":
        return cls(scale_sqrt_dim=opts.get("lnorm_scale_sqrt_dim", True))


class MeanSubtract:
    """Subtract the training-set mean."""
    name = "center"

    def __init__(self, mean=None):
        self.mean = mean

    def fit(self, X, y):
        self.mean = X.mean(0)
        return self

    def apply(self, X):
        return X - self.mean

    def state(self) -> dict:
        return {"mean": self.mean}

    @classmethod
    def from_state(cls, state: dict, opts: dict) -> "MeanSubtract":
        return cls(state["mean"])


def class_scatter(X: np.ndarray, y: np.ndarray, num_classes: int):
    """(class means [C, D], counts [C], within-class cov [D, D], between-class cov [D, D])."""
    counts = np.bincount(y, minlength=num_classes).astype(np.float64)
    sums = np.zeros((num_classes, X.shape[1]))
    np.add.at(sums, y, X)
    means = sums / np.maximum(counts, 1)[:, None]
    centred = X - means[y]
    within = centred.T @ centred / X.shape[0]
    mu = X.mean(0)
    dev = means - mu
    between = (dev * counts[:, None]).T @ dev / X.shape[0]
    return means, counts, within, between


class Lda:
    """Linear discriminant analysis to min(dim, C-1, D) dimensions.

    Solves Sb v = lambda Sw v with Sw's eigenvalues floored at `within_floor` times their
    mean (so that few vectors in many dimensions still give a usable transform); the
    projected within-class covariance is the identity. y = (x - mean) P.
    """
    name = "lda"

    def __init__(self, dim: int | None = None, within_floor: float = 1e-4,
                 mean=None, proj=None, eigvals=None):
        self.dim, self.within_floor = dim, within_floor
        self.mean, self.proj, self.eigvals = mean, proj, eigvals

    def fit(self, X, y):
        num_classes = int(y.max()) + 1
        _, _, within, between = class_scatter(X, y, num_classes)
        e, v = np.linalg.eigh(0.5 * (within + within.T))
        e = np.maximum(e, self.within_floor * max(float(e.mean()), 1e-20))
        within = (v * e) @ v.T
        k = min(self.dim or num_classes - 1, num_classes - 1, X.shape[1])
        evals, evecs = scipy.linalg.eigh(0.5 * (between + between.T), within)
        order = np.argsort(evals)[::-1][:k]
        self.mean, self.proj, self.eigvals = X.mean(0), evecs[:, order], evals[order]
        return self

    def apply(self, X):
        return (X - self.mean) @ self.proj

    def state(self) -> dict:
        return {"mean": self.mean, "proj": self.proj, "eigvals": self.eigvals}

    @classmethod
    def from_state(cls, state: dict, opts: dict) -> "Lda":
        return cls(opts.get("lda_dim"), opts.get("lda_within_floor", 1e-4),
                   state["mean"], state["proj"], state["eigvals"])


TRANSFORMS = {c.name: c for c in (LengthNorm, MeanSubtract, Lda)}


def make_transform(name: str, opts: dict):
    if name == "lnorm":
        return LengthNorm(opts.get("lnorm_scale_sqrt_dim", True))
    if name == "center":
        return MeanSubtract()
    if name == "lda":
        return Lda(opts.get("lda_dim"), opts.get("lda_within_floor", 1e-4))
    raise KeyError(name)
