"""i-vector extractor: EM objective, class separation, E-step against a direct formula,
minimum divergence, posteriors, storage."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from lidtool.errors import CheckpointError, FeatureError
from lidtool.ivector.extractor import (IvectorExtractor, baum_welch, load_extractor,
                                       posteriors, sum_ivector_stats)
from lidtool.ivector.feats import chunk_utterances
from lidtool.ivector.ubm import em_iterations, init_diag_ubm

D = torch.float64
C, DIM, R = 6, 4, 3


def corpus(seed=0, n_utts=60, frames=150):
    """Utterances of 3 classes from a true total-variability model."""
    g = torch.Generator().manual_seed(seed)
    means = torch.randn(C, DIM, generator=g, dtype=D) * 5
    T = torch.randn(C, DIM, R, generator=g, dtype=D)
    centres = torch.randn(3, R, generator=g, dtype=D) * 1.5
    utts, labels = [], []
    for u in range(n_utts):
        k = u % 3
        w = centres[k] + 0.3 * torch.randn(R, generator=g, dtype=D)
        comp = torch.randint(0, C, (frames,), generator=g)
        x = means[comp] + T[comp] @ w + 0.7 * torch.randn(frames, DIM, generator=g, dtype=D)
        utts.append((f"utt{u:03d}", x.numpy()))
        labels.append(k)
    return utts, np.array(labels)


@pytest.fixture(scope="module")
def trained():
    utts, labels = corpus()
    x = torch.cat([torch.as_tensor(a) for _, a in utts])
    ubm, _ = em_iterations(init_diag_ubm(x, C), x, 3)
    ubm, _ = em_iterations(ubm, x, 3, full_stats=True)
    ie = IvectorExtractor.init_from_ubm(ubm, R, num_gselect=C, min_post=0.0)
    history = []
    for _ in range(6):
        st = ie.accumulate(chunk_utterances(utts, 2000))
        history.append(st.objective_per_frame)
        ie = ie.update(st)
    return ie, utts, labels, history


def test_em_objective_never_decreases(trained):
    *_, history = trained
    assert all(b >= a - 1e-9 for a, b in zip(history, history[1:]))
    assert history[-1] > history[0]


def test_ivectors_separate_classes(trained):
    ie, utts, labels, _ = trained
    test, test_labels = corpus(seed=0, n_utts=90)[0][60:], np.arange(60, 90) % 3
    train_iv = dict(ie.extract(chunk_utterances(utts, 2000)))
    X = np.stack([train_iv[u] for u, _ in utts])
    assert X.shape == (60, R) and X.dtype == np.float32
    centres = np.stack([X[labels == k].mean(0) for k in range(3)])
    test_iv = dict(ie.extract(chunk_utterances(test, 2000)))
    Y = np.stack([test_iv[u] for u, _ in test])
    pred = np.argmin(((Y[:, None, :] - centres[None]) ** 2).sum(-1), 1)
    assert (pred == test_labels).mean() >= 0.9


def test_minimum_divergence_keeps_prior_standard(trained):
    ie, utts, _, _ = trained
    st = ie.accumulate(chunk_utterances(utts, 2000))
    h = st.w_sum / st.num_utts
    K = st.ww_sum / st.num_utts - torch.outer(h, h)
    assert h.abs().max() < 0.05
    assert torch.allclose(K, torch.eye(R, dtype=D), atol=0.1)


def test_estep_matches_direct_formula(trained):
    ie, utts, _, _ = trained
    chunk = next(iter(chunk_utterances(utts[:3], 10)))     # a chunk of one utterance
    bw = baum_welch(ie.ubm, chunk, **ie.post_opts)
    w, ww, _, _ = ie.estep(bw)
    prec = torch.linalg.inv(ie.ubm.covs)
    L = torch.eye(R, dtype=D)
    b = torch.zeros(R, dtype=D)
    for c in range(C):
        n = bw.occ[0, c]
        L += n * ie.T[c].T @ prec[c] @ ie.T[c]
        b += ie.T[c].T @ prec[c] @ (bw.first[0, c] - n * ie.means[c])
    expect = torch.linalg.solve(L, b)
    assert torch.allclose(w[0], expect, atol=1e-8)
    assert torch.allclose(ww[0], torch.linalg.inv(L) + torch.outer(expect, expect), atol=1e-8)
    assert torch.allclose(bw.occ.sum(), torch.tensor(float(chunk.x.shape[0]), dtype=D))


def test_posteriors_pruned_and_renormalised(trained):
    ie, utts, _, _ = trained
    x = torch.as_tensor(utts[0][1])
    sel, post = posteriors(ie.ubm, x, num_gselect=4, min_post=0.2, posterior_scale=0.5)
    assert sel.shape == post.shape == (x.shape[0], 4)
    assert torch.allclose(post.sum(1), torch.full((x.shape[0],), 0.5, dtype=D))
    kept = post[post > 0]
    assert (kept >= 0.5 * 0.2 - 1e-12).all()      # renormalising only raises what is kept
    assert kept.numel() < post.numel()             # something was pruned


def test_parallel_stats_and_storage(trained, tmp_path):
    ie, utts, _, _ = trained
    ie.accumulate(chunk_utterances(utts[:30], 500)).save(tmp_path / "acc.1")
    ie.accumulate(chunk_utterances(utts[30:], 500)).save(tmp_path / "acc.2")
    whole = ie.accumulate(chunk_utterances(utts, 3000))
    total = sum_ivector_stats([tmp_path / "acc.1", tmp_path / "acc.2"])
    assert total.num_utts == 60
    assert torch.allclose(total.quad, whole.quad) and torch.allclose(total.lin, whole.lin)
    assert total.objective == pytest.approx(whole.objective)
    ie.save(tmp_path / "final.ie")
    again = load_extractor(tmp_path / "final.ie")
    assert again.post_opts == ie.post_opts
    a = dict(ie.extract(chunk_utterances(utts[:5], 100)))
    b = dict(again.extract(chunk_utterances(utts[:5], 100)))
    assert all(np.array_equal(a[k], b[k]) for k in a)
    raw = (tmp_path / "final.ie").read_bytes()
    (tmp_path / "cut.ie").write_bytes(raw[:100])
    with pytest.raises(CheckpointError, match="cut.ie"):
        load_extractor(tmp_path / "cut.ie")
    with pytest.raises(CheckpointError, match="acc.1"):
        load_extractor(tmp_path / "acc.1")


def test_chunking_rejects_wrong_dimension_and_empty_utterances():
    with pytest.raises(FeatureError, match="feats.scp: utterance 'a' has feature dimension 5, "
                                           "the model expects 4"):
        list(chunk_utterances([("a", np.zeros((10, 5)))], dim=4, where="feats.scp"))
    with pytest.raises(FeatureError, match="'b' is empty"):
        list(chunk_utterances([("a", np.zeros((10, 4))), ("b", np.zeros((0, 4)))]))
