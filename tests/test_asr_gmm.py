"""lidtool.asr.gmm: likelihoods agree with kaldi_hmm_gmm, EM never lowers the likelihood."""
import kaldi_hmm_gmm as khg
import numpy as np
import pytest

from lidtool.asr.gmm import GmmSet


def _random_set(rng, P=3, K=4, D=5):
    w = rng.random((P, K)) + 0.1
    w[0, 3] = 0.0                                  # pdf 0 has only 3 Gaussians
    w /= w.sum(1, keepdims=True)
    return GmmSet(w, rng.normal(size=(P, K, D)), rng.random((P, K, D)) + 0.3)


def test_loglikes_match_kaldi_diag_gmm():
    rng = np.random.default_rng(0)
    g = _random_set(rng)
    x = rng.normal(size=(7, 5))
    ours = g.all_loglikes(x)
    for p in range(g.num_pdfs):
        k = int(g.num_gauss()[p])
        kg = khg.DiagGmm()
        kg.resize(k, 5)
        kg.set_weights(g.weights[p, :k].astype(np.float32))
        kg.set_invvars_and_means((1.0 / g.variances[p, :k]).astype(np.float32),
                                 g.means[p, :k].astype(np.float32))
        kg.compute_gconsts()
        ref = [kg.log_likelihood(x[t].astype(np.float32)) for t in range(7)]
        np.testing.assert_allclose(ours[:, p], ref, rtol=1e-4, atol=1e-3)
    pdfs = np.array([0, 1, 2, 2, 1, 0, 1])
    np.testing.assert_allclose(g.frame_loglikes(x, pdfs), ours[np.arange(7), pdfs],
                               rtol=1e-5, atol=1e-4)


def test_em_never_lowers_likelihood_and_mixup_reaches_target():
    rng = np.random.default_rng(1)
    D = 4
    centres = rng.normal(0, 3, size=(2, 3, D))          # 2 pdfs, 3 true clusters each
    pdfs = rng.integers(0, 2, size=3000)
    x = centres[pdfs, rng.integers(0, 3, size=3000)] + rng.normal(size=(3000, D))
    g = GmmSet.single_gaussians(np.zeros((2, D)), np.ones((2, D)))
    floor = 0.01 * x.var(0)
    prev = -np.inf
    for it in range(12):
        stats = g.new_stats()
        g.accumulate(x, pdfs, stats)
        assert stats.loglike >= prev - 1e-6 * abs(prev), f"likelihood fell at iter {it}"
        g.update(stats, var_floor=floor)
        after = g.frame_loglikes(x, pdfs).sum()
        assert after >= stats.loglike - 1e-6 * abs(stats.loglike)
        prev = after
        if it == 3:
            g.mix_up(stats.pdf_occupancy(), 6, min_count=20)
            assert g.total_gauss() == 6
            prev = -np.inf                              # splitting may lower it once
    assert g.total_gauss() == 6
    np.testing.assert_allclose(g.weights.sum(1), 1.0)


def test_bad_shapes_rejected():
    with pytest.raises(ValueError, match="inconsistent"):
        GmmSet(np.ones((2, 1)), np.zeros((2, 2, 3)), np.ones((2, 2, 3)))
