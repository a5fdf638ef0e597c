"""Every training strategy learns a small separable problem; WADCL's balanced branch gives
the backbone no gradient; DCL's stage 2 leaves the backbone untouched."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

torch.set_num_threads(1)   # tiny models: threads only contend with each other

from lidtool.train.checkpoint import load_model
from lidtool.train.config import load_config
from lidtool.train.data import load_train_data
from lidtool.inference.jobs import prepared_utterances
from lidtool.inference.scoring import score_utterances
from lidtool.train.trainer import Trainer
from test_train_data import make_feats_dir, write_tiny_config

SYSTEMS = {
    "rs": ["sampler.name=random"],
    "bs": ["sampler.name=balanced"],
    "alpha": ["sampler.name=alpha", "sampler.alpha=0.3"],
    "xvector": ["train.strategy=dcl", "train.steps=40", "dcl.steps=20"],
    "bs_wma": ["sampler.name=balanced", "wma.enabled=true"],
    "wadcl": ["train.strategy=wadcl", "wma.enabled=true"],
}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return make_feats_dir(tmp_path_factory.mktemp("strat") / "train", counts=(14, 6, 3))


def _trainer(tmp_path, data_dir, overrides, name="exp"):
    conf = write_tiny_config(tmp_path / "conf.yaml")
    cfg = load_config(conf, overrides)
    data = load_train_data(data_dir, cmn_window=50, min_frames=20)
    return Trainer(cfg, data, tmp_path / name, source=str(conf))


def _accuracy(model_path, data_dir) -> float:
    model, info = load_model(model_path)
    utts, scores = score_utterances(model, prepared_utterances(data_dir, 50), "cpu")
    truth = [info["langs"].index(u.split("-")[0]) for u in utts]
    return float(np.mean(scores.argmax(1) == np.array(truth)))


@pytest.mark.parametrize("system", sorted(SYSTEMS))
def test_strategy_learns(tmp_path, data_dir, system):
    trainer = _trainer(tmp_path, data_dir, SYSTEMS[system])
    last = trainer.train()
    assert last["step"] == trainer.total_steps
    lines = (tmp_path / "exp" / "train_log.jsonl").read_text().splitlines()
    assert len(lines) == trainer.total_steps
    assert _accuracy(tmp_path / "exp" / "final.pt", data_dir) >= 0.9


def test_wadcl_balanced_branch_gives_backbone_no_gradient(tmp_path, data_dir):
    t = _trainer(tmp_path, data_dir, SYSTEMS["wadcl"])
    s = t.strategy
    phi, h_b, h_r = t.model.backbone, t.model.classifier, s.h_r
    before = copy.deepcopy(t.model.state_dict())
    h_r_before = copy.deepcopy(h_r.state_dict())
    t.update("balanced", s.balanced_loss)
    assert all(p.grad is None for p in phi.parameters())          # no gradient reached phi
    assert all(p.grad is None for p in h_r.parameters())
    assert all(p.grad is not None for p in h_b.parameters())
    after = t.model.state_dict()
    for name, value in before.items():                             # weights and BN stats
        if name.startswith("backbone."):
            assert torch.equal(value, after[name]), name
    assert any(not torch.equal(before[n], after[n]) for n in before if n.startswith("classifier."))
    assert all(torch.equal(v, h_r.state_dict()[k]) for k, v in h_r_before.items())
    # the random branch: phi and h_r learn, h_b does not
    before = copy.deepcopy(t.model.state_dict())
    t.update("random", s.random_loss)
    assert all(p.grad is None for p in h_b.parameters())
    after = t.model.state_dict()
    assert all(torch.equal(before[n], after[n]) for n in before if n.startswith("classifier."))
    assert any(not torch.equal(before[n], after[n]) for n in before if n.startswith("backbone."))


def test_wadcl_final_model_is_wma_of_backbone_and_hb(tmp_path, data_dir):
    t = _trainer(tmp_path, data_dir, SYSTEMS["wadcl"] + ["train.steps=5"])
    t.train()
    final = torch.load(tmp_path / "exp" / "final.pt", weights_only=True)["model"]
    assert final.keys() == t.model.state_dict().keys()          # no h_r, no extra parameters
    for k, v in t.wma.model.state_dict().items():
        assert torch.equal(final[k], v)


def test_dcl_stage2_freezes_backbone(tmp_path, data_dir):
    t = _trainer(tmp_path, data_dir, SYSTEMS["xvector"] + ["train.steps=10", "dcl.steps=6"])
    t.total_steps = 10
    t.train()
    backbone = copy.deepcopy(t.model.backbone.state_dict())
    t.total_steps = 16
    t.train()
    assert t.strategy.stage == 2
    for k, v in t.model.backbone.state_dict().items():
        assert torch.equal(v, backbone[k]), k
    assert t.strategy.stage2_sampler.kind == "balanced"
    assert {id(p) for g in t.optimizer.param_groups for p in g["params"]} == \
        {id(p) for p in t.model.classifier.parameters()}


def test_dcl_stage2_trains_on_balanced_batches(tmp_path, data_dir):
    """Stage 2 must draw its batches from the balanced sampler (a bug once kept drawing from
    stage 1's random sampler, which silently made the x-vector system RS again)."""
    t = _trainer(tmp_path, data_dir, SYSTEMS["xvector"] + ["train.steps=4", "dcl.steps=30",
                                                           "train.batch_size=12"])
    seen = {1: [], 2: []}
    next_batch = t.next_batch

    def spy(name):
        x, y = next_batch(name)
        seen[t.strategy.stage].extend(y.tolist())
        return x, y

    t.next_batch = spy
    t.train()
    counts = np.bincount(seen[2], minlength=3) / len(seen[2])
    # data has 14 / 6 / 3 utterances: random batches would give ~0.61 / 0.26 / 0.13
    assert np.all(np.abs(counts - 1 / 3) < 0.1), counts
