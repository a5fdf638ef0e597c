"""Bottleneck features (lidtool.asr.bnf, lidtool.asr.bnf_train, the trainer's frame_ce
strategy, asr-train-bnf, make-bnf, steps/*bnf.sh) on a tiny synthetic task: random features
whose frame label is a fixed function of the frame."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import kaldiio
import numpy as np
import pytest
import torch
import yaml

from lidtool.asr.bnf import BnfModel
from lidtool.asr.bnf_train import BnfOptions, train_bnf
from lidtool.asr.labels import write_int_vectors
from lidtool.data.datadir import validate_data_dir
from lidtool.errors import CheckpointError, ConfigError, FeatureError
from lidtool.train.config import load_config
from lidtool.train.data import load_train_data
from lidtool.train.trainer import Trainer

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


def small_opts(**kw) -> BnfOptions:
    base = dict(hidden_dim=48, bottleneck_dim=12, num_epochs=12, chunk_frames=16,
                batch_size=16, lr=3e-3, final_lr=1e-3, valid_fraction=0.2, seed=3)
    base.update(kw)
    return BnfOptions(**base)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("bnf")
    data, alidir = make_task(root)
    model = train_bnf(data, alidir / "ali.scp", root / "exp", small_opts(), device="cpu")
    return root, data, alidir, model


def _run(args, cwd=REPO):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True,
                          env=env)


def _same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k, v in a.items():
        assert torch.equal(v, b[k]), k


def test_training_learns(trained):
    root, data, _, model = trained
    exp = root / "exp"
    h = model.history
    assert [e["epoch"] for e in h] == list(range(1, 13))
    assert h[-1]["train_loss"] < h[0]["train_loss"]
    assert h[-1]["valid_loss"] < h[0]["valid_loss"]
    assert h[-1]["valid_acc"] > 1.0 / CLASSES + 0.3      # chance is 0.25
    assert json.loads((exp / "history.json").read_text()) == h
    # the exponential decay from lr to final_lr, one value per epoch
    np.testing.assert_allclose([e["lr"] for e in h], 3e-3 * (1 / 3) ** (np.arange(12) / 11))
    for f in ("final.pt", "config.yaml", "bnf.yaml", "train_log.jsonl"):
        assert (exp / f).is_file(), f
    assert list((exp / "checkpoints").glob("ckpt-*.pt"))
    # 20% of the 14 aligned utterances held out; the lists have no vad.scp (every frame)
    train = (exp / "data" / "train" / "feats.scp").read_text().splitlines()
    valid = (exp / "data" / "valid" / "feats.scp").read_text().splitlines()
    assert len(train) == 11 and len(valid) == 3 and not set(train) & set(valid)
    assert not (exp / "data" / "train" / "vad.scp").exists()
    cfg = yaml.safe_load((exp / "config.yaml").read_text())
    assert cfg["train"]["strategy"] == "frame_ce" and cfg["model"]["name"] == "bnf"
    assert cfg["data"]["min_chunk"] == cfg["data"]["max_chunk"] == 16 + 2 * 5
    info = torch.load(exp / "final.pt", weights_only=True)
    assert info["kind"] == "bnf" and info["num_pdfs"] == CLASSES and info["classes"] == []


def test_extract_keeps_frames_and_round_trips(trained, tmp_path):
    root, data, _, model = trained
    feats = dict(kaldiio.load_scp(str(data / "feats.scp")))
    utt = sorted(feats)[0]
    y = model.extract(feats[utt])
    assert y.shape == (len(feats[utt]), 12) and y.dtype == np.float32
    short = model.extract(feats[utt][:3])       # shorter than the network's context
    assert short.shape == (3, 12)
    loaded = BnfModel.load(root / "exp" / "final.pt")
    assert loaded.context == 5 and loaded.num_pdfs == CLASSES and loaded.dim == 12
    assert loaded.cmn_window == 300
    np.testing.assert_array_equal(loaded.extract(feats[utt]), y)
    with pytest.raises(FeatureError, match="dimension 6"):
        model.extract(np.zeros((20, DIM + 1), np.float32), where=("x.scp", 4))


def test_old_bnf_files_still_load(trained, tmp_path):
    """final.pt of the private loop before the trainer (format lidtool-bnf)."""
    root, data, _, model = trained
    old = tmp_path / "old.pt"
    torch.save({"format": "lidtool-bnf", "version": 1,
                "config": {"hidden_dim": 48, "layers": [[5, 1], [3, 1], [3, 2]],
                           "bottleneck_dim": 12, "cmn_window": 200, "num_epochs": 12},
                "feat_dim": DIM, "num_pdfs": CLASSES,
                "state_dict": model.net.state_dict(), "history": []}, old)
    loaded = BnfModel.load(old)
    assert loaded.cmn_window == 200 and loaded.context == 5
    x = dict(kaldiio.load_scp(str(data / "feats.scp")))[model_utts(data)[1]]
    same = BnfModel(model.net, DIM, CLASSES, cmn_window=200)
    np.testing.assert_array_equal(loaded.extract(x), same.extract(x))


def model_utts(data: Path) -> list[str]:
    return [line.split()[0] for line in (data / "feats.scp").read_text().splitlines()]


def test_bad_model_files(trained, tmp_path):
    root = trained[0]
    good = (root / "exp" / "final.pt").read_bytes()
    trunc = tmp_path / "trunc.pt"
    trunc.write_bytes(good[: len(good) // 2])
    with pytest.raises(CheckpointError, match="trunc.pt"):
        BnfModel.load(trunc)
    other = tmp_path / "other.pt"
    torch.save({"format": "lidtool-checkpoint"}, other)
    with pytest.raises(CheckpointError, match="not a lidtool-model or lidtool-bnf file"):
        BnfModel.load(other)
    obj = torch.load(root / "exp" / "final.pt", weights_only=True)
    classifier = tmp_path / "classifier.pt"
    torch.save({**obj, "kind": "classifier"}, classifier)
    with pytest.raises(CheckpointError, match="not a bnf network"):
        BnfModel.load(classifier)
    obj["config"]["model"]["hidden_dim"] = 32
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
    opts = small_opts(num_epochs=1, valid_fraction=0.0)
    with pytest.raises(FeatureError) as err:
        train_bnf(data, alidir / "ali.scp", tmp_path / "exp", opts)
    msg = str(err.value)
    assert bad_utt in msg and "ali.scp:3" in msg and "feature frames" in msg
    assert not (tmp_path / "exp" / "final.pt").exists()
    # a label outside [0, num_pdfs) is an error too
    (alidir / "num_pdfs").write_text("2\n")
    ali[bad_utt] = np.full(len(ali[bad_utt]) + 1, 3, np.int32)
    write_int_vectors(alidir / "ali.ark", alidir / "ali.scp", ali)
    with pytest.raises(FeatureError, match="outside"):
        train_bnf(data, alidir / "ali.scp", tmp_path / "exp", opts)
    # so is an aligned utterance that the data dir does not have
    ali["zz-unknown"] = np.zeros(50, np.int32)
    write_int_vectors(alidir / "ali.ark", alidir / "ali.scp", ali)
    with pytest.raises(FeatureError, match=r"ali.scp:5: utterance 'zz-unknown' is not in"):
        train_bnf(data, alidir / "ali.scp", tmp_path / "exp", opts)


def test_interrupted_training_resumes_identically(tmp_path, monkeypatch):
    torch.set_num_threads(1)
    data, alidir = make_task(tmp_path, num_utts=6, seed=5)
    opts = dict(num_epochs=3, hidden_dim=24, chunk_frames=16, batch_size=8)
    full = train_bnf(data, alidir / "ali.scp", tmp_path / "full", small_opts(**opts),
                     device="cpu")
    real_save = Trainer.save_checkpoint
    calls = []

    def save_then_die(self):
        path = real_save(self)
        calls.append(path)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return path

    monkeypatch.setattr(Trainer, "save_checkpoint", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        train_bnf(data, alidir / "ali.scp", tmp_path / "part", small_opts(**opts),
                  device="cpu")
    assert not (tmp_path / "part" / "final.pt").exists()
    monkeypatch.setattr(Trainer, "save_checkpoint", real_save)
    resumed = train_bnf(data, alidir / "ali.scp", tmp_path / "part", small_opts(**opts),
                        device="cpu")
    assert [e["epoch"] for e in resumed.history] == [1, 2, 3]
    assert resumed.history == full.history
    _same_weights(full.net.state_dict(), resumed.net.state_dict())
    # other options do not silently continue an old run
    conf = (tmp_path / "part" / "bnf.yaml").read_text()
    for other in ({"seed": 9}, {"lr": 1e-3}, {"valid_fraction": 0.5}):
        with pytest.raises(CheckpointError, match="other options"):
            train_bnf(data, alidir / "ali.scp", tmp_path / "part", small_opts(**opts, **other))
    assert (tmp_path / "part" / "bnf.yaml").read_text() == conf
    assert not list((tmp_path / "part").glob(".*.tmp*"))
    assert (tmp_path / "part" / "data" / "valid" / "feats.scp").read_text().count("\n") == 1


def test_frame_ce_strategy_through_lidtool_train(trained, tmp_path):
    """The bnf network is an ordinary trainer model: `lidtool train` with frame_ce on a
    data dir with frame labels writes a "bnf" final.pt that make-bnf's BnfModel loads."""
    root, data, alidir, _ = trained
    conf = tmp_path / "bnf.yaml"
    conf.write_text(yaml.safe_dump({
        "model": {"name": "bnf", "hidden_dim": 24, "bottleneck_dim": 8},
        "data": {"label_table": "none", "frame_labels": str(alidir / "ali.scp"),
                 "min_chunk": 20, "max_chunk": 30, "min_frames": 1,
                 "valid_dir": str(root / "exp" / "data" / "valid")},
        "train": {"strategy": "frame_ce", "steps": 6, "batch_size": 4, "ckpt_every": 3},
        "optim": {"name": "adam", "lr": 0.003}}))
    exp = tmp_path / "exp"
    r = _run([".venv/bin/lidtool", "train", "--config", conf, "--device", "cpu", data, exp])
    assert r.returncode == 0, r.stderr[-2000:]
    rows = [json.loads(x) for x in (exp / "train_log.jsonl").read_text().splitlines()]
    assert [x["step"] for x in rows] == list(range(1, 7))
    assert all(0 <= x["acc"] <= 1 for x in rows) and "valid_acc" in rows[2]
    assert "valid_acc" in rows[5] and "valid_acc" not in rows[0]
    model = BnfModel.load(exp / "final.pt")
    assert model.dim == 8 and model.num_pdfs == CLASSES
    # the validator's numbers are those of the final model
    valid = model_utts(root / "exp" / "data" / "valid")
    feats = dict(kaldiio.load_scp(str(data / "feats.scp")))
    ali = dict(kaldiio.load_scp(str(alidir / "ali.scp")))
    ok = sum(int((_logits_argmax(model, feats[u]) == ali[u]).sum()) for u in valid)
    total = sum(len(ali[u]) for u in valid)
    assert rows[-1]["valid_acc"] == pytest.approx(ok / total, abs=1e-6)


