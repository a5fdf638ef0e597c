"""Fine-tuning a pretrained wav2vec 2.0 encoder for LID through the trainer: model.init
copies exactly the encoder's tensors (normalisation buffers included) and nothing of the
pretraining-only parts; the fine-tuned final.pt identifies raw audio (log-mel front end)."""
from __future__ import annotations

import json

import kaldiio
import numpy as np
import pytest
import soundfile as sf
import torch
import yaml

from lidtool.cli import main as cli
from lidtool.features.extract import FeatureConfig, compute_features
from lidtool.nnet.model import build_model
from lidtool.train.init import load_init
from lidtool.train.w2v_pretrain import load_encoder
from test_bin_identify import PITCHES, tone_wav
from test_nnet_w2v_lid import W2V_SMALL, w2v_model_cfg

torch.set_num_threads(1)
LOGMEL = "--type=logmel\n--num-mel-bins=80\n--dither=0\n"


PRETRAIN = {"model": {"name": "wav2vec2", **W2V_SMALL, "quantizer_entries": 16,
                      "num_negatives": 10},
            "data": {"min_chunk": 60, "max_chunk": 80, "min_frames": 60, "cmn_window": 0,
                     "label_table": "none"},
            "sampler": {"name": "random"},
            "train": {"strategy": "w2v_pretrain", "steps": 6, "batch_size": 4, "log_every": 3,
                      "ckpt_every": 6},
            "optim": {"name": "adam", "lr": 1e-3, "weight_decay": 0.0},
            "sched": {"name": "constant"}, "w2v": {"stats_utts": 8}}
# the pretraining artifact names the encoder's tensors encoder.*
INIT = {"prefix_map": {"encoder.": "backbone.encoder."}}


def test_init_loads_exactly_the_encoder(finetuned):
    root, _ = finetuned
    enc, _ = load_encoder(root / "pre" / "final.pt")
    src = enc.state_dict()
    # from the final.pt (encoder only) and from a pretraining checkpoint (which also holds
    # the quantiser and the projection): the same encoder tensors, nothing else
    ckpt = sorted((root / "pre" / "checkpoints").glob("ckpt-*.pt"))[-1]
    for path in (root / "pre" / "final.pt", ckpt):
        model = build_model(w2v_model_cfg(keep_blocks=2), {"name": "softmax"}, 80, 3)
        before = {k: v.clone() for k, v in model.state_dict().items()}
        report = load_init(model, {"path": str(path), **INIT}, "test")
        own = model.state_dict()
        for name, tensor in src.items():
            if not name.startswith("layers.2."):
                assert torch.equal(own["backbone.encoder." + name], tensor), name
        # keep_blocks 2 cuts the third block: its tensors are unexpected, not loaded
        assert any(n.startswith("backbone.encoder.layers.2.") for n in report["unexpected"])
        assert not any("quantizer" in k or "final_proj" in k for k in own)
        assert all(n.startswith(("encoder.", "quantizer.", "final_proj.", "project_q."))
                   for n in report["skipped"])
        assert report["missing"] and all(n.startswith("classifier.")
                                         for n in report["missing"])
        for name in report["missing"]:
            assert torch.equal(own[name], before[name])
    assert np.any(src["feat_std"].numpy() != 1.0)      # the statistics were set and copied


@pytest.fixture(scope="module")
def finetuned(tmp_path_factory):
    root = tmp_path_factory.mktemp("w2v_ft")
    conf = root / "conf"
    conf.mkdir()
    (conf / "logmel.conf").write_text(LOGMEL)
    fcfg = FeatureConfig.from_file(conf / "logmel.conf")
    data = root / "data" / "train"
    data.mkdir(parents=True)
    feats, u2l = {}, {}
    for lang in sorted(PITCHES):
        for i in range(8):
            utt = f"{lang}-{i:02d}"
            samples, sr = sf.read(tone_wav(root / "wav" / f"{utt}.wav", lang, seed=i),
                                  dtype="float32")
            feats[utt] = compute_features(samples, sr, fcfg)
            u2l[utt] = lang
    kaldiio.save_ark(str(data / "feats.ark"), feats, scp=str(data / "feats.scp"))
    (data / "utt2lang").write_text("".join(f"{u} {l}\n" for u, l in sorted(u2l.items())))
    (conf / "pre.yaml").write_text(yaml.safe_dump(PRETRAIN))
    assert cli(["train", "--config", str(conf / "pre.yaml"), "--feat-config",
                str(conf / "logmel.conf"), str(data), str(root / "pre")]) == 0
    cfg = {"model": {**w2v_model_cfg(pooling="avg+max"),
                     "init": {"path": str(root / "pre" / "final.pt"), **INIT}},
           "head": {"name": "softmax"},
           "data": {"min_chunk": 60, "max_chunk": 100, "min_frames": 8, "cmn_window": 0},
           "train": {"steps": 40, "batch_size": 8, "log_every": 10, "ckpt_every": 40},
           "optim": {"name": "adam", "lr": 1e-3, "weight_decay": 1e-2},
           "sched": {"name": "linear", "warmup_steps": 4}}
    (conf / "w2v_ft.yaml").write_text(yaml.safe_dump(cfg))
    exp = root / "exp"
    assert cli(["train", "--config", str(conf / "w2v_ft.yaml"),
                "--feat-config", str(conf / "logmel.conf"), str(data), str(exp)]) == 0
    return root, exp


