"""Verification back-ends: cosine range/symmetry, PLDA accuracy, storage, dimension errors."""
from __future__ import annotations

import numpy as np
import pytest
from sv_embeddings import speaker_vectors

from lidtool.backend.verification import SvBackend
from lidtool.errors import CheckpointError, FeatureError
from lidtool.metrics.detection import eer


def pair_eer(be, X, spks):
    Z = be.transform(X)
    S = be.score_matrix(Z, 1, Z, 1)
    same = np.equal.outer(spks, spks)
    upper = np.triu_indices(len(X), 1)
    return eer(S[upper][same[upper]], S[upper][~same[upper]])


def test_cosine_scores_symmetric_and_within_minus_one_one():
    utts, X, spks = speaker_vectors(0, 6, 4, "s")
    for be in (SvBackend.cosine(), SvBackend.cosine(mean=X.mean(0))):
        Z = be.transform(X)
        S = be.score_matrix(Z, 1, Z, 1)
        assert np.array_equal(S, S.T)
        assert S.min() >= -1.0 and S.max() <= 1.0
        assert np.diag(S) == pytest.approx(1.0)
        rows = np.arange(len(X))[::-1]
        assert be.score_pairs(Z, 1, Z[rows], 1) == pytest.approx(S[np.arange(len(X)), rows])


def test_cosine_with_mean_is_the_cosine_of_the_centred_vectors():
    x, y, m = np.array([[4.0, 1.0]]), np.array([[1.0, 3.0]]), np.array([1.0, 1.0])
    be = SvBackend.cosine(mean=m)
    # x - m = (3, 0), y - m = (0, 2): orthogonal; without the mean cos = 7 / sqrt(17 * 10)
    assert be.score_pairs(be.transform(x), 1, be.transform(y), 1) == pytest.approx([0.0])
    plain = SvBackend.cosine()
    assert plain.score_pairs(plain.transform(x), 1, plain.transform(y), 1) == pytest.approx(
        [7 / np.sqrt(170)])


def test_cosine_model_is_the_renormalised_mean_of_unit_vectors():
    be = SvBackend.cosine()
    Z = be.transform(np.array([[3.0, 0.0], [0.0, 1.0]]))
    M, n = be.models([Z])
    assert M[0] == pytest.approx([np.sqrt(0.5), np.sqrt(0.5)])
    assert n.tolist() == [2.0]


def test_plda_beats_chance_and_cosine_on_held_out_speakers():
    _, X, spks = speaker_vectors(3, 150, 6, "t")
    be = SvBackend.train_plda(X, spks, lda_dim=16, iters=5)
    assert be.info == {"train_vectors": 900, "train_speakers": 150, "lda_dim": 16,
                       "plda_iters": 5}
    _, T, test_spks = speaker_vectors(4, 25, 4, "e")
    plda_eer = pair_eer(be, T, test_spks)
    assert plda_eer < 0.1                                         # chance is 0.5
    assert plda_eer <= pair_eer(SvBackend.cosine(), T, test_spks)


def test_plda_enrolment_over_several_utterances_helps():
    _, X, spks = speaker_vectors(5, 300, 6, "t", noise=2.0)
    be = SvBackend.train_plda(X, spks, lda_dim=0, iters=5)
    assert be.lda is None
    _, T, test_spks = speaker_vectors(6, 200, 5, "e", noise=2.0)
    Z = be.transform(T)
    test_spks = np.array(test_spks)
    first = np.array([i % 5 == 0 for i in range(len(T))])   # one test utterance per speaker
    enrol = [Z[(test_spks == s) & ~first] for s in np.unique(test_spks)]
    M4, n4 = be.models(enrol)
    M1, n1 = be.models([g[:1] for g in enrol])
    same = np.equal.outer(np.unique(test_spks), test_spks[first])
    results = []
    for M, n in ((M1, n1), (M4, n4)):
        S = be.score_matrix(M, n, Z[first], 1)
        results.append(eer(S[same], S[~same]))
    assert n4.tolist() == [4.0] * 200
    assert results[1] < results[0]


def test_save_load_round_trip(tmp_path):
    _, X, spks = speaker_vectors(7, 40, 5, "t")
    for be in (SvBackend.train_plda(X, spks, lda_dim=10, iters=2),
               SvBackend.cosine(mean=X.mean(0)), SvBackend.cosine()):
        path = tmp_path / f"{be.kind}.npz"
        be.save(path)
        again = SvBackend.load(path)
        assert (again.kind, again.input_dim, again.info) == (be.kind, be.input_dim, be.info)
        Z, Z2 = be.transform(X[:7]), again.transform(X[:7])
        assert np.array_equal(be.score_matrix(Z, 2, Z, 1), again.score_matrix(Z2, 2, Z2, 1))


def test_wrong_dimension_and_bad_files(tmp_path):
    _, X, spks = speaker_vectors(8, 20, 3, "t")
    be = SvBackend.train_plda(X, spks, lda_dim=5, iters=1)
    with pytest.raises(FeatureError, match="vectors.scp: vectors have dimension 3, the "
                       "back-end was trained on dimension 24"):
        be.transform(np.zeros((2, 3)), where="vectors.scp")
    with pytest.raises(FeatureError, match="at least 2 speakers"):
        SvBackend.train_plda(X, ["one"] * len(X))
    bad = tmp_path / "plda.npz"
    bad.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(CheckpointError, match=str(bad)):
        SvBackend.load(bad)


def test_plda_without_lda_centres_before_the_length_norm(tmp_path):
    _, X, spks = speaker_vectors(3, 60, 5, "t")
    _, T, _ = speaker_vectors(4, 10, 3, "e")
    shift = 25.0                        # a common offset must not change any score
    a = SvBackend.train_plda(X, spks, lda_dim=0, iters=3)
    b = SvBackend.train_plda(X + shift, spks, lda_dim=0, iters=3)
    Sa = a.score_matrix(a.transform(T), 1, a.transform(T), 1)
    Sb = b.score_matrix(b.transform(T + shift), 1, b.transform(T + shift), 1)
    np.testing.assert_allclose(Sa, Sb, rtol=1e-6, atol=1e-6)
    b.save(tmp_path / "be.npz")
    c = SvBackend.load(tmp_path / "be.npz")
    np.testing.assert_allclose(c.transform(T + shift), b.transform(T + shift))
