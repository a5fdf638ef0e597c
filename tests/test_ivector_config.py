"""The i-vector system YAML: defaults, `base:` variants, overrides, errors; the recipe files."""
from __future__ import annotations

from pathlib import Path

import pytest

from lidtool.backend.config import BackendConfig
from lidtool.cli import main as cli_main
from lidtool.errors import ConfigError
from lidtool.ivector.config import load_ivector_config, load_yaml

CONF = Path(__file__).resolve().parents[1] / "egs/synth_lid/conf"


def test_recipe_configs_load():
    cfg = load_ivector_config(CONF / "ivector.yaml")
    assert cfg.ubm.num_components == 256 and cfg.extractor.ivector_dim == 100
    assert BackendConfig.from_dict(cfg.backend).classifier == "cosine"
    if (CONF / "ivector_mini.yaml").is_file():
        mini = load_ivector_config(CONF / "ivector_mini.yaml")
        assert mini.ubm.num_components < cfg.ubm.num_components
        assert mini.features == cfg.features          # inherited from the base


def test_base_overrides_and_errors(tmp_path):
    (tmp_path / "a.yaml").write_text("ubm: {num_components: 64, seed: 3}\nbackend: {lda_dim: 5}\n")
    (tmp_path / "b.yaml").write_text("base: a.yaml\nubm: {num_components: 8}\n")
    cfg = load_ivector_config(tmp_path / "b.yaml", ["extractor.ivector_dim=7", "ubm.seed=4"])
    assert (cfg.ubm.num_components, cfg.ubm.seed, cfg.extractor.ivector_dim) == (8, 4, 7)
    assert cfg.backend == {"lda_dim": 5}
    assert cfg.get("ubm.num_components") == 8
    (tmp_path / "loop.yaml").write_text("base: loop.yaml\n")
    with pytest.raises(ConfigError, match="loops back"):
        load_yaml(tmp_path / "loop.yaml")
    (tmp_path / "bad.yaml").write_text("ubm:\n  num_components: [1\n")
    with pytest.raises(ConfigError, match=r"bad.yaml:\d+: invalid YAML"):
        load_yaml(tmp_path / "bad.yaml")
    with pytest.raises(ConfigError, match="unknown key 'ubm.num_comps'"):
        load_ivector_config(None, ["ubm.num_comps=3"])
    with pytest.raises(ConfigError, match="'ubm.num_components' must be a int"):
        load_ivector_config(None, ["ubm.num_components=many"])
    with pytest.raises(ConfigError, match="must be >= 1"):
        load_ivector_config(None, ["extractor.ivector_dim=0"])
    with pytest.raises(ConfigError, match="not key=value"):
        load_ivector_config(None, ["ubm.seed"])


def test_ivector_config_cli(tmp_path, capsys):
    assert cli_main(["ivector-config", "--config", str(CONF / "ivector.yaml"),
                     "--override", "ubm.num_iters_full=3", "--get", "ubm.num_iters_full",
                     "--write", str(tmp_path / "c.yaml")]) == 0
    assert capsys.readouterr().out.strip() == "3"
    assert load_ivector_config(tmp_path / "c.yaml").ubm.num_iters_full == 3
    assert cli_main(["ivector-config", "--get", "features.use_vad"]) == 0
    assert capsys.readouterr().out.strip() == "true"
    assert cli_main(["ivector-config", "--get", "ubm.nothing"]) == 1
    assert "unknown config key 'ubm.nothing'" in capsys.readouterr().err
