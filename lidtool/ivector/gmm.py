"""Diagonal- and full-covariance GMMs (the UBM), their frame log-likelihoods and storage.

All maths is torch float64 on CPU (BLAS uses every core torch is allowed). Full-covariance
likelihoods are only evaluated for the Gaussians a frame selected with the diagonal
approximation (Kaldi's gmm-gselect), one matrix product per component, so memory is
O(frames x n_select) and never O(frames x C x D x D).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from lidtool.errors import CheckpointError
from lidtool.ivector.modelio import load_npz, require, save_npz

DTYPE = torch.float64
LOG_2PI = math.log(2.0 * math.pi)


def _t(a) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a), dtype=DTYPE)


@dataclass
class DiagGmm:
    weights: torch.Tensor  # [C]
    means: torch.Tensor    # [C, D]
    vars: torch.Tensor     # [C, D]

    @property
    def num_comps(self) -> int:
        return int(self.weights.shape[0])

    @property
    def dim(self) -> int:
        return int(self.means.shape[1])

    def _linear_params(self) -> tuple[torch.Tensor, torch.Tensor]:
        inv = 1.0 / self.vars
        gconst = (torch.log(self.weights) - 0.5 * (self.dim * LOG_2PI + torch.log(self.vars).sum(1)
                  + (self.means ** 2 * inv).sum(1)))
        mat = torch.cat([self.means * inv, -0.5 * inv], dim=1)  # [C, 2D]
        return gconst, mat

    def loglikes(self, x: torch.Tensor) -> torch.Tensor:
        """Per-component weighted log-likelihoods log(w_c N(x; mu_c, diag var_c)), [B, C]."""
        gconst, mat = self._linear_params()
        return torch.cat([x, x * x], dim=1) @ mat.T + gconst

    def save(self, path) -> None:
        save_npz(path, "diag_gmm", {"weights": self.weights.numpy(), "means": self.means.numpy(),
                                    "vars": self.vars.numpy()})


@dataclass
class FullGmm:
    weights: torch.Tensor  # [C]
    means: torch.Tensor    # [C, D]
    covs: torch.Tensor     # [C, D, D]

    def __post_init__(self):
        self._cache = None

    @property
    def num_comps(self) -> int:
        return int(self.weights.shape[0])

    @property
    def dim(self) -> int:
        return int(self.means.shape[1])

    def to_diag(self) -> DiagGmm:
        return DiagGmm(self.weights.clone(), self.means.clone(),
                       torch.diagonal(self.covs, dim1=1, dim2=2).clone())

    def _precompute(self):
        if self._cache is None:
            chol = torch.linalg.cholesky(self.covs)                       # covs = L L^T
            eye = torch.eye(self.dim, dtype=DTYPE).expand_as(self.covs)
            inv_chol = torch.linalg.solve_triangular(chol, eye, upper=False)  # L^-1
            logdet = 2.0 * torch.log(torch.diagonal(chol, dim1=1, dim2=2)).sum(1)
            gconst = torch.log(self.weights) - 0.5 * (self.dim * LOG_2PI + logdet)
            self._cache = (inv_chol, gconst)
        return self._cache

    def loglikes_selected(self, x: torch.Tensor, groups: list[torch.Tensor],
                          n_select: int) -> torch.Tensor:
        """Weighted log-likelihoods of the selected (frame, component) pairs.

        `groups[c]` are flat pair indices p = frame * n_select + slot whose component is c
        (see `group_pairs`). Returns a flat [B * n_select] tensor in pair order.
        """
        inv_chol, gconst = self._precompute()
        out = torch.empty(x.shape[0] * n_select, dtype=DTYPE)
        for c, pairs in enumerate(groups):
            if pairs.numel() == 0:
                continue
            z = (x[pairs // n_select] - self.means[c]) @ inv_chol[c].T
            out[pairs] = gconst[c] - 0.5 * (z * z).sum(1)
        return out

    def save(self, path) -> None:
        save_npz(path, "full_gmm", {"weights": self.weights.numpy(), "means": self.means.numpy(),
                                    "covs": self.covs.numpy()})


def group_pairs(sel: torch.Tensor, num_comps: int) -> list[torch.Tensor]:
    """Flat pair indices of a [B, n] selection, grouped by component (list of C tensors)."""
    flat = sel.reshape(-1)
    order = torch.argsort(flat, stable=True)
    counts = torch.bincount(flat, minlength=num_comps)
    return list(torch.split(order, counts.tolist()))


def load_gmm(path) -> DiagGmm | FullGmm:
    """Load a UBM written by `DiagGmm.save` / `FullGmm.save` (CheckpointError if bad)."""
    kind, arrays, _ = load_npz(path, ("diag_gmm", "full_gmm"))
    if kind == "diag_gmm":
        require(arrays, path, ("weights", "means", "vars"))
        gmm = DiagGmm(_t(arrays["weights"]), _t(arrays["means"]), _t(arrays["vars"]))
        second = gmm.vars
    else:
        require(arrays, path, ("weights", "means", "covs"))
        gmm = FullGmm(_t(arrays["weights"]), _t(arrays["means"]), _t(arrays["covs"]))
        second = gmm.covs
    c, d = gmm.means.shape if gmm.means.ndim == 2 else (0, 0)
    if gmm.weights.shape != (c,) or second.shape[:2] != (c, d) or c == 0:
        raise CheckpointError(path, f"inconsistent GMM shapes: weights {tuple(gmm.weights.shape)}"
                              f", means {tuple(gmm.means.shape)}, {tuple(second.shape)}")
    if not (torch.isfinite(gmm.means).all() and torch.isfinite(second).all()):
        raise CheckpointError(path, "GMM holds NaN/Inf values")
    return gmm