def _logits_argmax(model: BnfModel, feats: np.ndarray) -> np.ndarray:
    from lidtool.features.cmn import sliding_cmn
    from lidtool.nnet.bnf import pad_edges
    x = pad_edges(sliding_cmn(feats, window=model.cmn_window), model.context, model.context)
    with torch.no_grad():
        return model.net(torch.from_numpy(np.ascontiguousarray(x))[None])[0].argmax(0).numpy()


def test_frame_ce_config_errors(trained, tmp_path):
    root, data, alidir, _ = trained
    train = load_train_data(data, [], label_table="none", min_frames=1)
    base = {"data": {"label_table": "none", "frame_labels": str(alidir / "ali.scp"),
                     "min_chunk": 20, "max_chunk": 20},
            "train": {"strategy": "frame_ce", "steps": 2, "batch_size": 4},
            "model": {"name": "bnf"}}
    conf = tmp_path / "c.yaml"
    for change, message in (({"model": {"name": "tdnn"}}, "needs a frame model"),
                            ({"data": {"min_chunk": 10, "max_chunk": 20}}, "min_chunk=10"),
                            ({"data": {"frame_labels": None}}, "needs frame labels"),
                            ({"model": {"name": "bnf", "layers": [[4, 1]]}}, "odd kernels")):
        cfg = {k: {**v, **change.get(k, {})} for k, v in base.items()}
        conf.write_text(yaml.safe_dump(cfg))
        with pytest.raises(ConfigError, match=message):
            Trainer(load_config(conf), train, tmp_path / "exp", device="cpu", source=str(conf))


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
    for script in ("steps/asr/train_bnf.sh", "steps/make_bnf.sh", "steps/make_bnf_sets.sh"):
        r = _run([script, "--help"])
        assert r.returncode == 0 and "usage:" in r.stdout + r.stderr, script
        r = _run([script])
        assert r.returncode != 0 and "usage:" in r.stderr, script
    r = _run(["steps/make_bnf.sh", tmp_path / "nothing", tmp_path, tmp_path / "out"])
    assert r.returncode != 0 and "final.pt does not exist" in r.stderr
    r = _run([".venv/bin/lidtool", "make-bnf", tmp_path / "missing.pt", tmp_path, tmp_path / "o"])
    assert r.returncode == 1 and r.stderr.startswith("ERROR:") and "missing.pt" in r.stderr
