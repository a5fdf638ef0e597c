"""Checkpoints: resuming reproduces uninterrupted training; corrupt files give clear errors."""
from __future__ import annotations

import json
import logging

import pytest
import torch

from lidtool.cli import main as cli
from lidtool.errors import CheckpointError
from lidtool.train import checkpoint as ckpt_io
from lidtool.train.config import load_config
from lidtool.train.data import load_train_data
from lidtool.train.trainer import Trainer
from test_train_data import make_feats_dir, write_tiny_config

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return make_feats_dir(tmp_path_factory.mktemp("ckpt") / "train", counts=(8, 5, 3))


def _losses(exp):
    rows = [json.loads(x) for x in (exp / "train_log.jsonl").read_text().splitlines()]
    return [r["step"] for r in rows], [r["loss"] for r in rows]


def _make(tmp_path, data_dir, overrides, exp):
    conf = write_tiny_config(tmp_path / "c.yaml")
    cfg = load_config(conf, ["train.ckpt_every=5", "sched.name=step", "wma.enabled=true"]
                      + overrides)
    return Trainer(cfg, load_train_data(data_dir, cmn_window=50, min_frames=20),
                   tmp_path / exp)


@pytest.mark.parametrize("strategy,stop,extra", [
    ("wadcl", 5, []), ("dcl", 10, []), ("dcl", 15, []), ("plain", 5, []),
    # accumulation, parameter groups, validation and averaging keep resuming exact
    ("wadcl", 5, ["train.accum_steps=2", "optim.lr_scales={backbone: 0.5}",
                  "optim.no_decay_norm_bias=true", "train.valid_every=2",
                  "train.average_last=2", "train.ckpt_every=2"]),
    # step-annealed SphereFace lambda; AdaCos's adaptive scale with distinct-class batches
    ("plain", 5, ["head.name=sphereface", "head.lambda_gamma=1.0"]),
    ("plain", 5, ["head.name=adacos", "sampler.name=distinct", "train.batch_size=3"])])
