"""lidtool.train.validation and averaging: validation metrics in the log that leave training
untouched; final.pt as the mean of the last N checkpoints."""
from __future__ import annotations

import json

import pytest
import torch

torch.set_num_threads(1)

from lidtool.bin.plot_training import read_log
from lidtool.cli import main as cli
from lidtool.errors import ConfigError
from lidtool.train import checkpoint as ckpt_io
from lidtool.train.config import load_config
from lidtool.train.data import load_train_data
from lidtool.train.trainer import Trainer
from test_train_data import make_feats_dir, write_tiny_config


@pytest.fixture(scope="module")
def dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("valid")
    return (make_feats_dir(root / "train", counts=(8, 5, 3)),
            make_feats_dir(root / "dev", counts=(3, 3, 3), seed=1))


def _run(tmp_path, data_dir, overrides, exp):
    conf = write_tiny_config(tmp_path / "c.yaml")
    t = Trainer(load_config(conf, overrides),
                load_train_data(data_dir, cmn_window=50, min_frames=20), tmp_path / exp,
                source=str(conf))
    t.train()
    rows = [json.loads(x) for x in (tmp_path / exp / "train_log.jsonl").read_text().splitlines()]
    return t, rows, torch.load(tmp_path / exp / "final.pt", weights_only=True)["model"]


def test_validation_metrics_do_not_change_training(tmp_path, dirs):
    train, dev = dirs
    over = ["train.steps=7", "wma.enabled=true"]
    _, rows_a, final_a = _run(tmp_path, train, over, "plain")
    _, rows_b, final_b = _run(tmp_path, train, over + [f"data.valid_dir={dev}",
                                                       "train.valid_every=3"], "valid")
    assert [r["step"] for r in rows_b if "valid_loss" in r] == [3, 6, 7]
    assert all(0.0 <= r["valid_acc"] <= 1.0 and r["valid_loss"] > 0
               for r in rows_b if "valid_loss" in r)
    assert [r["loss"] for r in rows_a] == [r["loss"] for r in rows_b]
    for k in final_a:
        assert torch.equal(final_a[k], final_b[k]), k
    series = read_log(tmp_path / "valid" / "train_log.jsonl")
    assert list(series["valid_acc"][0]) == [3, 6, 7]
    assert cli(["plot-training", "--smooth", "2", str(tmp_path / "valid")]) == 0
    assert (tmp_path / "valid" / "train_curves.png").stat().st_size > 0


def test_average_last_is_the_mean_of_the_last_checkpoints(tmp_path, dirs):
    train, _ = dirs
    _, _, final = _run(tmp_path, train, ["train.steps=8", "train.ckpt_every=2",
                                         "train.keep_checkpoints=3", "train.average_last=3"],
                       "avg")
    found = ckpt_io.list_checkpoints(tmp_path / "avg")
    assert [s for s, _ in found] == [4, 6, 8]
    states = [ckpt_io.load_checkpoint(p)["model"] for _, p in found]
    for k, v in final.items():
        if v.is_floating_point():
            mean = (states[0][k].double() + states[1][k].double() + states[2][k].double()) / 3
            assert torch.allclose(v.double(), mean, atol=1e-7), k
            assert not torch.equal(v, states[2][k]) or torch.equal(states[0][k], states[2][k])
        else:
            assert torch.equal(v, states[2][k])
    conf = write_tiny_config(tmp_path / "c.yaml")
    with pytest.raises(ConfigError, match="keep_checkpoints"):
        load_config(conf, ["train.average_last=4", "train.keep_checkpoints=3"])
    with pytest.raises(ConfigError, match="writes only 2 checkpoints"):
        Trainer(load_config(conf, ["train.steps=4", "train.ckpt_every=2",
                                   "train.average_last=3"]),
                load_train_data(train, cmn_window=50, min_frames=20), tmp_path / "x",
                source=str(conf))
