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
from lidtool.nnet.wav2vec2 import build_encoder
from lidtool.train.checkpoint import save_model
from lidtool.train.init import load_init
from test_bin_identify import PITCHES, tone_wav
from test_nnet_w2v_lid import W2V_SMALL, w2v_model_cfg

torch.set_num_threads(1)
LOGMEL = "--type=logmel\n--num-mel-bins=80\n--dither=0\n"


def pretrained_encoder(path, extra: dict | None = None):
    """A w2v_encoder final.pt as the pretraining strategy writes it (random weights, feature
    statistics set); `extra` tensors stand for pretraining-only parts."""
    torch.manual_seed(5)
    enc = build_encoder(80, **W2V_SMALL)
    enc.set_feature_stats(torch.randn(80), torch.rand(80) + 0.5)
    weights = {**enc.state_dict(), **(extra or {})}
    save_model(path, {"kind": "w2v_encoder", "model": weights},
               config={"model": {"name": "wav2vec2", **W2V_SMALL}}, classes=[],
               label_table="none", feat_dim=80,
               features={"feature_config": None, "vad_config": None, "cmn_window": 0})
    return enc


INIT = {"prefix_map": {"": "backbone.encoder."}, "exclude": ["quantizer.*"]}


def test_init_loads_exactly_the_encoder(tmp_path):
    quant = {"quantizer.codebook": torch.randn(640, 8), "quantizer.proj.weight": torch.ones(2)}
    enc = pretrained_encoder(tmp_path / "final.pt", extra=quant)
    model = build_model(w2v_model_cfg(keep_blocks=2), {"name": "softmax"}, 80, 3)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    report = load_init(model, {"path": str(tmp_path / "final.pt"), **INIT}, "test")
    own = model.state_dict()
    src = enc.state_dict()
    kept = {k: v for k, v in src.items() if not k.startswith("layers.2.")}
    for name, tensor in kept.items():
        assert torch.equal(own["backbone.encoder." + name], tensor), name
    # the third block is cut (keep_blocks 2): its tensors are unexpected, not loaded
    assert any(n.startswith("backbone.encoder.layers.2.") for n in report["unexpected"])
    assert sorted(report["skipped"]) == sorted(quant)
    assert not any("quantizer" in k for k in own)
    # only the classifier keeps its fresh initialisation
    assert report["missing"] and all(n.startswith("classifier.") for n in report["missing"])
    for name in report["missing"]:
        assert torch.equal(own[name], before[name])


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
    pretrained_encoder(root / "pre.pt")
    cfg = {"model": {**w2v_model_cfg(pooling="avg+max"),
                     "init": {"path": str(root / "pre.pt"), **INIT}},
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
