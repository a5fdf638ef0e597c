"""Total-variability i-vector extractor: Baum-Welch statistics, E-step, EM with the
minimum-divergence step, extraction.

Model: for an utterance with component-aligned frames, x_t ~ N(m_c + T_c w, Sigma_c) with
w ~ N(0, I) (centred formulation; Sigma_c are the full-covariance UBM covariances, kept
fixed). Alignments are full-UBM posteriors with Gaussian selection and Kaldi's min-post
pruning (`posteriors`). For each utterance
    L = I + sum_c N_c T_c' S_c^-1 T_c,   b = sum_c T_c' S_c^-1 (F_c - N_c m_c),
    E[w] = L^-1 b,  E[w w'] = L^-1 + E[w] E[w]'.
M-step: T_c = (sum_u F~_c E[w]') (sum_u N_c E[w w'])^-1. Minimum divergence: with
h = mean E[w] and K = mean E[w w'] - h h' = G G', set m_c += T_c h and T_c <- T_c G, so
the i-vector prior stays N(0, I). The per-utterance marginal log-likelihood (parameter-
dependent part) is the EM objective and never decreases.

The R x R matrices per component are stored packed (upper triangle), accumulated with
one [utts x C] @ [C x R(R+1)/2] product per chunk: memory O(C R^2 / 2), never per utterance.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np
import torch

from lidtool.errors import CheckpointError
from lidtool.ivector.feats import Chunk
from lidtool.ivector.gmm import DTYPE, FullGmm, group_pairs
from lidtool.ivector.modelio import load_npz, require, save_npz, sum_stats_files


def _packed_index(r: int) -> tuple[torch.Tensor, torch.Tensor]:
    idx = torch.triu_indices(r, r)
    return idx[0], idx[1]


def unpack(packed: torch.Tensor, r: int) -> torch.Tensor:
    """[..., R(R+1)/2] upper triangles -> symmetric [..., R, R]."""
    i, j = _packed_index(r)
    out = torch.zeros(packed.shape[:-1] + (r, r), dtype=packed.dtype)
    out[..., i, j] = packed
    out[..., j, i] = packed
    return out


@dataclass
class BaumWelch:
    utts: list[str]
    occ: torch.Tensor    # [U, C]  zeroth order
    first: torch.Tensor  # [U, C, D] first order (not centred)


def posteriors(ubm: FullGmm, x: torch.Tensor, *, num_gselect: int = 20, min_post: float = 0.025,
               posterior_scale: float = 1.0):
    """Full-UBM posteriors with Gaussian selection; entries under `min_post` are dropped and
    the rest renormalised (the best one is always kept). Returns (sel [B, n], post [B, n])."""
    C = ubm.num_comps
    n = min(num_gselect, C)
    _, sel = ubm.to_diag().loglikes(x).topk(n, dim=1)
    pll = ubm.loglikes_selected(x, group_pairs(sel, C), n).view(-1, n)
    post = torch.softmax(pll, dim=1)
    if min_post > 0:
        keep = (post >= min_post) | (post == post.max(1, keepdim=True).values)
        post = post * keep
        post = post / post.sum(1, keepdim=True)
    return sel, post * posterior_scale


def baum_welch(ubm: FullGmm, chunk: Chunk, **post_opts) -> BaumWelch:
    """Per-utterance zeroth/first-order statistics of one chunk of frames."""
    C, D = ubm.num_comps, ubm.dim
    U = len(chunk.utts)
    sel, post = posteriors(ubm, chunk.x, **post_opts)
    n = sel.shape[1]
    rows = (chunk.utt_index[:, None] * C + sel).reshape(-1)
    p = post.reshape(-1)
    occ = torch.zeros(U * C, dtype=DTYPE).index_add_(0, rows, p)
    first = torch.zeros(U * C, D, dtype=DTYPE).index_add_(
        0, rows, p[:, None] * chunk.x.repeat_interleave(n, 0))
    return BaumWelch(chunk.utts, occ.view(U, C), first.view(U, C, D))


@dataclass
class IvectorStats:
    lin: torch.Tensor     # [C, D, R]  sum_u F~_c E[w]'
    quad: torch.Tensor    # [C, R(R+1)/2]  sum_u N_c E[ww'] (packed)
    occ: torch.Tensor     # [C]
    w_sum: torch.Tensor   # [R]
    ww_sum: torch.Tensor  # [R, R]
    num_utts: int = 0
    objective: float = 0.0

    def add(self, o: "IvectorStats") -> None:
        for name in ("lin", "quad", "occ", "w_sum", "ww_sum"):
            getattr(self, name).add_(getattr(o, name))
        self.num_utts += o.num_utts
        self.objective += o.objective

    @property
    def frames(self) -> float:
        return float(self.occ.sum())

    @property
    def objective_per_frame(self) -> float:
        return self.objective / max(self.frames, 1e-10)

    def save(self, path) -> None:
        save_npz(path, "ivector_stats", {
            "lin": self.lin.numpy(), "quad": self.quad.numpy(), "occ": self.occ.numpy(),
            "w_sum": self.w_sum.numpy(), "ww_sum": self.ww_sum.numpy(),
            "num_utts": np.int64(self.num_utts), "objective": np.float64(self.objective)})


def load_ivector_stats(path) -> IvectorStats:
    _, a, _ = load_npz(path, "ivector_stats")
    names = ("lin", "quad", "occ", "w_sum", "ww_sum", "num_utts", "objective")
    require(a, path, names)
    return IvectorStats(*(torch.as_tensor(a[k]) for k in names[:5]), int(a["num_utts"]),
                        float(a["objective"]))


def sum_ivector_stats(paths: Iterable) -> IvectorStats:
    return sum_stats_files(paths, load_ivector_stats, lambda s: s.lin.shape)


class IvectorExtractor:
    def __init__(self, ubm: FullGmm, means: torch.Tensor, T: torch.Tensor, *,
                 num_gselect: int = 20, min_post: float = 0.025, posterior_scale: float = 1.0):
        self.ubm, self.means, self.T = ubm, means, T
        self.post_opts = dict(num_gselect=int(num_gselect), min_post=float(min_post),
                              posterior_scale=float(posterior_scale))
        self._cache = None

    @classmethod
    def init_from_ubm(cls, ubm: FullGmm, ivector_dim: int, *, scale: float = 0.2, seed: int = 0,
                      **post_opts) -> "IvectorExtractor":
        gen = torch.Generator().manual_seed(seed)
        chol = torch.linalg.cholesky(ubm.covs)
        T = scale * chol @ torch.randn(ubm.num_comps, ubm.dim, ivector_dim, generator=gen,
                                       dtype=DTYPE)
        return cls(ubm, ubm.means.clone(), T, **post_opts)

    @property
    def ivector_dim(self) -> int:
        return int(self.T.shape[2])

    @property
    def dim(self) -> int:
        return self.ubm.dim

    def _precompute(self):
        if self._cache is None:
            C, D, R = self.T.shape
            prec = torch.cholesky_inverse(torch.linalg.cholesky(self.ubm.covs))  # [C, D, D]
            prec = 0.5 * (prec + prec.transpose(1, 2))
            W = prec @ self.T                                              # S^-1 T  [C, D, R]
            i, j = _packed_index(R)
            quad = torch.empty(C, i.numel(), dtype=DTYPE)
            for s in range(0, C, 64):                                     # bounded temp memory
                q = self.T[s:s + 64].transpose(1, 2) @ W[s:s + 64]
                quad[s:s + 64] = q[:, i, j]
            pm = (prec @ self.means[:, :, None])[..., 0]                  # S^-1 m  [C, D]
            self._cache = (W.reshape(C * D, R), quad, pm, (self.means * pm).sum(1))
        return self._cache

    def estep(self, bw: BaumWelch):
        """Posterior mean [U, R], E[ww'] [U, R, R] and objective [U] per utterance."""
        W, quad, pm, mpm = self._precompute()
        U, C, D = bw.first.shape
        R = self.ivector_dim
        centred = (bw.first - bw.occ[:, :, None] * self.means).reshape(U, C * D)
        b = centred @ W
        L = unpack(bw.occ @ quad, R) + torch.eye(R, dtype=DTYPE)
        chol = torch.linalg.cholesky(L)
        w = torch.cholesky_solve(b[:, :, None], chol)[..., 0]
        cov = torch.cholesky_inverse(chol)
        logdet = 2.0 * torch.log(torch.diagonal(chol, dim1=1, dim2=2)).sum(1)
        obj = (bw.first.reshape(U, C * D) @ pm.reshape(-1) - 0.5 * bw.occ @ mpm
               + 0.5 * (b * w).sum(1) - 0.5 * logdet)
        return w, cov + w[:, :, None] * w[:, None, :], obj, centred

    def accumulate(self, chunks: Iterable[Chunk]) -> IvectorStats:
        C, D, R = self.T.shape
        i, j = _packed_index(R)
        st = IvectorStats(torch.zeros(C, D, R, dtype=DTYPE), torch.zeros(C, i.numel(), dtype=DTYPE),
                          torch.zeros(C, dtype=DTYPE), torch.zeros(R, dtype=DTYPE),
                          torch.zeros(R, R, dtype=DTYPE))
        for ch in chunks:
            bw = baum_welch(self.ubm, ch, **self.post_opts)
            w, ww, obj, centred = self.estep(bw)
            st.lin += (centred.T @ w).view(C, D, R)
            st.quad += bw.occ.T @ ww[:, i, j]
            st.occ += bw.occ.sum(0)
            st.w_sum += w.sum(0)
            st.ww_sum += ww.sum(0)
            st.num_utts += len(bw.utts)
            st.objective += float(obj.sum())
        return st

    def update(self, st: IvectorStats, *, min_divergence: bool = True,
               min_occ: float = 1e-3) -> "IvectorExtractor":
        """M-step (and minimum-divergence re-parameterisation); returns a new extractor."""
        C, D, R = self.T.shape
        T = self.T.clone()
        ok = torch.nonzero(st.occ > min_occ).reshape(-1)
        for s in range(0, ok.numel(), 64):
            comps = ok[s:s + 64]
            # A is symmetric positive definite: Cholesky (batched LU in some MKL builds fails
            # on well-conditioned batches of this kind)
            chol = torch.linalg.cholesky(unpack(st.quad[comps], R))
            T[comps] = torch.cholesky_solve(st.lin[comps].transpose(1, 2), chol).transpose(1, 2)
        means = self.means.clone()
        if min_divergence and st.num_utts > 0:
            h = st.w_sum / st.num_utts
            K = st.ww_sum / st.num_utts - torch.outer(h, h)
            G = torch.linalg.cholesky(0.5 * (K + K.T))
            means = means + T @ h
            T = T @ G
        return IvectorExtractor(self.ubm, means, T, **self.post_opts)

    def extract(self, chunks: Iterable[Chunk]):
        """Yield (utt, i-vector float32 [R]) for every utterance of `chunks`."""
        for ch in chunks:
            w, _, _, _ = self.estep(baum_welch(self.ubm, ch, **self.post_opts))
            for utt, vec in zip(ch.utts, w.numpy().astype(np.float32)):
                yield utt, vec

    def save(self, path) -> None:
        save_npz(path, "ivector_extractor", {
            "ubm_weights": self.ubm.weights.numpy(), "ubm_means": self.ubm.means.numpy(),
            "ubm_covs": self.ubm.covs.numpy(), "means": self.means.numpy(), "T": self.T.numpy()},
            meta=self.post_opts)


def load_extractor(path) -> IvectorExtractor:
    _, a, meta = load_npz(path, "ivector_extractor")
    require(a, path, ("ubm_weights", "ubm_means", "ubm_covs", "means", "T"))
    t = {k: torch.as_tensor(v, dtype=DTYPE) for k, v in a.items()}
    C, D = t["ubm_means"].shape
    if t["T"].ndim != 3 or t["T"].shape[:2] != (C, D) or t["means"].shape != (C, D) \
            or t["ubm_covs"].shape != (C, D, D):
        raise CheckpointError(path, "inconsistent i-vector extractor shapes")
    ubm = FullGmm(t["ubm_weights"], t["ubm_means"], t["ubm_covs"])
    return IvectorExtractor(ubm, t["means"], t["T"], **meta)
