"""lidtool.train.config: defaults, overrides, mini section, base configs, clear errors."""
from __future__ import annotations

from pathlib import Path

import pytest

from lidtool.errors import ConfigError
from lidtool.train.config import load_config

CONF_DIR = Path(__file__).resolve().parents[1] / "egs" / "synth_lid" / "conf"


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_defaults_overrides_and_mini(tmp_path):
    p = _write(tmp_path / "a.yaml", "model: {name: tdnn}\ntrain: {steps: 10}\n"
               "mini: {train.steps: 3, model.channels: 8}\n")
    cfg = load_config(p)
    assert cfg["train"]["steps"] == 10 and cfg["optim"]["momentum"] == 0.9
    cfg = load_config(p, ["train.steps=7", "model.hidden=[16, 8]", "wma.enabled=true"])
    assert cfg["train"]["steps"] == 7 and cfg["model"]["hidden"] == [16, 8]
    assert cfg["wma"]["enabled"] is True
    cfg = load_config(p, ["train.batch_size=4"], mini=True)
    assert cfg["train"]["steps"] == 3 and cfg["model"]["channels"] == 8
    assert cfg["train"]["batch_size"] == 4
    cfg = load_config(p, ["dcl.optim.lr=0.01", "train.strategy=dcl"])
    assert cfg["dcl"]["optim"] == {"lr": 0.01} and cfg["dcl"]["sampler"] == "balanced"