def test_resume_reproduces_uninterrupted_training(tmp_path, data_dir, strategy, stop, extra):
    over = [f"train.strategy={strategy}", "train.steps=10", "dcl.steps=10",
            "sampler.name=alpha", "data.num_workers=0"] + extra
    if "train.valid_every=2" in extra:
        over.append(f"data.valid_dir={data_dir}")
    full = _make(tmp_path, data_dir, over, "full")
    full.train()
    part = _make(tmp_path, data_dir, over, "part")
    part.total_steps = stop                     # "killed" after `stop` steps
    part.train()
    resumed = _make(tmp_path, data_dir, over, "part")
    resumed.load_checkpoint(ckpt_io.latest_checkpoint(tmp_path / "part"))
    assert resumed.step == stop
    resumed.train()
    steps_a, loss_a = _losses(tmp_path / "full")
    steps_b, loss_b = _losses(tmp_path / "part")
    assert steps_a == steps_b == list(range(1, full.total_steps + 1))
    assert loss_b == pytest.approx(loss_a, rel=1e-4, abs=1e-5)
    a = torch.load(tmp_path / "full" / "final.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "part" / "final.pt", weights_only=True)["model"]
    for k in a:
        assert torch.allclose(a[k].float(), b[k].float(), atol=1e-5), k


def test_checkpoint_contents_and_pruning(tmp_path, data_dir):
    t = _make(tmp_path, data_dir, ["train.steps=15", "train.keep_checkpoints=2",
                                   "train.strategy=wadcl"], "exp")
    t.train()
    found = ckpt_io.list_checkpoints(tmp_path / "exp")
    assert [s for s, _ in found] == [10, 15]
    ck = ckpt_io.load_checkpoint(found[-1][1])
    for key in ("model", "optimizer", "scheduler", "samplers", "strategy", "wma", "rng",
                "config", "step"):
        assert key in ck
    assert set(ck["samplers"]) == {"random", "balanced"} and "h_r" in ck["strategy"]
    assert set(ck["rng"]) >= {"python", "numpy", "torch"}
    assert not list((tmp_path / "exp" / "checkpoints").glob(".*tmp"))


def test_corrupt_checkpoint_is_a_clear_error(tmp_path, data_dir, capsys):
    conf = write_tiny_config(tmp_path / "c.yaml")
    exp = tmp_path / "exp"
    args = ["train", "--config", str(conf), "--override", "train.steps=5",
            "--override", "train.ckpt_every=5", str(data_dir), str(exp)]
    assert cli(args) == 0
    ckpt = ckpt_io.latest_checkpoint(exp)
    data = ckpt.read_bytes()
    ckpt.write_bytes(data[: len(data) // 2])                       # truncated
    (exp / "final.pt").unlink()
    assert cli(args[:4] + ["train.steps=8"] + args[5:]) == 1
    err = capsys.readouterr().err
    assert f"ERROR: {ckpt}" in err and "cannot read" in err
    ckpt.write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match=str(ckpt)):
        ckpt_io.load_checkpoint(ckpt)
    torch.save({"format": "something-else"}, ckpt)
    with pytest.raises(CheckpointError, match="not a lidtool-checkpoint"):
        ckpt_io.load_checkpoint(ckpt)
    with pytest.raises(CheckpointError, match="does not exist"):
        ckpt_io.load_model(tmp_path / "nope.pt")


def test_cli_resume_auto_continues(tmp_path, data_dir, caplog):
    caplog.set_level(logging.INFO)
    conf = write_tiny_config(tmp_path / "c.yaml")
    exp = tmp_path / "exp"
    base = ["train", "--config", str(conf), "--override", "train.ckpt_every=5"]
    assert cli(base + ["--override", "train.steps=5", str(data_dir), str(exp)]) == 0
    assert cli(base + ["--override", "train.steps=10", str(data_dir), str(exp)]) == 0
    steps, _ = _losses(exp)
    assert steps == list(range(1, 11))
    assert "resumed from" in caplog.text and "ckpt-00000005.pt" in caplog.text
    assert (exp / "final.pt").is_file() and (exp / "lang2id").read_text().startswith("lang0 0")
    # --resume none starts over
    assert cli(base + ["--override", "train.steps=3", "--resume", "none", str(data_dir),
                       str(exp)]) == 0
    assert _losses(exp)[0] == [1, 2, 3]


def test_failed_checkpoint_save_says_so_and_keeps_the_previous_ones(tmp_path, data_dir,
                                                                    monkeypatch):
    """A disk that fills up during a save: a plain CheckpointError, no partial file, and the
    checkpoints written before remain loadable (resuming continues from them)."""
    import errno
    trainer = _make(tmp_path, data_dir, ["train.steps=5"], "exp")
    trainer.train()
    before = ckpt_io.list_checkpoints(tmp_path / "exp")
    assert before

    def full_disk(obj, f, *a, **k):
        with open(f, "wb") as out:
            out.write(b"PK\x03\x04 partial")
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(torch, "save", full_disk)
    trainer.step = 10
    with pytest.raises(CheckpointError) as err:
        trainer.save_checkpoint()
    msg = str(err.value)
    assert "ckpt-00000010.pt" in msg and "No space left on device" in msg
    assert "disk full" in msg and "previous checkpoints are intact" in msg
    monkeypatch.undo()
    assert ckpt_io.list_checkpoints(tmp_path / "exp") == before
    assert sorted(p.name for p in (tmp_path / "exp" / "checkpoints").iterdir()) == \
        [p.name for _, p in before]                     # no temp file left behind
    ckpt_io.load_checkpoint(before[-1][1])


def test_model_from_checkpoint(tmp_path, data_dir):
    t = _make(tmp_path, data_dir, ["train.steps=10", "train.keep_checkpoints=2",
                                   "wma.enabled=false"], "exp")
    t.train()
    exp = tmp_path / "exp"
    found = dict(ckpt_io.list_checkpoints(exp))
    out = tmp_path / "step5.pt"
    assert cli(["model-from-checkpoint", "--model", str(exp / "final.pt"), str(found[5]),
                str(out)]) == 0
    model, info = ckpt_io.load_model(out)
    assert info["checkpoint_step"] == 5 and info["classes"] == t.data.classes
    weights = ckpt_io.load_checkpoint(found[5])["model"]
    assert all(torch.equal(v, weights[k]) for k, v in model.state_dict().items())
    final, _ = ckpt_io.load_model(exp / "final.pt")
    assert not all(torch.equal(v, final.state_dict()[k]) for k, v in model.state_dict().items())
    # a checkpoint of another run (another network) is refused, nothing written
    other = _make(tmp_path, data_dir, ["train.steps=5", "wma.enabled=false",
                                       "model.hidden=[8]"], "other")
    other.train()
    bad = tmp_path / "bad.pt"
    with pytest.raises(CheckpointError, match="not a checkpoint of the run"):
        ckpt_io.model_from_checkpoint(ckpt_io.latest_checkpoint(tmp_path / "other"),
                                      exp / "final.pt", bad)
    assert not bad.exists()