def test_finetuned_model_carries_front_end_and_identifies(finetuned, capsys):
    root, exp = finetuned
    report = json.loads((exp / "init_report.json").read_text())
    assert "backbone.encoder.feat_mean" in report["loaded"]
    info = torch.load(exp / "final.pt", map_location="cpu", weights_only=False)
    assert info["features"]["feature_config"]["type"] == "logmel"
    assert not any("quantizer" in k for k in info["model"])
    assert np.any(info["model"]["backbone.encoder.feat_std"].numpy() != 1.0)
    wavs = [tone_wav(root / "new" / "a.wav", "low", seed=100),
            tone_wav(root / "new" / "b.wav", "high", seed=101)]
    capsys.readouterr()
    assert cli(["identify", "--model", str(exp / "final.pt"), *map(str, wavs)]) == 0
    best = [line.split()[1] for line in capsys.readouterr().out.strip().splitlines()]
    assert best == ["low", "high"]


def test_scratch_sets_feature_stats_pretrained_keeps_them(finetuned, tmp_path):
    from lidtool.train.config import load_config
    from lidtool.train.data import load_train_data
    from lidtool.train.trainer import Trainer
    from lidtool.train.w2v_pretrain import feature_stats
    root, _ = finetuned
    enc, _ = load_encoder(root / "pre" / "final.pt")
    cfg_path = tmp_path / "ft.yaml"
    base = yaml.safe_load((root / "conf" / "w2v_ft.yaml").read_text())
    base["train"].update(strategy="w2v_finetune", steps=1)
    base["w2v"] = {"stats_utts": 6}
    for init in (None, base["model"]["init"]):
        cfg_dict = {**base, "model": {**base["model"], "init": init}}
        if init is None:
            del cfg_dict["model"]["init"]
        cfg_path.write_text(yaml.safe_dump(cfg_dict))
        cfg = load_config(cfg_path)
        data = load_train_data(root / "data" / "train", cmn_window=0, min_frames=8)
        trainer = Trainer(cfg, data, tmp_path / f"exp{init is None}", source=str(cfg_path))
        trainer.train()
        got = trainer.model.backbone.encoder
        if init is None:
            mean, std = feature_stats(data, 6, 0)
            assert np.allclose(got.feat_mean.numpy(), mean)
            assert np.allclose(got.feat_std.numpy(), np.maximum(std, 1e-5))
        else:
            assert torch.equal(got.feat_mean, enc.feat_mean)
            assert torch.equal(got.feat_std, enc.feat_std)


def test_w2v_finetune_needs_a_w2v_lid_model(finetuned, tmp_path):
    from lidtool.errors import ConfigError
    from lidtool.train.config import load_config
    from lidtool.train.data import load_train_data
    from lidtool.train.trainer import Trainer
    root, _ = finetuned
    cfg_path = tmp_path / "tdnn.yaml"
    cfg_path.write_text(yaml.safe_dump({"model": {"name": "tdnn", "hidden": [16]},
                                        "train": {"strategy": "w2v_finetune", "steps": 1}}))
    data = load_train_data(root / "data" / "train", cmn_window=0, min_frames=8)
    with pytest.raises(ConfigError, match="needs model.name: w2v_lid") as err:
        Trainer(load_config(cfg_path), data, tmp_path / "exp", source=str(cfg_path))
    assert str(cfg_path) in str(err.value)
