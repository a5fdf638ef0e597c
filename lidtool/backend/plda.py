"""Two-covariance PLDA (Sizov et al. 2014's naming) for speaker verification.

Model: a speaker's identity y ~ N(mu, B) (between-speaker covariance); each of its
utterances x = y + e with e ~ N(0, W) (within-speaker covariance). Trained by EM from
vectors with speaker labels, initialised with the class scatter matrices.

Scoring works in the space where W = I and B = diag(psi) (simultaneous diagonalisation,
u = T (x - mu)), one independent 2-D Gaussian per dimension. The mean of n utterances of
one speaker has within-speaker covariance W / n, so a model from n1 utterances against one
from n2 is, per dimension, (u, v) ~ N(0, [[psi + 1/n1, psi], [psi, psi + 1/n2]]) if the
same speaker and the diagonal of that if not. The log-likelihood ratio is therefore
    const(n1, n2) + sum_d qa_d u_d^2 + qb_d v_d^2 + qab_d u_d v_d,
which `llr_pairs` evaluates per trial and `llr_matrix` for every pair (a matrix product).
"""
from __future__ import annotations

import logging

import numpy as np
import scipy.linalg

from lidtool.backend.transforms import class_scatter

log = logging.getLogger(__name__)


def _floored(cov: np.ndarray, floor: float) -> np.ndarray:
    """Symmetric, with eigenvalues at least `floor` times their mean (a singular W, e.g.
    after LDA to more dimensions than the data span, would make the EM diverge)."""
    e, v = np.linalg.eigh(0.5 * (cov + cov.T))
    e = np.maximum(e, floor * max(float(e.mean()), 1e-20))
    return (v * e) @ v.T


class Plda:
    def __init__(self, mu: np.ndarray, between: np.ndarray, within: np.ndarray):
        self.mu = np.asarray(mu, dtype=np.float64)
        self.between = np.asarray(between, dtype=np.float64)
        self.within = np.asarray(within, dtype=np.float64)
        # columns V with V' W V = I and V' B V = diag(psi)
        psi, vecs = scipy.linalg.eigh(self.between, self.within)
        self.psi = np.maximum(psi, 0.0)
        self.proj = vecs

    @property
    def dim(self) -> int:
        return self.mu.size

    @classmethod
    def fit(cls, X: np.ndarray, y: np.ndarray, iters: int = 10,
            floor: float = 1e-6) -> "Plda":
        """EM on vectors X [N, D] with speaker indices y [N] (0..S-1, each used)."""
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y)
        num_spk = int(y.max()) + 1
        _, counts, within, between = class_scatter(X, y, num_spk)
        mu = X.mean(0)
        within, between = _floored(within, floor), _floored(between, floor)
        sums = np.zeros((num_spk, X.shape[1]))
        np.add.at(sums, y, X)
        second = X.T @ X
        for it in range(iters):
            mu, between, within = cls._em_step(sums, counts, second, len(X), mu, between,
                                               within)
            within, between = _floored(within, floor), _floored(between, floor)
            log.debug("PLDA EM iteration %d: tr(B) %.4g tr(W) %.4g", it + 1,
                      np.trace(between), np.trace(within))
        return cls(mu, between, within)

    @staticmethod
    def _em_step(sums, counts, second, num_utts, mu, between, within):
        b_inv, w_inv = np.linalg.inv(between), np.linalg.inv(within)
        prior = b_inv @ mu
        means = np.zeros_like(sums)
        post_cov_sum = np.zeros_like(between)   # sum over speakers of Cov(y_s | data)
        weighted_cov_sum = np.zeros_like(between)   # the same weighted by n_s
        for n in np.unique(counts):
            rows = counts == n
            cov = np.linalg.inv(b_inv + n * w_inv)
            cov = 0.5 * (cov + cov.T)
            means[rows] = (prior + sums[rows] @ w_inv) @ cov
            post_cov_sum += rows.sum() * cov
            weighted_cov_sum += n * rows.sum() * cov
        num_spk = len(counts)
        mu = means.mean(0)
        between = (post_cov_sum + means.T @ means) / num_spk - np.outer(mu, mu)
        cross = sums.T @ means
        within = (second - cross - cross.T + (means * counts[:, None]).T @ means
                  + weighted_cov_sum) / num_utts
        return mu, between, within

    def project(self, X: np.ndarray) -> np.ndarray:
        """Vectors in the diagonal space (W = I, B = diag(psi))."""
        return (np.asarray(X, dtype=np.float64) - self.mu) @ self.proj

    def _coefs(self, n1: float, n2: float):
        p = self.psi
        a, c = p + 1.0 / n1, p + 1.0 / n2
        det = a * c - p * p
        const = 0.5 * float(np.sum(np.log(a * c / det)))
        return const, 0.5 * (1.0 / a - c / det), 0.5 * (1.0 / c - a / det), p / det

    def llr_pairs(self, A, n_a, B, n_b) -> np.ndarray:
        """LLR of row k of A (mean of n_a[k] utterances) against row k of B (n_b[k])."""
        U, V = self.project(A), self.project(B)
        n_a = np.broadcast_to(np.asarray(n_a, dtype=np.float64), (len(U),))
        n_b = np.broadcast_to(np.asarray(n_b, dtype=np.float64), (len(V),))
        out = np.empty(len(U))
        for n1, n2 in set(zip(n_a.tolist(), n_b.tolist())):
            rows = (n_a == n1) & (n_b == n2)
            const, qa, qb, qab = self._coefs(n1, n2)
            u, v = U[rows], V[rows]
            out[rows] = const + (u * u) @ qa + (v * v) @ qb + np.sum(u * qab * v, axis=1)
        return out

    def llr_matrix(self, A, n_a, B, n_b) -> np.ndarray:
        """LLR of every row of A against every row of B: [len(A), len(B)]."""
        U, V = self.project(A), self.project(B)
        n_a = np.broadcast_to(np.asarray(n_a, dtype=np.float64), (len(U),))
        n_b = np.broadcast_to(np.asarray(n_b, dtype=np.float64), (len(V),))
        out = np.empty((len(U), len(V)))
        for n1 in np.unique(n_a):
            rows = np.nonzero(n_a == n1)[0]
            for n2 in np.unique(n_b):
                cols = np.nonzero(n_b == n2)[0]
                const, qa, qb, qab = self._coefs(n1, n2)
                u, v = U[rows], V[cols]
                out[np.ix_(rows, cols)] = (const + ((u * u) @ qa)[:, None]
                                           + ((v * v) @ qb)[None, :] + (u * qab) @ v.T)
        return out

    def state(self) -> dict:
        return {"mu": self.mu, "between": self.between, "within": self.within}

    @classmethod
    def from_state(cls, state: dict) -> "Plda":
        return cls(state["mu"], state["between"], state["within"])
