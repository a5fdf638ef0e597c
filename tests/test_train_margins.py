"""Margin heads in the trainer: `head.schedule` warms the margin up step by step (logged as
`margin`), its state is in the checkpoints, and bad head sections are config errors."""
from __future__ import annotations

import json

import pytest
import torch

torch.set_num_threads(1)

from lidtool.errors import ConfigError
from lidtool.train import checkpoint as ckpt_io
from lidtool.train.config import load_config
from lidtool.train.data import load_train_data
from lidtool.train.trainer import Trainer
from test_train_data import make_feats_dir, write_tiny_config

SCHEDULE = "head.schedule={type: linear, initial: 0.0, final: 0.3, start: 2, end: 6}"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return make_feats_dir(tmp_path_factory.mktemp("margins") / "train", counts=(6, 5, 4))


def _trainer(tmp_path, data_dir, overrides, exp="exp"):
    conf = write_tiny_config(tmp_path / "c.yaml")
    cfg = load_config(conf, ["train.steps=8", "train.ckpt_every=4", *overrides])
    return Trainer(cfg, load_train_data(data_dir, cmn_window=50, min_frames=20),
                   tmp_path / exp, source=str(conf))


@pytest.mark.parametrize("strategy", ["plain", "wadcl"])
def test_schedule_sets_logs_and_checkpoints_the_margin(tmp_path, data_dir, strategy):
    t = _trainer(tmp_path, data_dir, ["head.name=am_softmax", "head.margin=0.2", SCHEDULE,
                                      f"train.strategy={strategy}", "wma.enabled=true"])
    heads = t.strategy.heads()
    assert len(heads) == (2 if strategy == "wadcl" else 1)     # WADCL's h_r is scheduled too
    seen = []
    orig = t.strategy.train_step
    t.strategy.train_step = lambda step: (seen.append([h.margin for h in heads]), orig(step))[1]
    t.train()
    expected = [0.0, 0.0, 0.0, 0.075, 0.15, 0.225, 0.3, 0.3]
    assert [m[0] for m in seen] == pytest.approx(expected)    # set before each train step
    assert all(len(set(m)) == 1 for m in seen)
    rows = [json.loads(x) for x in (tmp_path / "exp" / "train_log.jsonl").read_text().split("\n")
            if x]
    assert [r["margin"] for r in rows] == pytest.approx(expected)
    state = ckpt_io.load_checkpoint(ckpt_io.checkpoint_path(tmp_path / "exp", 4))
    assert len(state["margin_schedulers"]) == len(heads)
    assert state["margin_schedulers"][0]["last_step"] == 3
    assert state["margin_schedulers"][0]["margin"] == pytest.approx(0.075)
    fresh = _trainer(tmp_path, data_dir, ["head.name=am_softmax", "head.margin=0.2", SCHEDULE,
                                          f"train.strategy={strategy}", "wma.enabled=true"],
                     "exp")
    fresh.load_checkpoint(ckpt_io.checkpoint_path(tmp_path / "exp", 4))
    assert [h.margin for h in fresh.strategy.heads()] == pytest.approx([0.075] * len(heads))
    # the exported model carries the schedule in its config but builds without it
    model, info = ckpt_io.load_model(tmp_path / "exp" / "final.pt")
    assert info["config"]["head"]["schedule"]["end"] == 6
    assert model.classifier.head.margin == 0.2               # config margin, as built


def test_no_schedule_no_margin_column(tmp_path, data_dir):
    t = _trainer(tmp_path, data_dir, ["head.name=aam_softmax", "train.steps=2"])
    assert t.margin_schedulers == []
    last = t.train()
    assert "margin" not in last and "loss" in last


def test_bad_head_sections_are_config_errors(tmp_path, data_dir):
    with pytest.raises(ConfigError, match="c.yaml.*head.schedule.*no schedulable margin"):
        _trainer(tmp_path, data_dir, [SCHEDULE])                # softmax has no margin
    with pytest.raises(ConfigError, match="unknown margin schedule keys \\['stop'\\]"):
        _trainer(tmp_path, data_dir, ["head.name=am_softmax", "head.schedule={stop: 3}"])
    with pytest.raises(ConfigError, match="c.yaml: head: bad options"):
        _trainer(tmp_path, data_dir, ["head.name=am_softmax", "head.margin=-0.1"])
    with pytest.raises(ConfigError, match="apm_aam_softmax.*phone_conf"):
        _trainer(tmp_path, data_dir, ["head.name=apm_aam_softmax", "train.strategy=wadcl"])


def test_sphereface_lambda_follows_the_step_and_is_logged(tmp_path, data_dir):
    t = _trainer(tmp_path, data_dir, ["head.name=sphereface", "head.lambda_gamma=1.0",
                                      "head.lambda_min=0.5"])
    t.train()
    rows = [json.loads(x) for x in (tmp_path / "exp" / "train_log.jsonl").read_text().split("\n")
            if x]
    expected = [max(0.5, 1000.0 / (1 + k)) for k in range(8)]   # set before step k + 1
    assert [r["lambda"] for r in rows] == pytest.approx(expected, rel=1e-6)
    assert "margin" not in rows[0]
    model, _ = ckpt_io.load_model(tmp_path / "exp" / "final.pt")
    assert int(model.classifier.head.anneal_step) == 7


def test_sphereface_from_model_init_continues_the_lambda_schedule(tmp_path, data_dir):
    opts = ["head.name=sphereface", "head.lambda_gamma=1.0", "head.lambda_min=0.5"]
    _trainer(tmp_path, data_dir, opts).train()                 # 8 steps: anneal_step 7
    t = _trainer(tmp_path, data_dir, [*opts, "train.steps=3",
                                      f"model.init.path={tmp_path / 'exp' / 'final.pt'}"],
                 exp="adapt")
    t.train()
    rows = [json.loads(x) for x in (tmp_path / "adapt" / "train_log.jsonl").read_text()
            .split("\n") if x]
    expected = [max(0.5, 1000.0 / (1 + 7 + k)) for k in range(3)]
    assert [r["lambda"] for r in rows] == pytest.approx(expected, rel=1e-6)
    # a head that was not loaded (model.init excludes it) starts its own schedule
    t = _trainer(tmp_path, data_dir, [*opts, "train.steps=2",
                                      f"model.init.path={tmp_path / 'exp' / 'final.pt'}",
                                      "model.init.exclude=[classifier.head.*]"], exp="fresh")
    t.train()
    rows = [json.loads(x) for x in (tmp_path / "fresh" / "train_log.jsonl").read_text()
            .split("\n") if x]
    assert [r["lambda"] for r in rows] == pytest.approx([1000.0, 500.0], rel=1e-6)
