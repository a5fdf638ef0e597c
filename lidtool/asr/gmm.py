"""Diagonal-covariance GMMs for every pdf of an HMM, held as padded numpy arrays.

`GmmSet` stores P pdfs with up to K Gaussians each: weights [P, K] (0 for unused slots),
means [P, K, D], variances [P, K, D]. It computes all pdfs' log-likelihoods for decoding,
the per-frame likelihood of one given pdf per frame (Viterbi training), accumulates EM
statistics from such alignments, does the maximum-likelihood update and "mixing up"
(splitting Gaussians by occupancy, as Kaldi's gmm-mixup / AmDiagGmm::SplitByCount).

The maths matches kaldi_hmm_gmm.DiagGmm (tests compare log-likelihoods with it); numpy is
used because it vectorises over whole utterances, where the port works frame by frame.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LOG_2PI = float(np.log(2 * np.pi))


def _logsumexp(x: np.ndarray, axis: int) -> np.ndarray:
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    return np.squeeze(m, axis) + np.log(np.sum(np.exp(x - m), axis=axis))


@dataclass
class GmmStats:
    """Occupancy, first- and second-order statistics per (pdf, Gaussian)."""
    occ: np.ndarray       # [P, K] float64
    x: np.ndarray         # [P, K, D]
    xx: np.ndarray        # [P, K, D]
    loglike: float = 0.0  # sum over accumulated frames of log p(x_t | pdf_t)
    frames: int = 0

    @classmethod
    def zeros(cls, num_pdfs: int, max_gauss: int, dim: int) -> "GmmStats":
        return cls(np.zeros((num_pdfs, max_gauss)), np.zeros((num_pdfs, max_gauss, dim)),
                   np.zeros((num_pdfs, max_gauss, dim)))

    def add(self, other: "GmmStats") -> None:
        self.occ += other.occ
        self.x += other.x
        self.xx += other.xx
        self.loglike += other.loglike
        self.frames += other.frames

    def pdf_occupancy(self) -> np.ndarray:
        return self.occ.sum(axis=1)


class GmmSet:
    """P diagonal GMMs sharing a feature dimension."""

    def __init__(self, weights: np.ndarray, means: np.ndarray, variances: np.ndarray):
        weights = np.asarray(weights, dtype=np.float64)
        means = np.asarray(means, dtype=np.float64)
        variances = np.asarray(variances, dtype=np.float64)
        if weights.ndim != 2 or means.shape != variances.shape or \
                means.shape[:2] != weights.shape:
            raise ValueError(f"inconsistent GMM shapes: weights {weights.shape}, "
                             f"means {means.shape}, variances {variances.shape}")
        if np.any(variances[weights > 0] <= 0):
            raise ValueError("GMM variances must be positive")
        self.weights, self.means, self.variances = weights, means, variances
        self._cache = None

    # ---------------------------------------------------------------- construction
    @classmethod
    def single_gaussians(cls, means: np.ndarray, variances: np.ndarray) -> "GmmSet":
        """One Gaussian per pdf: means/variances [P, D]."""
        means = np.asarray(means, dtype=np.float64)
        return cls(np.ones((means.shape[0], 1)), means[:, None, :],
                   np.asarray(variances, dtype=np.float64)[:, None, :])

    @property
    def num_pdfs(self) -> int:
        return self.weights.shape[0]

    @property
    def dim(self) -> int:
        return self.means.shape[2]

    @property
    def max_gauss(self) -> int:
        return self.weights.shape[1]

    def num_gauss(self) -> np.ndarray:
        return (self.weights > 0).sum(axis=1)

    def total_gauss(self) -> int:
        return int((self.weights > 0).sum())

    # ---------------------------------------------------------------- likelihoods
    def _terms(self):
        """Per-Gaussian log weight + normaliser, mean*inv_var, inv_var (cached)."""
        if self._cache is None:
            valid = self.weights > 0
            var = np.where(valid[..., None], self.variances, 1.0)
            inv = 1.0 / var
            logw = np.where(valid, np.log(np.where(valid, self.weights, 1.0)), -np.inf)
            gconst = logw - 0.5 * (self.dim * LOG_2PI + np.log(var).sum(-1)
                                   + (self.means ** 2 * inv).sum(-1))
            self._cache = (gconst, self.means * inv, inv)
        return self._cache

    def gauss_loglikes(self, feats: np.ndarray, pdfs: np.ndarray) -> np.ndarray:
        """[T, K]: log (w_k N(x_t; mu_k, var_k)) of the Gaussians of pdf pdfs[t]."""
        gconst, mi, inv = self._terms()
        x = np.asarray(feats, dtype=np.float64)
        return (gconst[pdfs] + np.einsum("tkd,td->tk", mi[pdfs], x)
                - 0.5 * np.einsum("tkd,td->tk", inv[pdfs], x * x))

    def frame_loglikes(self, feats: np.ndarray, pdfs: np.ndarray) -> np.ndarray:
        """[T]: log p(x_t | pdf_t)."""
        return _logsumexp(self.gauss_loglikes(feats, pdfs), axis=1)

    def all_loglikes(self, feats: np.ndarray, chunk: int = 512) -> np.ndarray:
        """[T, P] float32: every pdf's log-likelihood for every frame (for decoding)."""
        gconst, mi, inv = self._terms()
        P, K, D = mi.shape
        mi2, inv2, gc2 = mi.reshape(P * K, D), inv.reshape(P * K, D), gconst.reshape(P * K)
        x = np.asarray(feats, dtype=np.float64)
        out = np.empty((x.shape[0], P), dtype=np.float32)
        for s in range(0, x.shape[0], chunk):
            xc = x[s:s + chunk]
            ll = gc2 + xc @ mi2.T - 0.5 * (xc * xc) @ inv2.T
            out[s:s + chunk] = _logsumexp(ll.reshape(-1, P, K), axis=2)
        return out

    # ---------------------------------------------------------------- EM
    def accumulate(self, feats: np.ndarray, pdfs: np.ndarray, stats: GmmStats) -> float:
        """Add the Viterbi-EM statistics of frames `feats` [T, D] aligned to `pdfs` [T]."""
        x = np.asarray(feats, dtype=np.float64)
        ll = self.gauss_loglikes(x, pdfs)
        tot = _logsumexp(ll, axis=1)
        post = np.exp(ll - tot[:, None])                       # [T, K]
        order = np.argsort(pdfs, kind="stable")
        sp = pdfs[order]
        starts = np.flatnonzero(np.r_[True, sp[1:] != sp[:-1]])
        uniq = sp[starts]
        po = post[order]
        xo = x[order]
        stats.occ[uniq] += np.add.reduceat(po, starts, axis=0)
        stats.x[uniq] += np.add.reduceat(po[:, :, None] * xo[:, None, :], starts, axis=0)
        stats.xx[uniq] += np.add.reduceat(po[:, :, None] * (xo * xo)[:, None, :], starts,
                                          axis=0)
        stats.loglike += float(tot.sum())
        stats.frames += int(x.shape[0])
        return float(tot.sum())

    def new_stats(self) -> GmmStats:
        return GmmStats.zeros(self.num_pdfs, self.max_gauss, self.dim)

    def update(self, stats: GmmStats, *, var_floor: np.ndarray | float,
               min_gauss_occ: float = 3.0, min_weight: float = 1e-5) -> None:
        """Maximum-likelihood update. Gaussians with less than `min_gauss_occ` frames keep
        their mean and variance (a generalised-EM step, so the likelihood still cannot
        fall); pdfs with no data are left unchanged. Variances are floored at `var_floor`."""
        occ = stats.occ
        pdf_occ = occ.sum(axis=1)
        seen = pdf_occ > 0
        valid = self.weights > 0
        w = np.where(seen[:, None], occ / np.maximum(pdf_occ, 1e-300)[:, None], self.weights)
        w = np.where(valid, np.maximum(w, min_weight), 0.0)
        w /= w.sum(axis=1, keepdims=True)
        upd = valid & (occ >= min_gauss_occ)
        safe = np.maximum(occ, 1e-300)[..., None]
        mean = stats.x / safe
        var = np.maximum(stats.xx / safe - mean ** 2, var_floor)
        self.means = np.where(upd[..., None], mean, self.means)
        self.variances = np.where(upd[..., None], var, self.variances)
        self.weights = w
        self._cache = None

    # ---------------------------------------------------------------- mixing up
    def mix_up(self, pdf_occ: np.ndarray, target_total: int, *, power: float = 0.2,
               min_count: float = 20.0, perturb: float = 0.01) -> None:
        """Split Gaussians until about `target_total` in all, each pdf getting a share
        proportional to occ**power (at most occ/min_count Gaussians). Each split halves
        the weight of the pdf's heaviest Gaussian and moves the two copies +-perturb*std."""
        cur = self.num_gauss()
        if target_total <= cur.sum():
            return
        share = np.maximum(pdf_occ, 0.0) ** power
        share = share / max(share.sum(), 1e-300) * target_total
        target = np.maximum(cur, np.minimum(np.rint(share).astype(int),
                                            np.floor(pdf_occ / min_count).astype(int)))
        K = int(target.max())
        if K > self.max_gauss:
            pad = K - self.max_gauss
            self.weights = np.pad(self.weights, ((0, 0), (0, pad)))
            self.means = np.pad(self.means, ((0, 0), (0, pad), (0, 0)))
            self.variances = np.pad(self.variances, ((0, 0), (0, pad), (0, 0)),
                                    constant_values=1.0)
        for p in np.flatnonzero(target > cur):
            n = int(cur[p])
            while n < target[p]:
                k = int(np.argmax(self.weights[p, :n]))
                delta = perturb * np.sqrt(self.variances[p, k])
                self.weights[p, k] *= 0.5
                self.weights[p, n] = self.weights[p, k]
                self.variances[p, n] = self.variances[p, k]
                self.means[p, n] = self.means[p, k] + delta
                self.means[p, k] = self.means[p, k] - delta
                n += 1
        self._cache = None

    # ---------------------------------------------------------------- io
    def to_arrays(self, prefix: str = "gmm_") -> dict[str, np.ndarray]:
        return {f"{prefix}weights": self.weights, f"{prefix}means": self.means,
                f"{prefix}variances": self.variances}

    @classmethod
    def from_arrays(cls, arrays, prefix: str = "gmm_") -> "GmmSet":
        return cls(arrays[f"{prefix}weights"], arrays[f"{prefix}means"],
                   arrays[f"{prefix}variances"])
