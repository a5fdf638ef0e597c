"""lidtool.train.param_groups: per-module learning-rate scales and no decay on norms and
biases become optimiser parameter groups; the default stays one group."""
from __future__ import annotations

import pytest
import torch

torch.set_num_threads(1)

from lidtool.errors import ConfigError
from lidtool.train.config import load_config
from lidtool.train.data import load_train_data
from lidtool.train.trainer import Trainer
from test_train_data import make_feats_dir, write_tiny_config


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return make_feats_dir(tmp_path_factory.mktemp("groups") / "train", counts=(6, 4))


def _trainer(tmp_path, data_dir, overrides):
    conf = write_tiny_config(tmp_path / "c.yaml")
    cfg = load_config(conf, overrides)
    return Trainer(cfg, load_train_data(data_dir, cmn_window=50, min_frames=20),
                   tmp_path / "exp", source=str(conf))


def _ids(params):
    return {id(p) for p in params}


def test_default_is_one_group(tmp_path, data_dir):
    t = _trainer(tmp_path, data_dir, [])
    assert len(t.optimizer.param_groups) == 1 and "lr_scale" not in t.optimizer.param_groups[0]
    assert t.optimizer.param_groups[0]["weight_decay"] == 5e-4


def test_lr_scales_are_applied_and_kept_by_the_schedule(tmp_path, data_dir):
    t = _trainer(tmp_path, data_dir, ["optim.lr_scales={backbone: 0.1, classifier.head: 2}",
                                      "sched.name=linear", "train.steps=4"])
    groups = t.optimizer.param_groups
    by_lr = {round(g["lr"], 8): _ids(g["params"]) for g in groups}
    assert by_lr == {0.05: _ids(t.model.classifier.fcs.parameters())
                     | _ids(t.model.classifier.acts.parameters()),
                     0.005: _ids(t.model.backbone.parameters()),
                     0.1: _ids(t.model.classifier.head.parameters())}
    assert groups[0]["lr_scale"] == 1.0
    t.train()
    lrs = {g["lr_scale"]: g["lr"] for g in t.optimizer.param_groups}
    assert lrs[0.1] == pytest.approx(0.1 * lrs[1.0]) and lrs[2.0] == pytest.approx(2 * lrs[1.0])
    with pytest.raises(ConfigError, match="'backbone.nothing'"):
        _trainer(tmp_path, data_dir, ["optim.lr_scales={backbone.nothing: 0.1}"])
    with pytest.raises(ConfigError, match="optim.lr_scales"):
        _trainer(tmp_path, data_dir, ["optim.lr_scales=0.1"])


def test_no_decay_on_norms_and_biases(tmp_path, data_dir):
    t = _trainer(tmp_path, data_dir, ["optim.no_decay_norm_bias=true"])
    decay = {g["weight_decay"]: _ids(g["params"]) for g in t.optimizer.param_groups}
    named = dict(t.model.named_parameters())
    flat = {id(p) for n, p in named.items() if p.ndim <= 1}
    assert decay[0.0] == flat and decay[5e-4] == _ids(t.model.parameters()) - flat
    assert any(n.endswith(".bias") for n, p in named.items() if id(p) in decay[0.0])
    bn_weights = [m.weight for m in t.model.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    assert bn_weights and _ids(bn_weights) <= decay[0.0]
