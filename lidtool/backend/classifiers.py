"""Back-end classifiers: cosine to language means, multi-class logistic regression,
Gaussian linear classifier. `scores(X) -> [N, L]`, higher = more likely.

LR and the Gaussian classifier return log-posteriors (flat prior over the target
languages, since the test sets are balanced); cosine returns cosine similarities.
"""
from __future__ import annotations

import numpy as np
import scipy.optimize
from scipy.special import log_softmax

from lidtool.backend.transforms import class_scatter


class CosineClassifier:
    name = "cosine"

    def __init__(self, means=None):
        self.means = means

    def fit(self, X, y, num_classes: int):
        self.means, _, _, _ = class_scatter(X, y, num_classes)
        return self

    def scores(self, X):
        m = self.means / np.maximum(np.linalg.norm(self.means, axis=1, keepdims=True), 1e-20)
        x = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-20)
        return x @ m.T

    def state(self):
        return {"means": self.means}

    @classmethod
    def from_state(cls, state, opts):
        return cls(state["means"])


class _LinearLogPosteriors:
    """Shared by the linear classifiers: log-softmax of X W^T + b; state = (W, b)."""

    def scores(self, X):
        return log_softmax(X @ self.weight.T + self.bias, axis=1)

    def state(self):
        return {"weight": self.weight, "bias": self.bias}

    @classmethod
    def from_state(cls, state, opts):
        return cls(weight=state["weight"], bias=state["bias"])


class LogisticRegression(_LinearLogPosteriors):
    """Multinomial LR with L2 penalty `l2` on the weights, trained with L-BFGS.

    `class_weight='balanced'` weights each language's examples by 1/count so that a
    long-tailed training set does not bias the posteriors towards majority languages.
    """
    name = "lr"

    def __init__(self, l2: float = 1e-3, class_weight: str = "balanced", max_iter: int = 500,
                 weight=None, bias=None):
        self.l2, self.class_weight, self.max_iter = l2, class_weight, max_iter
        self.weight, self.bias = weight, bias

    def fit(self, X, y, num_classes: int):
        n, d = X.shape
        counts = np.bincount(y, minlength=num_classes).astype(np.float64)
        if self.class_weight == "balanced":
            s = (n / (num_classes * np.maximum(counts, 1)))[y]
        else:
            s = np.ones(n)
        s = s / s.sum()
        onehot = np.zeros((n, num_classes))
        onehot[np.arange(n), y] = 1.0

        def objective(theta):
            W = theta[:num_classes * d].reshape(num_classes, d)
            b = theta[num_classes * d:]
            logp = log_softmax(X @ W.T + b, axis=1)
            loss = -(s * logp[np.arange(n), y]).sum() + 0.5 * self.l2 * (W * W).sum()
            g = (np.exp(logp) - onehot) * s[:, None]
            gW = g.T @ X + self.l2 * W
            return loss, np.concatenate([gW.ravel(), g.sum(0)])

        theta0 = np.zeros(num_classes * (d + 1))
        res = scipy.optimize.minimize(objective, theta0, jac=True, method="L-BFGS-B",
                                      options={"maxiter": self.max_iter})
        self.weight = res.x[:num_classes * d].reshape(num_classes, d)
        self.bias = res.x[num_classes * d:]
        return self


class GaussianLinearClassifier(_LinearLogPosteriors):
    """Class means with one shared (within-class) covariance; log-posteriors, flat prior."""
    name = "glc"

    def __init__(self, cov_floor: float = 1e-4, weight=None, bias=None):
        self.cov_floor, self.weight, self.bias = cov_floor, weight, bias

    def fit(self, X, y, num_classes: int):
        means, _, within, _ = class_scatter(X, y, num_classes)
        e, v = np.linalg.eigh(0.5 * (within + within.T))
        e = np.maximum(e, self.cov_floor * max(float(e.mean()), 1e-20))
        prec = (v / e) @ v.T
        self.weight = means @ prec                                  # [L, D]
        self.bias = -0.5 * (self.weight * means).sum(1)
        return self


CLASSIFIERS = {c.name: c for c in (CosineClassifier, LogisticRegression,
                                   GaussianLinearClassifier)}


def make_classifier(name: str, opts: dict):
    if name == "cosine":
        return CosineClassifier()
    if name == "lr":
        return LogisticRegression(opts.get("lr_l2", 1e-3), opts.get("lr_class_weight", "balanced"),
                                  opts.get("lr_max_iter", 500))
    if name == "glc":
        return GaussianLinearClassifier(opts.get("glc_cov_floor", 1e-4))
    raise KeyError(name)
