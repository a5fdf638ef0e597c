"""Weight moving average: equals a hand-computed EMA of weights and BatchNorm buffers."""
from __future__ import annotations

import copy

import torch
from torch import nn

from lidtool.train.config import load_config
from lidtool.train.data import load_train_data
from lidtool.train.trainer import Trainer
from lidtool.train.wma import WeightMovingAverage, recompute_bn_stats
from test_train_data import make_feats_dir, write_tiny_config

torch.set_num_threads(1)


def test_wma_matches_hand_computed_ema():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    w0 = model[0].weight.detach().clone()
    wma = WeightMovingAverage(model, alpha=0.9)
    history_w, history_rm = [w0], [model[1].running_mean.clone()]
    for _ in range(5):
        with torch.no_grad():
            model[0].weight.add_(torch.randn(4, 3))
        model.train()
        model(torch.randn(8, 3))             # moves BatchNorm running statistics
        wma.update(model)
        history_w.append(model[0].weight.detach().clone())
        history_rm.append(model[1].running_mean.clone())
    expect_w, expect_rm = history_w[0], history_rm[0]
    for w, rm in zip(history_w[1:], history_rm[1:]):
        expect_w = 0.9 * expect_w + 0.1 * w
        expect_rm = 0.9 * expect_rm + 0.1 * rm
    assert torch.allclose(wma.model[0].weight, expect_w, atol=1e-6)
    assert torch.allclose(wma.model[1].running_mean, expect_rm, atol=1e-6)
    assert not torch.allclose(wma.model[0].weight, model[0].weight)
    assert int(wma.model[1].num_batches_tracked) == 5          # integer buffers copied
    assert not any(p.requires_grad for p in wma.model.parameters())
    state = wma.state_dict()
    other = WeightMovingAverage(model, alpha=0.5)
    other.load_state_dict(state)
    assert other.alpha == 0.9 and other.updates == 5
    assert torch.equal(other.model[0].weight, wma.model[0].weight)


def test_trainer_wma_is_ema_of_per_step_models(tmp_path):
    data_dir = make_feats_dir(tmp_path / "train", counts=(6, 4))
    conf = write_tiny_config(tmp_path / "c.yaml")
    cfg = load_config(conf, ["wma.enabled=true", "wma.alpha=0.8", "train.steps=6"])
    t = Trainer(cfg, load_train_data(data_dir, cmn_window=50, min_frames=20), tmp_path / "exp")
    states = [copy.deepcopy(t.model.state_dict())]
    original = t.wma.update

    def record(model):
        states.append(copy.deepcopy(model.state_dict()))
        original(model)

    t.wma.update = record
    t.train()
    assert len(states) == 7
    for key, value in t.wma.model.state_dict().items():
        if not value.is_floating_point():
            continue
        expect = states[0][key]
        for s in states[1:]:
            expect = 0.8 * expect + 0.2 * s[key]
        assert torch.allclose(value, expect, atol=1e-5), key
    final = torch.load(tmp_path / "exp" / "final.pt", weights_only=True)["model"]
    assert all(torch.equal(final[k], v) for k, v in t.wma.model.state_dict().items())


def test_recompute_bn_stats():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    batches = [(torch.randn(16, 2) + 5.0, None) for _ in range(4)]
    recompute_bn_stats(model, batches)
    with torch.no_grad():
        feats = torch.cat([model[0](x) for x, _ in batches])
    assert torch.allclose(model[1].running_mean, feats.mean(0), atol=1e-5)
    assert model[1].momentum == 0.1
