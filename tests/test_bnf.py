"""Bottleneck features (lidtool.asr.bnf, asr-train-bnf, make-bnf, steps/*bnf.sh) on a tiny
synthetic task: random features whose frame label is a fixed function of the frame."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import kaldiio
import numpy as np
import pytest
import torch

from lidtool.asr import bnf
from lidtool.asr.bnf import BnfConfig, BnfModel, load_frame_data, train_bnf
from lidtool.asr.labels import write_int_vectors
from lidtool.data.datadir import validate_data_dir
from lidtool.errors import CheckpointError, FeatureError

REPO = Path(__file__).resolve().parents[1]
DIM, CLASSES = 6, 4
W = np.random.default_rng(123).standard_normal((DIM, CLASSES))


def _labels(x: np.ndarray) -> np.ndarray:
    return np.argmax(x @ W, axis=1).astype(np.int32)


def make_task(root: Path, num_utts: int = 14, seed: int = 0, lengths=None) -> tuple[Path, Path]:
    """A Kaldi data dir (feats.scp, vad.scp, utt2spk, utt2lang...) and ali_dir/ali.scp +
    num_pdfs where each frame's label is argmax(W x_t)."""
    rng = np.random.default_rng(seed)
    data, alidir = root / "data", root / "ali"
    data.mkdir(parents=True)
    feats, ali = {}, {}
    for i in range(num_utts):
        utt = f"spk{i % 3}-utt{i:02d}"
        t = lengths[i] if lengths else int(rng.integers(40, 90))
        x = rng.standard_normal((t, DIM)).astype(np.float32)
        x -= x.mean(0)      # what sliding CMN removes carries no label information
        feats[utt] = x
        ali[utt] = _labels(x)
    utts = sorted(feats)
    with kaldiio.WriteHelper(f"ark,scp:{data / 'feats.ark'},{data / 'feats.scp'}") as w:
        for u in utts:
            w(u, feats[u])
    with kaldiio.WriteHelper(f"ark,scp:{data / 'vad.ark'},{data / 'vad.scp'}") as w:
        for u in utts:
            w(u, np.ones(len(feats[u]), dtype=np.float32))
    (data / "utt2spk").write_text("".join(f"{u} {u.split('-')[0]}\n" for u in utts))
    spks = sorted({u.split("-")[0] for u in utts})
    (data / "spk2utt").write_text("".join(
        f"{s} {' '.join(u for u in utts if u.startswith(s + '-'))}\n" for s in spks))
    (data / "utt2lang").write_text("".join(f"{u} cmn\n" for u in utts))
    (data / "utt2num_frames").write_text("".join(f"{u} {len(feats[u])}\n" for u in utts))
    write_int_vectors(alidir / "ali.ark", alidir / "ali.scp", ali)
    (alidir / "num_pdfs").write_text(f"{CLASSES}\n")
    return data, alidir


def small_cfg(**kw) -> BnfConfig:
    base = dict(hidden_dim=48, bottleneck_dim=12, num_epochs=12, chunk_frames=16,
                batch_size=16, lr=3e-3, final_lr=1e-3, valid_fraction=0.2, seed=3)
    base.update(kw)
    return BnfConfig(**base)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("bnf")
    data, alidir = make_task(root)
    model = train_bnf(data, alidir / "ali.scp", root / "exp", small_cfg(), device="cpu")
    return root, data, alidir, model


def _run(args, cwd=REPO):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True,
                          env=env)


def test_training_learns(trained):
    root, _, _, model = trained
    h = model.history
    assert [e["epoch"] for e in h] == list(range(13))
    assert h[-1]["train_loss"] < h[1]["train_loss"]
    assert h[-1]["valid_loss"] < h[0]["valid_loss"]
    assert h[-1]["valid_acc"] > 1.0 / CLASSES + 0.3      # chance is 0.25
    for f in ("final.pt", "checkpoint.pt", "history.json"):
        assert (root / "exp" / f).is_file()


