"""End to end through the shell steps: UBM -> extractor -> i-vectors -> back-end scores,
with parallel jobs through utils/run_local.sh, resumption and error reporting."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import kaldiio
import numpy as np
import pytest

from lidtool.metrics.scores import read_scores

REPO = Path(__file__).resolve().parents[1]
LANGS = ["aaa", "bbb", "ccc"]


def make_corpus(root: Path, name: str, n_utts: int, seed: int) -> Path:
    """Frames from a small total-variability model: language = cluster of i-vectors."""
    g = np.random.default_rng(0)
    C, D, R = 4, 3, 2
    means, T = g.normal(size=(C, D)) * 5, g.normal(size=(C, D, R))
    centres = g.normal(size=(3, R)) * 1.5
    rng = np.random.default_rng(seed)
    d = root / name
    d.mkdir(parents=True)
    u2l, u2s = [], []
    with kaldiio.WriteHelper(f"ark,scp:{d}/feats.ark,{d}/feats.scp") as wf, \
            kaldiio.WriteHelper(f"ark,scp:{d}/vad.ark,{d}/vad.scp") as wv:
        for u in range(n_utts):
            utt = f"{name}-{u:03d}"
            k = u % 3
            w = centres[k] + 0.3 * rng.normal(size=R)
            comp = rng.integers(0, C, 120)
            x = means[comp] + np.einsum("tdr,r->td", T[comp], w) + 0.7 * rng.normal(size=(120, D))
            wf(utt, x.astype(np.float32))
            wv(utt, (rng.random(120) > 0.1).astype(np.float32))
            u2l.append(f"{utt} {LANGS[k]}\n")
            u2s.append(f"{utt} {utt}\n")
    (d / "utt2lang").write_text("".join(u2l))
    (d / "utt2spk").write_text("".join(u2s))
    (d / "spk2utt").write_text("".join(u2s))
    return d


def sh(*args, check=True):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    res = subprocess.run(["bash", *map(str, args)], cwd=REPO, env=env, capture_output=True,
                         text=True)
    if check and res.returncode != 0:
        raise AssertionError(f"{args[0]} failed:\n{res.stdout}\n{res.stderr}")
    return res


@pytest.fixture(scope="module")
def recipe(tmp_path_factory):
    root = tmp_path_factory.mktemp("ivr")
    train = make_corpus(root / "data", "train", 45, seed=1)
    test = make_corpus(root / "data", "test", 30, seed=2)
    conf = root / "ivector.yaml"
    conf.write_text("features: {cmn_window: 0}\n"
                    "ubm: {num_components: 4, num_frames_init: 3000, num_iters_init: 1,\n"
                    "      num_iters_diag: 0, num_iters_full: 1, num_gselect: 4}\n"
                    "extractor: {ivector_dim: 2, num_iters: 2, num_gselect: 4}\n"
                    "backend: {chain: [center, lnorm, lda], classifier: cosine}\n")
    exp = root / "exp"
    sh("steps/train_ubm.sh", "--nj", 2, "--ivector-config", conf, train, exp / "ubm")
    sh("steps/train_ivector_extractor.sh", "--nj", 2, "--ivector-config", conf, train,
       exp / "ubm", exp / "extractor")
    for name, d, nj in (("train", train, 1), ("test", test, 2)):
        sh("steps/extract_ivectors.sh", "--nj", nj, d, exp / "extractor", exp / f"iv_{name}")
    sh("steps/backend_score.sh", "--backend-config", conf, exp / "iv_train/ivector.scp",
       train / "utt2lang", exp / "backend", exp / "iv_test/ivector.scp", exp / "scores_test")
    return root, exp, test


def test_recipe_outputs_and_accuracy(recipe):
    root, exp, test = recipe
    assert (exp / "ubm/final.ubm").is_file() and (exp / "ubm/.done").is_file()
    assert not list((exp / "ubm").glob("acc*")) and not list(exp.rglob("*.tmp"))
    assert (exp / "extractor/final.ie").is_file()
    scp = (exp / "iv_test/ivector.scp").read_text().splitlines()
    assert len(scp) == 30 and scp == sorted(scp)
    scores = read_scores(exp / "scores_test")
    truth = dict(line.split() for line in (test / "utt2lang").read_text().splitlines())
    assert scores.langs == LANGS
    pred = [scores.langs[i] for i in scores.matrix.argmax(1)]
    assert np.mean([p == truth[u] for p, u in zip(pred, scores.utts)]) >= 0.8
    logs = (exp / "extractor/log").glob("update.*.log")
    assert any("objective" in p.read_text() for p in logs)


def test_done_steps_are_skipped_and_help_works(recipe):
    root, exp, _ = recipe
    before = (exp / "ubm/final.ubm").stat().st_mtime_ns
    res = sh("steps/train_ubm.sh", "--nj", 2, root / "data/train", exp / "ubm")
    assert "skipping" in res.stderr
    assert (exp / "ubm/final.ubm").stat().st_mtime_ns == before
    for script in ("train_ubm", "train_ivector_extractor", "extract_ivectors", "backend_score"):
        res = sh(f"steps/{script}.sh", "--help")
        assert res.stdout.startswith("usage:")


def test_wrong_dimension_fails_with_clear_error(recipe, tmp_path):
    root, exp, _ = recipe
    d = tmp_path / "bad"
    d.mkdir()
    with kaldiio.WriteHelper(f"ark,scp:{d}/feats.ark,{d}/feats.scp") as w:
        w("x1", np.zeros((20, 5), dtype=np.float32))
    (d / "utt2spk").write_text("x1 x1\n")
    (d / "spk2utt").write_text("x1 x1\n")
    res = sh("steps/extract_ivectors.sh", "--nj", 1, d, exp / "extractor", tmp_path / "iv",
             check=False)
    assert res.returncode != 0
    log = (tmp_path / "iv/log/extract.1.log").read_text()
    assert "feats.scp:1: utterance 'x1' has feature dimension 5, the model expects 3" in log
    assert not (tmp_path / "iv/ivector.scp").exists()
