"""lidtool.train.update: gradient accumulation (train.accum_steps) and mixed precision
(train.amp)."""
from __future__ import annotations

import pytest
import torch
from torch import nn

torch.set_num_threads(1)

from lidtool.errors import ConfigError
from lidtool.train.config import load_config
from lidtool.train.data import load_train_data
from lidtool.train.trainer import Trainer
from test_train_data import make_feats_dir, write_tiny_config


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return make_feats_dir(tmp_path_factory.mktemp("accum") / "train", counts=(8, 5, 3))


def _trainer(tmp_path, data_dir, overrides, exp="exp"):
    conf = write_tiny_config(tmp_path / "c.yaml")
    return Trainer(load_config(conf, overrides),
                   load_train_data(data_dir, cmn_window=50, min_frames=20), tmp_path / exp,
                   source=str(conf))


def _without_batchnorm(module: nn.Module) -> None:
    """Slices of a batch have their own BatchNorm statistics (documented); without
    BatchNorm accumulated gradients must equal the whole batch's."""
    for name, child in module.named_children():
        if isinstance(child, nn.modules.batchnorm._BatchNorm):
            setattr(module, name, nn.Identity())
        else:
            _without_batchnorm(child)


def test_accumulated_gradients_equal_the_whole_batch(tmp_path, data_dir):
    grads = {}
    for accum in (1, 2, 4):
        t = _trainer(tmp_path, data_dir, [f"train.accum_steps={accum}", "train.batch_size=16"],
                     f"a{accum}")
        _without_batchnorm(t.model)
        metrics = t.strategy.train_step(0)
        assert metrics["loss"] > 0
        grads[accum] = {n: p.grad.clone() for n, p in t.model.named_parameters()}
    for accum in (2, 4):
        for n, g in grads[1].items():
            assert torch.allclose(grads[accum][n], g, rtol=1e-4, atol=1e-6), (accum, n)
    assert any(g.abs().sum() > 0 for g in grads[1].values())


def test_accum_trains_and_checks_divisibility(tmp_path, data_dir):
    t = _trainer(tmp_path, data_dir, ["train.accum_steps=2", "train.steps=3"])
    assert t.train()["step"] == 3
    with pytest.raises(ConfigError, match="accum_steps"):
        _trainer(tmp_path, data_dir, ["train.accum_steps=3"])
    conf = write_tiny_config(tmp_path / "c.yaml")
    with pytest.raises(ConfigError, match="train.accum_steps"):
        load_config(conf, ["train.accum_steps=0"])


def test_amp(tmp_path, data_dir):
    conf = write_tiny_config(tmp_path / "c.yaml")
    with pytest.raises(ConfigError, match="train.amp"):
        load_config(conf, ["train.amp=fp8"])
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="fp16 needs a CUDA device"):
            _trainer(tmp_path, data_dir, ["train.amp=fp16"])
    t = _trainer(tmp_path, data_dir, ["train.amp=bf16", "train.steps=3"], "bf16")
    before = {k: v.clone() for k, v in t.model.state_dict().items()}
    seen = []
    forward = t.model.forward

    def spy(*args, **kw):
        seen.append(torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu")
                    else None)
        return forward(*args, **kw)
    t.model.forward = spy
    last = t.train()
    assert seen and all(d == torch.bfloat16 for d in seen)
    assert last["loss"] == last["loss"] and last["loss"] > 0          # finite
    after = t.model.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    assert all(v.dtype == before[k].dtype for k, v in after.items())   # weights stay float32