def test_extract_keeps_frames_and_round_trips(trained, tmp_path):
    root, data, _, model = trained
    feats = dict(kaldiio.load_scp(str(data / "feats.scp")))
    utt = sorted(feats)[0]
    y = model.extract(feats[utt])
    assert y.shape == (len(feats[utt]), 12) and y.dtype == np.float32
    short = model.extract(feats[utt][:3])       # shorter than the network's context
    assert short.shape == (3, 12)
    loaded = BnfModel.load(root / "exp" / "final.pt")
    assert loaded.cfg.context == 5 and loaded.num_pdfs == CLASSES and loaded.dim == 12
    np.testing.assert_array_equal(loaded.extract(feats[utt]), y)
    with pytest.raises(FeatureError, match="dimension 6"):
        model.extract(np.zeros((20, DIM + 1), np.float32), where=("x.scp", 4))


def test_bad_model_files(trained, tmp_path):
    root = trained[0]
    good = (root / "exp" / "final.pt").read_bytes()
    trunc = tmp_path / "trunc.pt"
    trunc.write_bytes(good[: len(good) // 2])
    with pytest.raises(CheckpointError, match="trunc.pt"):
        BnfModel.load(trunc)
    other = tmp_path / "other.pt"
    torch.save({"format": "lidtool-model"}, other)
    with pytest.raises(CheckpointError, match="not a lidtool-bnf file"):
        BnfModel.load(other)
    obj = torch.load(root / "exp" / "final.pt", weights_only=True)
    obj["config"]["hidden_dim"] = 32
    bad = tmp_path / "bad.pt"
    torch.save(obj, bad)
    with pytest.raises(CheckpointError, match="do not fit"):
        BnfModel.load(bad)
    with pytest.raises(CheckpointError, match="does not exist"):
        BnfModel.load(tmp_path / "missing.pt")


def test_frame_mismatch_names_utterance(tmp_path):
    data, alidir = make_task(tmp_path, num_utts=4)
    ali = {u: np.asarray(v) for u, v in kaldiio.load_scp(str(alidir / "ali.scp")).items()}
    bad_utt = sorted(ali)[2]
    ali[bad_utt] = ali[bad_utt][:-1]
    write_int_vectors(alidir / "ali.ark", alidir / "ali.scp", ali)
    with pytest.raises(FeatureError) as err:
        train_bnf(data, alidir / "ali.scp", tmp_path / "exp", small_cfg(num_epochs=1))
    msg = str(err.value)
    assert bad_utt in msg and "ali.scp:3" in msg and "feature frames" in msg
    assert not (tmp_path / "exp" / "final.pt").exists()
    # a label outside [0, num_pdfs) is an error too
    (alidir / "num_pdfs").write_text("2\n")
    ali[bad_utt] = np.full(len(ali[bad_utt]) + 1, 3, np.int32)
    write_int_vectors(alidir / "ali.ark", alidir / "ali.scp", ali)
    with pytest.raises(FeatureError, match="outside"):
        load_frame_data(data, alidir / "ali.scp", small_cfg())


def test_interrupted_training_resumes_identically(tmp_path, monkeypatch):
    torch.set_num_threads(1)
    data, alidir = make_task(tmp_path, num_utts=6, seed=5)
    cfg = dict(num_epochs=3, hidden_dim=24, chunk_frames=16)
    full = train_bnf(data, alidir / "ali.scp", tmp_path / "full", small_cfg(**cfg), device="cpu")
    real_save = bnf._save_checkpoint
    calls = []

    def save_then_die(*a, **kw):
        real_save(*a, **kw)
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(bnf, "_save_checkpoint", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        train_bnf(data, alidir / "ali.scp", tmp_path / "part", small_cfg(**cfg), device="cpu")
    assert not (tmp_path / "part" / "final.pt").exists()
    monkeypatch.setattr(bnf, "_save_checkpoint", real_save)
    resumed = train_bnf(data, alidir / "ali.scp", tmp_path / "part", small_cfg(**cfg),
                        device="cpu")
    assert [e["epoch"] for e in resumed.history] == [0, 1, 2, 3]
    assert [e["valid_acc"] for e in resumed.history] == [e["valid_acc"] for e in full.history]
    for k, v in full.net.state_dict().items():
        assert torch.equal(v, resumed.net.state_dict()[k]), k
    # other options do not silently continue an old run
    with pytest.raises(CheckpointError, match="other options"):
        train_bnf(data, alidir / "ali.scp", tmp_path / "part", small_cfg(**cfg, seed=9))


def test_make_bnf_cli_and_steps(trained, tmp_path):
    root, data, alidir, model = trained
    dest = tmp_path / "bnf_data"
    r = _run([".venv/bin/lidtool", "make-bnf", root / "exp" / "final.pt", data, dest])
    assert r.returncode == 0, r.stderr[-2000:]
    d = validate_data_dir(dest, need_feats=True)
    assert sorted(d.feats_scp) == sorted(validate_data_dir(data, need_feats=True).feats_scp)
    assert (dest / "vad.scp").read_text() == (data / "vad.scp").read_text()
    assert (dest / "utt2lang").read_text() == (data / "utt2lang").read_text()
    src = dict(kaldiio.load_scp(str(data / "feats.scp")))
    for utt, mat in kaldiio.load_scp(str(dest / "feats.scp")).items():
        assert mat.shape == (len(src[utt]), 12)
        assert int(d.numeric("utt2num_frames", utt)) == len(src[utt])
    first = sorted(src)[0]
    np.testing.assert_allclose(kaldiio.load_scp(str(dest / "feats.scp"))[first],
                               model.extract(src[first]), rtol=1e-5, atol=1e-5)
    assert not list(dest.glob("data/.*.tmp"))

    # steps/: training (tiny) and parallel extraction; finished steps are skipped
    exp = tmp_path / "exp_bnf"
    r = _run(["steps/asr/train_bnf.sh", "--num-epochs", 1, "--hidden-dim", 16,
              "--bottleneck-dim", 8, "--device", "cpu", data, alidir, exp])
    assert r.returncode == 0, r.stderr[-2000:]
    assert (exp / ".done").is_file() and (exp / "log" / "train_bnf.log").is_file()
    r = _run(["steps/asr/train_bnf.sh", data, alidir, exp])
    assert r.returncode == 0 and "skipping" in r.stderr
    dest2 = tmp_path / "bnf_data2"
    r = _run(["steps/make_bnf.sh", "--nj", 2, exp, data, dest2])
    assert r.returncode == 0, r.stderr[-2000:]
    d2 = validate_data_dir(dest2, need_feats=True)
    assert len(d2.feats_scp) == 14 and len(list((dest2 / "data").glob("*.ark"))) == 2
    assert kaldiio.load_scp(str(dest2 / "feats.scp"))[first].shape == (len(src[first]), 8)
    r = _run(["steps/make_bnf.sh", "--nj", 2, exp, data, dest2])
    assert r.returncode == 0 and "skipping" in r.stderr


def test_scripts_help_and_bad_args(tmp_path):
    for script, cwd in (("steps/asr/train_bnf.sh", REPO), ("steps/make_bnf.sh", REPO),
                        ("steps/make_bnf_sets.sh", REPO)):
        r = _run([script, "--help"], cwd=cwd)
        assert r.returncode == 0 and "usage:" in r.stdout + r.stderr, script
        r = _run([script], cwd=cwd)
        assert r.returncode != 0 and "usage:" in r.stderr, script
    r = _run(["steps/make_bnf.sh", tmp_path / "nothing", tmp_path, tmp_path / "out"])
    assert r.returncode != 0 and "final.pt does not exist" in r.stderr
    r = _run([".venv/bin/lidtool", "make-bnf", tmp_path / "missing.pt", tmp_path, tmp_path / "o"])
    assert r.returncode == 1 and r.stderr.startswith("ERROR:") and "missing.pt" in r.stderr
