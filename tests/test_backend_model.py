"""Back-end chain and classifiers: accuracy, log-posteriors, storage, errors, CLI."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.special import logsumexp

from lidtool.backend.config import BackendConfig
from lidtool.backend.model import Backend
from lidtool.backend.vectors import labels_for, read_vectors, write_vectors
from lidtool.cli import main as cli_main
from lidtool.errors import CheckpointError, ConfigError, DataDirError, FeatureError
from lidtool.metrics.scores import read_scores

LANGS = ["cmn", "eng", "fra", "rus"]


def vectors(seed, n, dim=20, counts=None):
    """Language clusters with a shared nuisance offset; long-tailed if `counts` given."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).normal(size=(4, dim))
    y = np.concatenate([np.full(c, k) for k, c in enumerate(counts)]) if counts \
        else np.arange(n) % 4
    X = 5 + centres[y] + 0.8 * rng.normal(size=(len(y), dim))
    return X, [LANGS[k] for k in y]


AP20 = dict(chain=["lnorm", "lda", "center", "lnorm"], lda_dim=100, classifier="lr")


@pytest.mark.parametrize("cfg", [
    {}, dict(chain=["center", "lnorm", "lda"], classifier="cosine"), AP20,
    dict(chain=["lda"], classifier="glc"), dict(chain=[], classifier="lr", lr_class_weight="none"),
])
def test_backends_classify_held_out_vectors(cfg):
    X, labels = vectors(0, 0, counts=[200, 80, 30, 10])      # long-tailed training set
    T, truth = vectors(1, 200)
    be = Backend(BackendConfig.from_dict(cfg)).fit(X, labels)
    assert be.langs == LANGS
    S = be.scores(T)
    assert S.shape == (200, 4)
    acc = np.mean([be.langs[i] == t for i, t in zip(S.argmax(1), truth)])
    assert acc >= 0.9
    if be.cfg.classifier in ("lr", "glc"):
        assert np.allclose(logsumexp(S, axis=1), 0.0, atol=1e-9)   # log-posteriors


def test_ap20_chain_shapes():
    X, labels = vectors(0, 400, dim=150)
    be = Backend(BackendConfig.from_dict(AP20)).fit(X, labels)
    lda = be.transforms[1]
    assert lda.proj.shape == (150, 3)                        # min(100, C-1)
    assert be.classifier.weight.shape == (4, 3)


def test_save_load_roundtrip_and_corruption(tmp_path):
    X, labels = vectors(0, 200)
    for cfg in ({}, AP20, dict(classifier="glc")):
        be = Backend(BackendConfig.from_dict(cfg)).fit(X, labels)
        be.save(tmp_path / "backend.npz")
        again = Backend.load(tmp_path / "backend.npz")
        assert again.langs == be.langs and again.cfg == be.cfg
        assert np.array_equal(again.scores(X), be.scores(X))
    raw = (tmp_path / "backend.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(raw[:-200])
    with pytest.raises(CheckpointError, match="cut.npz"):
        Backend.load(tmp_path / "cut.npz")
    with pytest.raises(FeatureError, match="dimension 7, the back-end was trained on "
                       "dimension 20"):
        be.scores(np.zeros((3, 7)), where="test.scp")


def test_config_errors():
    with pytest.raises(ConfigError, match="unknown backend key"):
        BackendConfig.from_dict({"lda_dims": 3}, where="conf/x.yaml")
    with pytest.raises(ConfigError, match="backend.chain"):
        BackendConfig.from_dict({"chain": ["plda"]})
    with pytest.raises(ConfigError, match="backend.classifier"):
        BackendConfig.from_dict({"classifier": "svm"})
    with pytest.raises(FeatureError, match="at least 2 languages"):
        Backend().fit(np.zeros((4, 3)), ["eng"] * 4)


def test_vector_files_and_errors(tmp_path):
    X, labels = vectors(0, 6, dim=5)
    utts = [f"u{i}" for i in range(6)]
    n = write_vectors(tmp_path / "v.ark", tmp_path / "v.scp", zip(utts[::-1], X[::-1]))
    assert n == 6
    got_utts, got = read_vectors(tmp_path / "v.scp")
    assert got_utts == utts and np.allclose(got, X, atol=1e-5)
    (tmp_path / "utt2lang").write_text("".join(f"{u} {l}\n" for u, l in zip(utts, labels)))
    assert labels_for(utts, tmp_path / "utt2lang") == labels
    with pytest.raises(DataDirError, match="utt2lang.*'zz'"):
        labels_for(utts + ["zz"], tmp_path / "utt2lang")
    write_vectors(tmp_path / "w.ark", tmp_path / "w.scp", [("zz", np.zeros(3))])
    lines = (tmp_path / "v.scp").read_text() + (tmp_path / "w.scp").read_text()
    (tmp_path / "mixed.scp").write_text(lines)
    with pytest.raises(FeatureError, match=r"mixed.scp:7: vector of 'zz' has dimension 3"):
        read_vectors(tmp_path / "mixed.scp")
    (tmp_path / "gone.scp").write_text(f"u0 {tmp_path}/nothere.ark:5\n")
    with pytest.raises(FeatureError, match="gone.scp:1"):
        read_vectors(tmp_path / "gone.scp")


def test_cli_train_and_score(tmp_path, capsys):
    X, labels = vectors(0, 120)
    T, truth = vectors(1, 40)
    utts = [f"tr{i:03d}" for i in range(120)]
    tests = [f"te{i:03d}" for i in range(40)]
    write_vectors(tmp_path / "train.ark", tmp_path / "train.scp", zip(utts, X))
    write_vectors(tmp_path / "test.ark", tmp_path / "test.scp", zip(tests, T))
    (tmp_path / "utt2lang").write_text("".join(f"{u} {l}\n" for u, l in zip(utts, labels)))
    (tmp_path / "conf.yaml").write_text("backend:\n  chain: [lnorm, lda, center, lnorm]\n"
                                        "  classifier: lr\n")
    assert cli_main(["backend-train", "--config", str(tmp_path / "conf.yaml"),
                     "--override", "backend.lda_dim=2", "--vectors", str(tmp_path / "train.scp"),
                     "--utt2lang", str(tmp_path / "utt2lang"),
                     "--out", str(tmp_path / "be.npz")]) == 0
    assert Backend.load(tmp_path / "be.npz").transforms[1].proj.shape == (20, 2)
    assert cli_main(["backend-score", "--backend", str(tmp_path / "be.npz"), "--vectors",
                     str(tmp_path / "test.scp"), "--out", str(tmp_path / "scores")]) == 0
    scores = read_scores(tmp_path / "scores")
    assert scores.utts == tests and scores.langs == LANGS
    acc = np.mean([LANGS[i] == t for i, t in zip(scores.matrix.argmax(1), truth)])
    assert acc >= 0.9
    capsys.readouterr()
    assert cli_main(["backend-score", "--backend", str(tmp_path / "scores"), "--vectors",
                     str(tmp_path / "test.scp"), "--out", str(tmp_path / "s2")]) == 1
    assert "scores: cannot read" in capsys.readouterr().err
    assert not (tmp_path / "s2").exists()
