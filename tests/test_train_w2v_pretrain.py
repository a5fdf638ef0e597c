"""wav2vec 2.0 pretraining strategy: a tiny run lowers the contrastive loss, sets the
feature statistics, writes a w2v_encoder artifact, and resumes exactly."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import kaldiio
import numpy as np
import pytest
import torch

torch.set_num_threads(1)

from lidtool.errors import ConfigError
from lidtool.train.checkpoint import MODEL_FORMAT, checkpoint_path, load_file
from lidtool.train.config import load_config
from lidtool.train.data import load_train_data
from lidtool.train.trainer import Trainer
from lidtool.train.w2v_pretrain import load_encoder

CONFIG = """\
model: {name: wav2vec2, enc_dim: 32, dim: 32, layers: 2, heads: 2, ffn: 64, final_dim: 16,
        pos_conv_kernel: 8, pos_conv_groups: 4, quantizer_entries: 16, num_negatives: 20,
        stack: 2, dropout: 0.0}
data: {min_chunk: 80, max_chunk: 100, min_frames: 80, cmn_window: 0, label_table: none}
sampler: {name: random}
train: {strategy: w2v_pretrain, steps: 300, batch_size: 8, log_every: 50, ckpt_every: 100,
        keep_checkpoints: 5}
optim: {name: adam, lr: 0.003, weight_decay: 0.0}
sched: {name: constant}
w2v: {stats_utts: 10}
"""


def make_phone_dir(root: Path, utts: int = 24, dim: int = 12, seed: int = 0) -> Path:
    """Features made of 'phones': segments of 12-40 frames, each a noisy copy of one of 6
    prototype vectors, so masked steps are predictable from their context."""
    rng = np.random.default_rng(seed)
    protos = rng.standard_normal((6, dim)) * 2 + 3
    feats, u2l = {}, {}
    for i in range(utts):
        parts, t = [], 0
        while t < 220:
            n = int(rng.integers(12, 41))
            parts.append(protos[rng.integers(6)] + 0.3 * rng.standard_normal((n, dim)))
            t += n
        utt = f"l{i % 2}-u{i:03d}"
        feats[utt] = np.concatenate(parts).astype(np.float32)
        u2l[utt] = f"l{i % 2}"
    root.mkdir(parents=True, exist_ok=True)
    kaldiio.save_ark(str(root / "feats.ark"), feats, scp=str(root / "feats.scp"))
    lines = sorted((root / "feats.scp").read_text().splitlines())
    (root / "feats.scp").write_text("\n".join(lines) + "\n")
    (root / "utt2lang").write_text("".join(f"{u} {l}\n" for u, l in sorted(u2l.items())))
    return root


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return make_phone_dir(tmp_path_factory.mktemp("w2v") / "train")


def _trainer(tmp_path, data_dir, overrides=(), name="exp", text=CONFIG):
    conf = tmp_path / "conf.yaml"
    conf.write_text(text)
    cfg = load_config(conf, list(overrides))
    d = cfg["data"]
    data = load_train_data(data_dir, cmn_window=0, min_frames=d["min_frames"],
                           label_table="none", group_table=d["group_table"])
    return Trainer(cfg, data, tmp_path / name, source=str(conf))


def _log(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


def test_tiny_pretraining_lowers_contrastive_loss_and_writes_encoder(tmp_path, data_dir):
    trainer = _trainer(tmp_path, data_dir, [f"data.valid_dir={data_dir}"])
    trainer.train()
    rows = _log(tmp_path / "exp" / "train_log.jsonl")
    valid = [r for r in rows if "valid_loss" in r]
    assert [r["step"] for r in valid] == [100, 200, 300]
    assert valid[-1]["valid_loss"] < valid[0]["valid_loss"]
    first = np.mean([r["contrastive"] for r in rows[:20]])
    last = np.mean([r["contrastive"] for r in rows[-20:]])
    assert last < first - 0.3, (first, last)
    assert np.mean([r["acc"] for r in rows[-20:]]) > np.mean([r["acc"] for r in rows[:20]])
    # learnt, not reached by collapsing the codebook (identical distractors are -inf, so a
    # few codewords also lower the loss): the 2 x 16 codewords stay in use
    assert np.mean([r["prob_perplexity"] for r in rows[-20:]]) > 16
    for key in ("diversity", "prob_perplexity", "code_perplexity", "temperature", "masked"):
        assert key in rows[-1]
    assert rows[-1]["temperature"] < rows[0]["temperature"]
    info = load_file(tmp_path / "exp" / "final.pt", MODEL_FORMAT)
    assert info["kind"] == "w2v_encoder"
    assert all(k.startswith("encoder.") for k in info["model"])
    assert not any("quantizer" in k for k in info["model"])
    ckpt = torch.load(checkpoint_path(tmp_path / "exp", 300), weights_only=False)
    assert any(k.startswith("quantizer.") for k in ckpt["model"])
    encoder, _ = load_encoder(tmp_path / "exp" / "final.pt")
    data = trainer.data
    frames = np.concatenate([data.get(i) for i in range(len(data))])
    # stats from 10 of the 24 utterances: close to, not equal to, the whole set's
    assert np.allclose(encoder.feat_mean.numpy(), frames.mean(0), atol=0.5)
    assert not torch.allclose(encoder.feat_std, torch.ones_like(encoder.feat_std))
    x, pad = encoder(torch.from_numpy(data.get(0))[None])
    assert x.shape[-1] == 32 and not pad.any()


def test_resume_is_exact(tmp_path, data_dir):
    over = ["train.steps=30", "train.ckpt_every=15"]
    full = _trainer(tmp_path, data_dir, over, "full")
    full.train()
    part = _trainer(tmp_path, data_dir, over, "part")
    part.total_steps = 15
    part.train()
    resumed = _trainer(tmp_path, data_dir, over, "part")
    resumed.load_checkpoint(checkpoint_path(tmp_path / "part", 15))
    resumed.train()
    a, b = full.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    la, lb = _log(tmp_path / "full" / "train_log.jsonl"), _log(tmp_path / "part" /
                                                              "train_log.jsonl")
    assert [r["loss"] for r in la] == [r["loss"] for r in lb]


def test_bf16_autocast_trains(tmp_path, data_dir):
    trainer = _trainer(tmp_path, data_dir, ["train.amp=bf16", "train.steps=4"])
    last = trainer.train()
    assert np.isfinite(last["loss"]) and np.isfinite(last["prob_perplexity"])


def test_language_balanced_sampling_over_groups_without_labels(tmp_path, data_dir):
    trainer = _trainer(tmp_path, data_dir, ["sampler.name=alpha", "sampler.alpha=0.0",
                                            "data.group_table=utt2lang"])
    assert trainer.data.classes == [] and trainer.data.group_names == ["l0", "l1"]
    sampler = trainer.strategy.main
    assert np.allclose(sampler.class_probs, [0.5, 0.5])


def test_wrong_model_or_short_chunks_are_config_errors(tmp_path, data_dir):
    with pytest.raises(ConfigError, match="needs model.name: wav2vec2"):
        tdnn = "model: {name: tdnn, channels: 8}\n" + CONFIG.split("\n", 3)[3]
        _trainer(tmp_path, data_dir, text=tdnn)
    with pytest.raises(ConfigError, match="min_chunk"):
        _trainer(tmp_path, data_dir, ["data.min_chunk=12", "data.max_chunk=20"])


def test_torchrun_two_processes_agree(tmp_path, data_dir):
    # DDP as for the other systems: gradients averaged over ranks, masks and distractors
    # drawn per (seed, step, rank); the ranks must end with the same weights
    conf = tmp_path / "conf.yaml"
    conf.write_text(CONFIG)
    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": f"{repo}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    cmd = [str(Path(sys.executable).parent / "torchrun"), "--standalone", "--nproc_per_node",
           "2", "-m", "lidtool.bin.train", "--config", str(conf), "--num-threads", "1",
           "--device", "cpu", "--override", "train.steps=20", "--override",
           "train.ckpt_every=10", str(data_dir), str(tmp_path / "exp")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path,
                          env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "DDP: all 2 ranks hold the same weights (max difference 0)" in proc.stderr
    rows = _log(tmp_path / "exp" / "train_log.jsonl")
    assert [r["step"] for r in rows if "contrastive" in r] == list(range(1, 21))
    assert load_file(tmp_path / "exp" / "final.pt", MODEL_FORMAT)["kind"] == "w2v_encoder"
