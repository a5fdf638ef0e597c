"""GMM-UBM training: statistics, EM updates and Kaldi-style initialisation by splitting.

The parallel recipe is Kaldi's: each job runs `accumulate` over its split of the data and
writes a `UbmStats` file, the update step sums them (`sum_stats`) and applies `update`.
Diagonal EM uses exact posteriors over all components. Full-covariance statistics use
Gaussian selection: each frame keeps its `num_gselect` best components under the diagonal
approximation of the current model and posteriors are computed over those only (full
likelihoods for a full model). Accumulating full statistics from a diagonal model is how a
diagonal UBM becomes a full one (Kaldi's gmm-global-to-fgmm followed by full EM).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Iterable

import numpy as np
import torch

from lidtool.ivector.feats import Chunk
from lidtool.ivector.gmm import DTYPE, DiagGmm, FullGmm, group_pairs
from lidtool.ivector.modelio import load_npz, require, save_npz, sum_stats_files

log = logging.getLogger(__name__)


@dataclass
class UbmStats:
    occ: torch.Tensor      # [C]
    first: torch.Tensor    # [C, D]
    second: torch.Tensor   # [C, D] (diag) or [C, D, D] (full)
    loglike: float = 0.0   # total frame log-likelihood under the model that made the stats
    frames: int = 0

    @property
    def full(self) -> bool:
        return self.second.ndim == 3

    @classmethod
    def zeros(cls, num_comps: int, dim: int, full: bool) -> "UbmStats":
        second = (num_comps, dim, dim) if full else (num_comps, dim)
        return cls(torch.zeros(num_comps, dtype=DTYPE), torch.zeros(num_comps, dim, dtype=DTYPE),
                   torch.zeros(second, dtype=DTYPE))

    def add(self, other: "UbmStats") -> None:
        self.occ += other.occ
        self.first += other.first
        self.second += other.second
        self.loglike += other.loglike
        self.frames += other.frames

    @property
    def avg_loglike(self) -> float:
        return self.loglike / max(1, self.frames)

    def save(self, path) -> None:
        save_npz(path, "ubm_stats", {"occ": self.occ.numpy(), "first": self.first.numpy(),
                                     "second": self.second.numpy(),
                                     "loglike": np.float64(self.loglike),
                                     "frames": np.int64(self.frames)})


def load_stats(path) -> UbmStats:
    _, a, _ = load_npz(path, "ubm_stats")
    require(a, path, ("occ", "first", "second", "loglike", "frames"))
    return UbmStats(torch.as_tensor(a["occ"]), torch.as_tensor(a["first"]),
                    torch.as_tensor(a["second"]), float(a["loglike"]), int(a["frames"]))


def sum_stats(paths: Iterable) -> UbmStats:
    """Sum the statistics files of parallel jobs (shapes must agree)."""
    return sum_stats_files(paths, load_stats, lambda s: s.second.shape)


def accumulate(gmm: DiagGmm | FullGmm, chunks: Iterable[Chunk], *, full_stats: bool = False,
               num_gselect: int = 20) -> UbmStats:
    """E-step over `chunks`: zeroth/first/second-order statistics and the log-likelihood."""
    is_full = isinstance(gmm, FullGmm)
    full = is_full or full_stats
    diag = gmm.to_diag() if is_full else gmm
    C, D = gmm.num_comps, gmm.dim
    st = UbmStats.zeros(C, D, full)
    n = min(num_gselect, C)
    for ch in chunks:
        x = ch.x
        dll = diag.loglikes(x)
        if not full:
            ll = torch.logsumexp(dll, 1)
            post = torch.exp(dll - ll[:, None])
            st.occ += post.sum(0)
            st.first += post.T @ x
            st.second += post.T @ (x * x)
        else:
            top, sel = dll.topk(n, dim=1)
            groups = group_pairs(sel, C)
            pll = gmm.loglikes_selected(x, groups, n).view(-1, n) if is_full else top
            ll = torch.logsumexp(pll, 1)
            post = torch.exp(pll - ll[:, None]).reshape(-1)
            comp = sel.reshape(-1)
            st.occ.index_add_(0, comp, post)
            st.first.index_add_(0, comp, post[:, None] * x.repeat_interleave(n, 0))
            for c, pairs in enumerate(groups):
                if pairs.numel():
                    xc = x[pairs // n]
                    st.second[c] += (xc * post[pairs, None]).T @ xc
        st.loglike += float(ll.sum())
        st.frames += int(x.shape[0])
    return st


def update(old: DiagGmm | FullGmm, st: UbmStats, *, var_floor: float = 0.01,
           min_occ: float = 1e-3) -> DiagGmm | FullGmm:
    """M-step. Variances are floored at `var_floor` times the global (co)variance (full
    models: eigenvalues in the space whitened by the global covariance). Components with
    occupancy below `min_occ` keep their previous mean and (co)variance."""
    occ = st.occ
    total = float(occ.sum())
    if total <= 0:
        raise ValueError("statistics have zero occupancy")
    weights = torch.clamp(occ / total, min=1e-10)
    weights = weights / weights.sum()
    ok = occ > min_occ
    safe = torch.where(ok, occ, torch.ones_like(occ))
    means = st.first / safe[:, None]
    gmean = st.first.sum(0) / total
    if not st.full:
        gvar = st.second.sum(0) / total - gmean ** 2
        var = st.second / safe[:, None] - means ** 2
        var = torch.maximum(var, var_floor * gvar)
        old_means = old.means
        old_vars = old.vars if isinstance(old, DiagGmm) else torch.diagonal(old.covs, 0, 1, 2)
        means = torch.where(ok[:, None], means, old_means)
        var = torch.where(ok[:, None], var, old_vars)
        return DiagGmm(weights, means, var)
    gcov = st.second.sum(0) / total - torch.outer(gmean, gmean)
    covs = st.second / safe[:, None, None] - means[:, :, None] * means[:, None, :]
    covs = floor_covariances(covs, gcov, var_floor)
    if isinstance(old, FullGmm):
        old_covs = old.covs
    else:
        old_covs = torch.diag_embed(old.vars)
    means = torch.where(ok[:, None], means, old.means)
    covs = torch.where(ok[:, None, None], covs, old_covs)
    return FullGmm(weights, means, covs)


def floor_covariances(covs: torch.Tensor, gcov: torch.Tensor, floor: float) -> torch.Tensor:
    """Floor eigenvalues of G^-1/2 S G^-1/2 at `floor` (G = global covariance); symmetric out."""
    evals, evecs = torch.linalg.eigh(gcov)
    evals = torch.clamp(evals, min=1e-10 * float(evals.max()))
    w = evecs * evals.rsqrt()            # G^-1/2 = evecs diag(1/sqrt) evecs^T  (use w w^T form)
    w_inv = evecs * evals.sqrt()
    white = w.T @ covs @ w               # [C, D, D]
    white = 0.5 * (white + white.transpose(1, 2))
    e, v = torch.linalg.eigh(white)
    e = torch.clamp(e, min=floor)
    white = (v * e[:, None, :]) @ v.transpose(1, 2)
    out = w_inv @ white @ w_inv.T
    return 0.5 * (out + out.transpose(1, 2))


def em_iterations(gmm, frames: torch.Tensor, iters: int, *, full_stats: bool = False,
                  num_gselect: int = 20, chunk_frames: int = 20000, var_floor: float = 0.01):
    """In-memory EM on a [N, D] frame matrix; returns (model, [avg loglike per iteration])."""
    history = []
    for _ in range(iters):
        chunks = (Chunk(frames[i:i + chunk_frames], torch.zeros(0, dtype=torch.int64), [])
                  for i in range(0, frames.shape[0], chunk_frames))
        st = accumulate(gmm, chunks, full_stats=full_stats, num_gselect=num_gselect)
        history.append(st.avg_loglike)
        gmm = update(gmm, st, var_floor=var_floor)
    return gmm, history


def init_diag_ubm(frames: torch.Tensor, num_comps: int, *, iters_per_split: int = 2,
                  perturb: float = 0.2, var_floor: float = 0.01, seed: int = 0) -> DiagGmm:
    """Start from one Gaussian and split the heaviest components (Kaldi-style) until there
    are `num_comps`, with a few EM iterations after each round of splitting."""
    frames = torch.as_tensor(frames, dtype=DTYPE)
    n, dim = frames.shape
    if n < 2 * num_comps:
        raise ValueError(f"{n} frames are too few to initialise {num_comps} Gaussians "
                         f"(need at least {2 * num_comps})")
    gen = torch.Generator().manual_seed(seed)
    mean = frames.mean(0)
    var = torch.clamp(frames.var(0, unbiased=False), min=1e-6)
    gmm = DiagGmm(torch.ones(1, dtype=DTYPE), mean[None].clone(), var[None].clone())
    while gmm.num_comps < num_comps:
        k = min(gmm.num_comps, num_comps - gmm.num_comps)
        heavy = torch.argsort(gmm.weights, descending=True)[:k]
        delta = perturb * torch.randn(k, dim, generator=gen, dtype=DTYPE) * gmm.vars[heavy].sqrt()
        means = gmm.means.clone()
        means[heavy] += delta
        weights = gmm.weights.clone()
        weights[heavy] *= 0.5
        gmm = DiagGmm(torch.cat([weights, weights[heavy]]),
                      torch.cat([means, gmm.means[heavy] - delta]),
                      torch.cat([gmm.vars, gmm.vars[heavy]]))
        gmm, hist = em_iterations(gmm, frames, iters_per_split, var_floor=var_floor)
        log.info("init: %d Gaussians, avg loglike %.4f", gmm.num_comps, hist[-1])
    return gmm


def sample_frames(utterances, max_frames: int, seed: int = 0) -> torch.Tensor:
    """Uniform random subset (reservoir sampling) of at most `max_frames` frames."""
    rng = np.random.default_rng(seed)
    buf, seen = None, 0
    for _, x in utterances:
        x = np.asarray(x, dtype=np.float64)
        if buf is None:
            buf = np.empty((max_frames, x.shape[1]))
        take = min(x.shape[0], max(0, max_frames - seen))
        buf[seen:seen + take] = x[:take]
        rest = x[take:]
        if rest.shape[0]:
            pos = np.arange(seen + take, seen + x.shape[0])
            j = rng.integers(0, pos + 1)
            keep = j < max_frames
            buf[j[keep]] = rest[keep]
        seen += x.shape[0]
    if buf is None:
        raise ValueError("no frames")
    return torch.as_tensor(buf[:min(seen, max_frames)])
