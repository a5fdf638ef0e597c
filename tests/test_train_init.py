"""lidtool.train.init: model.init (partial loading, shape errors, report), freezing, and
that a resumed run neither re-applies the init nor loses the freeze state."""
from __future__ import annotations

import json

import pytest
import torch

torch.set_num_threads(1)

from lidtool.errors import CheckpointError, ConfigError
from lidtool.train import checkpoint as ckpt_io
from lidtool.train.config import load_config
from lidtool.train.data import load_train_data
from lidtool.train.trainer import Trainer
from test_train_data import make_feats_dir, write_tiny_config


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """(data dir, a trained final.pt) to initialise from."""
    root = tmp_path_factory.mktemp("init")
    data_dir = make_feats_dir(root / "train", counts=(8, 5, 3))
    conf = write_tiny_config(root / "c.yaml")
    Trainer(load_config(conf, ["train.steps=6"]),
            load_train_data(data_dir, cmn_window=50, min_frames=20), root / "src").train()
    return data_dir, root / "src" / "final.pt"


def _trainer(tmp_path, data_dir, overrides, exp="exp"):
    conf = write_tiny_config(tmp_path / "c.yaml")
    cfg = load_config(conf, overrides)
    return Trainer(cfg, load_train_data(data_dir, cmn_window=50, min_frames=20),
                   tmp_path / exp, source=str(conf))


def test_partial_init_and_frozen_backbone(tmp_path, source):
    data_dir, src = source
    src_w = torch.load(src, weights_only=True)["model"]
    t = _trainer(tmp_path, data_dir, [
        "train.steps=5", f"model.init={{path: {src}, prefix_map: {{'backbone.': 'backbone.'}}}}",
        "model.freeze=[backbone]"])
    fresh = {k: v.clone() for k, v in t.model.state_dict().items()}
    t.train()
    final = torch.load(tmp_path / "exp" / "final.pt", weights_only=True)["model"]
    for k, v in final.items():
        if k.startswith("backbone."):            # loaded, then frozen (BN statistics too)
            assert torch.equal(v, src_w[k]), k
    assert any(not torch.equal(final[k], src_w[k]) for k in final if k.startswith("classifier."))
    assert any(not torch.equal(fresh[k], src_w[k]) for k in fresh if k.startswith("backbone."))
    report = json.loads((tmp_path / "exp" / "init_report.json").read_text())
    assert report["loaded"] == sorted(k for k in src_w if k.startswith("backbone."))
    assert report["missing"] == sorted(k for k in src_w if k.startswith("classifier."))
    assert report["skipped"] == [k for k in src_w if k.startswith("classifier.")]


def test_mismatched_shape_names_the_tensor(tmp_path, source):
    data_dir, src = source
    t = _trainer(tmp_path, data_dir, ["train.steps=2", f"model.init={{path: {src}}}",
                                      "model.hidden=[16]"])
    with pytest.raises(CheckpointError) as err:
        t.train()
    msg = str(err.value)
    assert str(src) in msg and "classifier.fcs.0.weight" in msg
    assert "(32, 128)" in msg and "(16, 128)" in msg
    # excluding the classifier makes the same init load
    t = _trainer(tmp_path, data_dir, ["train.steps=2", f"model.init={{path: {src}, "
                                      "exclude: ['classifier.*']}", "model.hidden=[16]"])
    t.train()
    with pytest.raises(ConfigError, match="model.init"):
        _trainer(tmp_path, data_dir, ["model.init={prefix_map: {}}"])
    with pytest.raises(ConfigError, match="no module 'backbone.nope'"):
        _trainer(tmp_path, data_dir, ["model.freeze=[backbone.nope]"])


def test_unfreeze_after_freeze_steps_and_resume_is_exact(tmp_path, source, caplog):
    data_dir, src = source
    over = ["train.steps=6", "train.ckpt_every=3", "model.freeze=[backbone]",
            "model.freeze_steps=3", f"model.init={{path: {src}}}"]
    full = _trainer(tmp_path, data_dir, over, "full")
    with caplog.at_level("INFO"):
        full.train()
    assert "step 0: froze backbone" in caplog.text and "step 3: unfroze backbone" in caplog.text
    src_w = torch.load(src, weights_only=True)["model"]
    at3 = ckpt_io.load_checkpoint(ckpt_io.checkpoint_path(tmp_path / "full", 3))
    assert at3["freeze"]["frozen"] is True
    final = torch.load(tmp_path / "full" / "final.pt", weights_only=True)["model"]
    for k in src_w:
        if k.startswith("backbone."):
            assert torch.equal(at3["model"][k], src_w[k]), k
    assert any(not torch.equal(final[k], src_w[k]) for k in final
               if k.startswith("backbone.") and final[k].is_floating_point())
    # interrupted after 3 steps, then resumed without the init file: same weights
    part = _trainer(tmp_path, data_dir, over, "part")
    part.total_steps = 3
    part.train()
    moved = tmp_path / "moved.pt"
    moved.write_bytes(src.read_bytes())
    over_moved = over[:-1] + [f"model.init={{path: {tmp_path / 'gone.pt'}}}"]
    resumed = _trainer(tmp_path, data_dir, over_moved, "part")
    resumed.load_checkpoint(ckpt_io.latest_checkpoint(tmp_path / "part"))
    resumed.train()
    again = torch.load(tmp_path / "part" / "final.pt", weights_only=True)["model"]
    for k in final:
        assert torch.equal(final[k], again[k]), k


def test_init_from_a_checkpoint_or_a_plain_state_dict(tmp_path, source):
    data_dir, src = source
    ckpt = ckpt_io.latest_checkpoint(src.parent)
    ck_w = ckpt_io.load_checkpoint(ckpt)["model"]
    plain = tmp_path / "encoder.pt"            # e.g. a pretrained encoder from elsewhere
    torch.save({"enc." + k[len("backbone.encoder."):]: v for k, v in ck_w.items()
                if k.startswith("backbone.encoder.")}, plain)
    for path, pmap in ((ckpt, "{}"), (plain, "{'enc.': 'backbone.encoder.'}")):
        t = _trainer(tmp_path, data_dir, [f"model.init={{path: {path}, prefix_map: {pmap}}}"])
        t._apply_init()
        own = t.model.state_dict()
        for k, v in ck_w.items():
            if path == ckpt or k.startswith("backbone.encoder."):
                assert torch.equal(own[k], v), (path, k)
    t = _trainer(tmp_path, data_dir, [f"model.init={{path: {plain}}}"])   # nothing maps
    with pytest.raises(ConfigError, match="no tensor of"):
        t._apply_init()
    (tmp_path / "junk.pt").write_bytes(b"junk")
    t = _trainer(tmp_path, data_dir, [f"model.init={{path: {tmp_path / 'junk.pt'}}}"])
    with pytest.raises(CheckpointError, match="junk.pt"):
        t._apply_init()