def test_errors_name_file_and_key(tmp_path):
    p = _write(tmp_path / "a.yaml", "model: {name: tdnn}\noptim: {weight_dacay: 1}\n")
    with pytest.raises(ConfigError) as err:
        load_config(p)
    assert str(p) in str(err.value) and "optim.weight_dacay" in str(err.value)
    ok = _write(tmp_path / "b.yaml", "model: {name: tdnn}\n")
    with pytest.raises(ConfigError, match="--override.*trian"):
        load_config(ok, ["trian.steps=3"])
    with pytest.raises(ConfigError, match="sampler.name"):
        load_config(ok, ["sampler.name=magic"])
    with pytest.raises(ConfigError, match="no 'mini' section"):
        load_config(ok, mini=True)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")
    bad = _write(tmp_path / "c.yaml", "model: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_base_config(tmp_path):
    _write(tmp_path / "base.yaml", "model: {name: resnet32, channels: [4, 8, 8]}\n"
           "train: {steps: 10, batch_size: 8}\nmini: {model.blocks: [1, 1, 1]}\n")
    p = _write(tmp_path / "v.yaml", "base: base.yaml\nmodel: {name: tdnn}\n"
               "train: {steps: 20}\nmini: {model.channels: 8}\n")
    cfg = load_config(p, mini=True)
    assert cfg["model"] == {"name": "tdnn", "hidden": [512], "embedding_layer": "fc1",
                            "channels": 8}
    assert cfg["train"]["steps"] == 20 and cfg["train"]["batch_size"] == 8


def test_base_path_expands_environment_variables(tmp_path, monkeypatch):
    (tmp_path / "templates").mkdir()
    _write(tmp_path / "templates" / "t.yaml", "model: {name: tdnn}\ntrain: {steps: 7, batch_size: 3}\n")
    p = _write(tmp_path / "v.yaml", "base: ${TEMPLATES}/t.yaml\ntrain: {steps: 9}\n")
    monkeypatch.setenv("TEMPLATES", str(tmp_path / "templates"))
    cfg = load_config(p)
    assert cfg["train"]["steps"] == 9 and cfg["train"]["batch_size"] == 3
    monkeypatch.delenv("TEMPLATES")
    with pytest.raises(ConfigError, match="unset environment variable") as err:
        load_config(p)
    assert "v.yaml" in str(err.value)


SYSTEMS = [f"{arch}_{sys}.yaml" for arch in ("resnet", "tdnn", "etdnn")
           for sys in ("rs", "bs", "xvector", "rs_wma", "bs_wma", "wadcl")]


@pytest.mark.parametrize("name", SYSTEMS)
def test_recipe_configs_load(name):
    from lidtool.nnet.model import build_model
    path = CONF_DIR / name
    for mini in (False, True):
        cfg = load_config(path, mini=mini)
        model = build_model(cfg["model"], cfg["head"], 23, 6, source=str(path))
        assert model is not None


def test_recipe_system_settings():
    bs = load_config(CONF_DIR / "resnet_bs.yaml")
    assert bs["sampler"]["name"] == "balanced" and bs["sched"]["name"] == "step"
    wadcl = load_config(CONF_DIR / "tdnn_wadcl.yaml", mini=True)
    assert wadcl["train"]["strategy"] == "wadcl" and wadcl["wma"]["enabled"]
    assert wadcl["model"]["name"] == "tdnn" and "blocks" not in wadcl["model"]
    xv = load_config(CONF_DIR / "resnet_xvector.yaml")
    assert xv["train"]["strategy"] == "dcl" and xv["dcl"]["sampler"] == "balanced"


def test_xvector_sv_template_is_the_paper_network(tmp_path):
    import torch
    from lidtool.nnet.model import build_model
    template = Path(__file__).resolve().parents[1] / "conf_templates" / "train" / "xvector_sv.yaml"
    (tmp_path / "egs" / "r" / "conf").mkdir(parents=True)
    recipe = tmp_path / "egs" / "r" / "conf" / "x.yaml"
    recipe.write_text(f"base: {template}\ntrain: {{steps: 7}}\n")
    cfg = load_config(recipe)
    assert cfg["train"]["steps"] == 7 and cfg["sampler"]["name"] == "distinct"
    assert cfg["head"] == {"name": "am_softmax", "scale": 30.0, "margin": 0.4}
    assert cfg["data"]["label_table"] == "utt2spk"
    model = build_model(cfg["model"], cfg["head"], 30, 20)
    assert model.classifier.embed_dim == 512 and len(model.classifier.fcs) == 1
    assert model.classifier.head.weight.shape == (20, 512)     # head on the embedding
    assert model.embedding_layer == "fc1_out"
    assert all(not isinstance(m, torch.nn.ReLU) for m in model.modules())
    mini = load_config(template, mini=True)
    assert mini["model"]["hidden"] == [32] and mini["train"]["batch_size"] == 8


def test_xvector_sv_template_trains_in_mini_size(tmp_path):
    import json
    from lidtool.train.data import load_train_data
    from lidtool.train.trainer import Trainer
    from test_train_data import make_feats_dir
    template = Path(__file__).resolve().parents[1] / "conf_templates" / "train" / "xvector_sv.yaml"
    d = make_feats_dir(tmp_path / "d", counts=(3,) * 9, dim=30, frames=(70, 90))
    cfg = load_config(template, ["data.label_table=utt2lang", "train.steps=4",
                                 "train.ckpt_every=4"], mini=True)
    t = Trainer(cfg, load_train_data(d, cmn_window=50, min_frames=20, label_table="utt2lang"),
                tmp_path / "exp", source=str(template))
    t.train()
    rows = [json.loads(x) for x in (tmp_path / "exp" / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    assert all(r["loss"] > 0 for r in rows)


@pytest.mark.parametrize("mini, n_langs", [(False, 8), (True, 6)])
def test_synth_sv_lid_configs(mini, n_langs, monkeypatch):
    """run.sh --lid true: a language recogniser (utt2lang, class-balanced batches; the
    speaker recipe's distinct-class sampler would need B languages); DropAdapt reaches
    min_classes within its steps; the control trains as many steps without dropping."""
    root = Path(__file__).resolve().parents[1]
    monkeypatch.setenv("LIDTOOL_ROOT", str(root))           # as the recipe's path.sh does
    conf = root / "egs" / "synth_sv" / "conf"
    base = load_config(conf / "lid_xvector.yaml", mini=mini)
    assert base["data"]["label_table"] == "utt2lang" and base["sampler"]["name"] == "balanced"
    assert base["head"]["name"] == "softmax" and base["train"]["strategy"] == "plain"
    drop = load_config(conf / "lid_dropadapt_drop.yaml", mini=mini)
    ctrl = load_config(conf / "lid_baseline_more_steps.yaml", mini=mini)
    assert drop["train"]["strategy"] == "dropadapt" and drop["dropadapt"]["mode"] == "drop"
    assert ctrl["train"]["strategy"] == "plain"
    assert drop["train"]["steps"] == ctrl["train"]["steps"]
    assert drop["data"]["label_table"] == ctrl["data"]["label_table"] == "utt2lang"
    da = drop["dropadapt"]
    rounds = -(-drop["train"]["steps"] // da["period"])
    assert 2 <= da["min_classes"] < n_langs <= da["min_classes"] + rounds * da["drop"]
