"""Inference checks: the model's feature dimension (and type) against the data, before any
forward pass; short utterances are warned about and counted."""
from __future__ import annotations

import logging
import shutil

import pytest
import torch

from lidtool.cli import main as cli
from lidtool.errors import CheckpointError
from lidtool.inference.checks import check_model_features
from lidtool.inference.jobs import prepared_utterances
from lidtool.train.checkpoint import load_model
from test_train_data import make_feats_dir, write_tiny_config

torch.set_num_threads(1)


def train_tiny_model(root, *overrides: str):
    """A 4-step TDNN on 8-dim features (root/exp/final.pt): (final.pt, config, data dir)."""
    data = make_feats_dir(root / "train", counts=(4, 4))
    conf = write_tiny_config(root / "c.yaml")
    args = [x for o in ("train.steps=4", *overrides) for x in ("--override", o)]
    assert cli(["train", "--config", str(conf), *args, str(data), str(root / "exp")]) == 0
    return root / "exp" / "final.pt", conf, data


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("checks")
    return root, train_tiny_model(root)[0]


@pytest.mark.parametrize("command", ["infer", "extract-embeddings"])
def test_wrong_feature_dimension_fails_before_scoring(trained, capsys, command):
    root, model = trained
    wrong = make_feats_dir(root / f"wrong_{command}", counts=(2, 2), dim=9)
    out = root / f"out_{command}"
    assert cli([command, str(model), str(wrong), str(out)]) == 1
    err = capsys.readouterr().err
    assert f"{wrong}/feats.scp:1" in err and str(model) in err
    assert "dimension 9" in err and "expects 8" in err
    assert not out.exists()


def test_a_later_utterance_of_another_dimension_names_its_line(trained, tmp_path):
    import kaldiio
    import numpy as np
    _, model = trained
    d = make_feats_dir(tmp_path / "mixed", counts=(2, 2))
    kaldiio.save_ark(str(d / "odd.ark"), {"lang1-u001": np.zeros((30, 7), np.float32)},
                     scp=str(d / "odd.scp"))
    lines = d.joinpath("feats.scp").read_text().splitlines()
    lines[3] = d.joinpath("odd.scp").read_text().strip()
    d.joinpath("feats.scp").write_text("\n".join(lines) + "\n")
    _, info = load_model(model)
    items = prepared_utterances(d, 50, model_info=info, model_path=model)
    with pytest.raises(Exception) as err:
        list(items)
    assert f"{d}/feats.scp:4" in str(err.value) and "dimension 7" in str(err.value)
    assert str(model) in str(err.value)


def test_model_whose_feature_config_disagrees_with_its_network(trained):
    _, model = trained
    _, info = load_model(model)
    info["features"] = {"feature_config": {"type": "mfcc", "num_ceps": 13}}
    with pytest.raises(CheckpointError) as err:
        check_model_features(info, "m.pt")
    assert "m.pt" in str(err.value) and "8-dim" in str(err.value) and "13-dim" in str(err.value)
    info["features"]["feature_config"]["num_ceps"] = 8
    check_model_features(info, "m.pt")


def test_archive_of_another_feature_type_is_warned(trained, tmp_path, caplog):
    _, model = trained
    d = make_feats_dir(tmp_path / "fb", counts=(1, 1))
    shutil.move(d / "feats.ark", d / "raw_fbank_fb.1.ark")
    d.joinpath("feats.scp").write_text(
        d.joinpath("feats.scp").read_text().replace("feats.ark", "raw_fbank_fb.1.ark"))
    _, info = load_model(model)
    info["features"] = {"feature_config": {"type": "mfcc", "num_ceps": 8}}
    with caplog.at_level(logging.WARNING):
        prepared_utterances(d, 50, model_info=info, model_path=model)
    assert "'fbank' archives" in caplog.text and "mfcc features" in caplog.text


def test_short_utterances_are_warned_and_counted(trained, tmp_path, caplog):
    root, model = trained
    d = make_feats_dir(tmp_path / "short", counts=(2, 1), short=2)   # two of 10 frames
    out = tmp_path / "scores"
    with caplog.at_level(logging.INFO):
        assert cli(["infer", str(model), str(d), str(out)]) == 0
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("'lang0-u002' has only 9 frames" in w and "feats.scp:3" in w for w in warned)
    assert "2 shorter than 20 frames (warned)" in caplog.text
    assert len(out.read_text().splitlines()) == 5 * 2      # every utterance x language
