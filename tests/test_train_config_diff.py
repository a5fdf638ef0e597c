"""Typed config values, and resuming with a config that differs from the checkpoint's."""
from __future__ import annotations

import pytest
import torch

from lidtool.errors import CheckpointError, ConfigError
from lidtool.train import checkpoint as ckpt_io
from lidtool.train.config import load_config
from lidtool.train.config_diff import config_differences
from lidtool.train.data import load_train_data
from lidtool.train.trainer import Trainer
from test_train_data import make_feats_dir, write_tiny_config

torch.set_num_threads(1)


@pytest.mark.parametrize("override,text", [
    ("wma.enabled='false'", "wma.enabled must be true or false, got 'false'"),
    ("train.steps=true", "train.steps must be an integer, got True"),
    ("train.steps=1.5", "train.steps must be an integer"),
    ("optim.lr=abc", "optim.lr must be a number, got 'abc'"),
    ("optim.lr=-0.1", "optim.lr must be > 0"),
    ("optim.momentum=1.5", "optim.momentum must be in [0, 1)"),
    ("model=5", "'model' must be a mapping of keys, got 5"),
    ("dcl.optim=3", "dcl.optim must be a mapping, got 3"),
    ("optim.betas=0.9", "optim.betas must be a list"),
    ("data.valid_dir=3", "data.valid_dir must be a string"),
    ("multitask.layer=two", "multitask.layer must be an integer"),
])
def test_wrong_type_or_range_is_a_config_error(tmp_path, override, text):
    conf = write_tiny_config(tmp_path / "c.yaml")
    with pytest.raises(ConfigError) as err:
        load_config(conf, [override])
    assert text in str(err.value) and str(conf) in str(err.value)


def test_numbers_yaml_reads_as_strings_become_numbers(tmp_path):
    conf = write_tiny_config(tmp_path / "c.yaml")
    assert load_config(conf, ["optim.lr=1e-3"])["optim"]["lr"] == 0.001
    cfg = load_config(conf, ["wma.enabled=false"])
    assert cfg["wma"]["enabled"] is False


def test_differences_ignore_step_budget_mini_and_defaulted_keys(tmp_path):
    conf = write_tiny_config(tmp_path / "c.yaml")
    a = load_config(conf)
    b = load_config(conf, ["train.steps=99", "dcl.steps=7", "optim.lr=0.07"])
    assert config_differences(a, b) == [("optim.lr", a["optim"]["lr"], 0.07)]
    old = load_config(conf)
    del old["data"]["cache_mb"]            # a checkpoint from before the key existed
    assert config_differences(old, a) == []


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return make_feats_dir(tmp_path_factory.mktemp("diff") / "train", counts=(6, 4))


def _trainer(tmp_path, data_dir, overrides):
    conf = write_tiny_config(tmp_path / "c.yaml")
    cfg = load_config(conf, ["train.ckpt_every=3", "sched.name=constant"] + overrides)
    return Trainer(cfg, load_train_data(data_dir, cmn_window=50, min_frames=20),
                   tmp_path / "exp")


def test_resume_with_changed_lr_is_refused_or_applied_on_purpose(tmp_path, data_dir):
    _trainer(tmp_path, data_dir, ["train.steps=3"]).train()
    ckpt = ckpt_io.latest_checkpoint(tmp_path / "exp")
    before = ckpt.read_bytes()
    changed = _trainer(tmp_path, data_dir, ["train.steps=6", "optim.lr=0.01"])
    with pytest.raises(CheckpointError) as err:
        changed.load_checkpoint(ckpt)
    msg = str(err.value)
    more_lr = load_config(tmp_path / "c.yaml")["optim"]["lr"]
    assert str(ckpt) in msg and f"optim.lr: {more_lr} -> 0.01" in msg and "--allow-config-change" in msg
    assert ckpt.read_bytes() == before
    # more steps alone is a plain resume
    more = _trainer(tmp_path, data_dir, ["train.steps=6"])
    more.load_checkpoint(ckpt)
    assert more.step == 3
    applied = _trainer(tmp_path, data_dir, ["train.steps=6", "optim.lr=0.01"])
    applied.load_checkpoint(ckpt, apply_config=True)
    assert [g["lr"] for g in applied.optimizer.param_groups] == [0.01]
    assert applied.scheduler.base_lrs == [0.01]
    # the momentum buffers of the checkpoint are kept
    assert len(applied.optimizer.state) == len(more.optimizer.state) > 0


def test_init_file_and_mini_section_are_not_compared(tmp_path):
    conf = write_tiny_config(tmp_path / "c.yaml")
    a = load_config(conf, ["model.init={path: a.pt}", "mini={train.steps: 3}"])
    b = load_config(conf, ["model.init={path: moved.pt}", "mini={train.steps: 5}"])
    assert config_differences(a, b) == []
    c = load_config(conf, ["model.init={path: a.pt}", "model.channels=16"])
    assert [k for k, _, _ in config_differences(a, c)] == ["model.channels"]
