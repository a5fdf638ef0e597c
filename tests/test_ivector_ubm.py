"""GMM-UBM: EM monotonicity, recovery of known Gaussians, parallel stats, storage."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from lidtool.errors import CheckpointError
from lidtool.ivector.feats import chunk_utterances
from lidtool.ivector.gmm import DiagGmm, FullGmm, load_gmm
from lidtool.ivector.ubm import (accumulate, em_iterations, init_diag_ubm, load_stats,
                                 sample_frames, sum_stats, update)

D = torch.float64


def mixture(seed=0, comps=4, dim=3, per=1500):
    g = torch.Generator().manual_seed(seed)
    means = torch.randn(comps, dim, generator=g, dtype=D) * 6
    mix = torch.randn(comps, dim, dim, generator=g, dtype=D) * 0.6
    covs = mix @ mix.transpose(1, 2) + 0.1 * torch.eye(dim, dtype=D)
    chol = torch.linalg.cholesky(covs)
    x = torch.cat([means[c] + torch.randn(per, dim, generator=g, dtype=D) @ chol[c].T
                   for c in range(comps)])
    return x, means, covs


def match(est, true):
    """Index of the nearest estimated mean for every true mean (must be a permutation)."""
    idx = torch.cdist(true, est).argmin(1)
    assert sorted(idx.tolist()) == list(range(true.shape[0]))
    return idx


def test_diag_and_full_em_never_decrease_loglike():
    x, _, _ = mixture()
    gmm = init_diag_ubm(x, 4, iters_per_split=1, seed=1)
    gmm, hist_diag = em_iterations(gmm, x, 6)
    assert all(b >= a - 1e-9 for a, b in zip(hist_diag, hist_diag[1:]))
    full, hist_full = em_iterations(gmm, x, 6, full_stats=True, num_gselect=4)
    assert isinstance(full, FullGmm)
    assert all(b >= a - 1e-9 for a, b in zip(hist_full, hist_full[1:]))
    # full covariances model the correlated clusters better than diagonal ones
    assert hist_full[-1] > hist_diag[-1] + 0.05


def test_ubm_recovers_known_gaussians():
    x, means, covs = mixture(seed=3)
    gmm = init_diag_ubm(x, 4, seed=0)
    gmm, _ = em_iterations(gmm, x, 4)
    full, _ = em_iterations(gmm, x, 5, full_stats=True, num_gselect=2)
    idx = match(full.means, means)
    assert torch.allclose(full.means[idx], means, atol=0.15)
    assert torch.allclose(full.weights, torch.full((4,), 0.25, dtype=D), atol=0.02)
    rel = torch.linalg.matrix_norm(full.covs[idx] - covs) / torch.linalg.matrix_norm(covs)
    assert (rel < 0.15).all()


def test_gselect_stats_approximate_exact_stats():
    x, _, _ = mixture(seed=5)
    gmm, _ = em_iterations(init_diag_ubm(x, 4), x, 2)
    full, _ = em_iterations(gmm, x, 1, full_stats=True, num_gselect=4)
    chunks = list(chunk_utterances([("a", x.numpy())], 2000))
    exact = accumulate(full, chunks, num_gselect=4)
    sel = accumulate(full, chunks, num_gselect=2)
    assert sel.full and sel.second.shape == (4, 3, 3)
    assert torch.allclose(exact.occ, sel.occ, rtol=0.02)
    assert 0 <= exact.avg_loglike - sel.avg_loglike < 0.01   # a truncated sum is smaller


def test_parallel_stats_sum_to_serial_stats(tmp_path):
    x, _, _ = mixture(seed=2)
    gmm = init_diag_ubm(x, 4)
    half = x.shape[0] // 2
    for full in (False, True):
        whole = accumulate(gmm, chunk_utterances([("a", x.numpy())], 1000), full_stats=full)
        a = accumulate(gmm, chunk_utterances([("a", x[:half].numpy())], 700), full_stats=full)
        b = accumulate(gmm, chunk_utterances([("b", x[half:].numpy())], 700), full_stats=full)
        a.save(tmp_path / "acc.1")
        b.save(tmp_path / "acc.2")
        total = sum_stats([tmp_path / "acc.1", tmp_path / "acc.2"])
        assert total.frames == whole.frames
        assert torch.allclose(total.second, whole.second)
        assert total.loglike == pytest.approx(whole.loglike)
        m1, m2 = update(gmm, total), update(gmm, whole)
        assert torch.allclose(m1.means, m2.means)


def test_mismatched_stats_name_the_file(tmp_path):
    x, _, _ = mixture()
    gmm = init_diag_ubm(x, 4)
    chunks = list(chunk_utterances([("a", x.numpy())], 5000))
    accumulate(gmm, chunks).save(tmp_path / "acc.1")
    accumulate(gmm, chunks, full_stats=True).save(tmp_path / "acc.2")
    with pytest.raises(CheckpointError, match="acc.2"):
        sum_stats([tmp_path / "acc.1", tmp_path / "acc.2"])
    assert load_stats(tmp_path / "acc.1").frames == x.shape[0]


def test_models_save_load_and_corrupt_files(tmp_path):
    x, _, _ = mixture()
    diag = init_diag_ubm(x, 4)
    full, _ = em_iterations(diag, x, 1, full_stats=True)
    diag.save(tmp_path / "0.dubm")
    full.save(tmp_path / "1.fubm")
    d2, f2 = load_gmm(tmp_path / "0.dubm"), load_gmm(tmp_path / "1.fubm")
    assert isinstance(d2, DiagGmm) and isinstance(f2, FullGmm)
    assert torch.equal(d2.vars, diag.vars) and torch.equal(f2.covs, full.covs)
    data = (tmp_path / "1.fubm").read_bytes()
    (tmp_path / "bad.fubm").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="bad.fubm"):
        load_gmm(tmp_path / "bad.fubm")
    (tmp_path / "text.fubm").write_text("not a model\n")
    with pytest.raises(CheckpointError, match="text.fubm"):
        load_gmm(tmp_path / "text.fubm")
    accumulate(diag, chunk_utterances([("a", x.numpy())])).save(tmp_path / "acc")
    with pytest.raises(CheckpointError, match="holds a 'ubm_stats'"):
        load_gmm(tmp_path / "acc")
    with pytest.raises(CheckpointError, match="does not exist"):
        load_gmm(tmp_path / "missing.dubm")
    assert sorted(p.name for p in tmp_path.iterdir()) == \
        ["0.dubm", "1.fubm", "acc", "bad.fubm", "text.fubm"]   # no temp files left


def test_init_needs_enough_frames_and_sampling_is_bounded():
    x, _, _ = mixture(per=5)
    with pytest.raises(ValueError, match="too few"):
        init_diag_ubm(x, 16)
    utts = [(f"u{i}", np.full((100, 2), float(i))) for i in range(50)]
    sample = sample_frames(utts, 300, seed=0)
    assert sample.shape == (300, 2)
    assert len(set(sample[:, 0].tolist())) > 25   # drawn from across the whole stream
    assert sample_frames(utts[:2], 1000).shape == (200, 2)


def test_variance_floor_applies_to_degenerate_components():
    x, _, _ = mixture()
    x[:1500] = x[0]            # one cluster collapses onto a single point
    gmm, _ = em_iterations(init_diag_ubm(x, 4), x, 3, var_floor=0.01)
    full, _ = em_iterations(gmm, x, 2, full_stats=True, var_floor=0.01)
    assert torch.isfinite(full.covs).all()
    assert (torch.linalg.eigvalsh(full.covs) > 0).all()
