"""Multi-task E-TDNN: frame labels in the data pipeline, L_c + alpha * L_p training, the
phoneme branch absent from final.pt, APM's phone_conf reaching the head, and resume.

`make_phone_dir` writes a synthetic data dir whose frames carry a "phone" (a mean vector per
phone id, segments of 4-9 frames) on top of make_feats_dir's language cue (a larger variance
in feature dim c for language c), with an ali.scp of the per-frame phone ids and num_pdfs.
"""
from __future__ import annotations

import json
from pathlib import Path

import kaldiio
import numpy as np
import pytest
import torch
import torch.nn.functional as F

torch.set_num_threads(1)   # tiny models: threads only contend with each other

from lidtool.cli import main as cli
from lidtool.errors import ConfigError, FeatureError
from lidtool.features.pipeline import prepare_features
from lidtool.train import checkpoint as ckpt_io
from lidtool.train.config import load_config
from lidtool.train.data import ChunkDataset, attach_frame_labels, load_train_data
from lidtool.train.trainer import Trainer
from test_train_data import write_tiny_config

NUM_PHONES = 6

MT_CONFIG = """\
model: {name: etdnn, channels: 24, stats_channels: 32, hidden: [24]}
head: {name: softmax}
data: {min_chunk: 40, max_chunk: 60, min_frames: 30, cmn_window: 50}
sampler: {name: random}
train: {strategy: multitask, steps: 50, batch_size: 16, log_every: 25, ckpt_every: 25}
multitask: {alpha: 0.3, hidden: [24]}
optim: {name: adam, lr: 0.005, weight_decay: 0.0}
sched: {name: constant}
wma: {enabled: false, alpha: 0.9}
"""


def make_phone_dir(root: Path, counts=(6, 6, 4), dim: int = 8, frames=(70, 130),
                   seed: int = 0, num_phones: int = NUM_PHONES) -> Path:
    """Data dir (feats.scp, vad.scp, utt2lang, utt2spk) plus root/labels/{ali.scp,num_pdfs}."""
    rng = np.random.default_rng(seed)
    d = Path(root)
    d.mkdir(parents=True, exist_ok=True)
    means = rng.standard_normal((num_phones, dim)).astype(np.float32) * 2.0
    feats, vads, alis, u2l = {}, {}, {}, {}
    for c, n in enumerate(counts):
        for i in range(n):
            utt = f"lang{c}-u{i:03d}"
            t = int(rng.integers(*frames))
            phones = []
            while len(phones) < t:
                phones += [int(rng.integers(num_phones))] * int(rng.integers(4, 10))
            ali = np.array(phones[:t], dtype=np.int32)
            scale = np.ones(dim, np.float32)
            scale[c % dim] = 3.0
            feats[utt] = (rng.standard_normal((t, dim)) * scale + means[ali]).astype(np.float32)
            v = np.ones(t, np.float32)
            v[: t // 10] = 0.0
            vads[utt], alis[utt], u2l[utt] = v, ali, f"lang{c}"
    keys = sorted(u2l)
    kaldiio.save_ark(str(d / "feats.ark"), {k: feats[k] for k in keys}, scp=str(d / "feats.scp"))
    kaldiio.save_ark(str(d / "vad.ark"), {k: vads[k] for k in keys}, scp=str(d / "vad.scp"))
    (d / "utt2lang").write_text("".join(f"{u} {u2l[u]}\n" for u in keys))
    (d / "utt2spk").write_text("".join(f"{u} {u}\n" for u in keys))
    write_ali(d / "labels", {k: alis[k] for k in keys}, num_phones)
    return d


def write_ali(folder: Path, alis: dict, num_phones: int | None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    kaldiio.save_ark(str(folder / "ali.ark"), {k: np.asarray(v, np.int32) for k, v in
                                               sorted(alis.items())},
                     scp=str(folder / "ali.scp"))
    if num_phones is not None:
        (folder / "num_pdfs").write_text(f"{num_phones}\n")
    return folder / "ali.scp"


@pytest.fixture(scope="module")
def phone_dir(tmp_path_factory):
    return make_phone_dir(tmp_path_factory.mktemp("mt") / "train")


def mt_trainer(tmp_path, data_dir, overrides=(), exp="exp", text=MT_CONFIG):
    conf = write_tiny_config(tmp_path / "mt.yaml", text)
    cfg = load_config(conf, [f"data.frame_labels={data_dir / 'labels' / 'ali.scp'}",
                             *overrides])
    data = load_train_data(data_dir, cmn_window=50, min_frames=30)
    return Trainer(cfg, data, tmp_path / exp, source=str(conf))


def read_log(exp: Path) -> list[dict]:
    return [json.loads(x) for x in (exp / "train_log.jsonl").read_text().splitlines()]


# -- frame labels in the data pipeline -----------------------------------------------------
@pytest.mark.parametrize("preload", [True, False])
def test_labels_follow_vad_selection_and_crop(tmp_path, preload):
    d = make_phone_dir(tmp_path / "d", counts=(2, 2))
    # labels = original frame index, so the selection and crop can be read back
    raw = {u: m for u, m in kaldiio.load_scp(str(d / "feats.scp")).items()}
    ali = write_ali(tmp_path / "idx", {u: np.arange(len(m)) for u, m in raw.items()}, 1000)
    data = attach_frame_labels(load_train_data(d, cmn_window=50, min_frames=30,
                                               preload=preload), ali)
    assert data.num_phones == 1000
    vads = kaldiio.load_scp(str(d / "vad.scp"))
    ds = ChunkDataset(data)
    for i, utt in enumerate(data.utts):
        voiced = np.flatnonzero(vads[utt] > 0.5)
        assert np.array_equal(data.frame_labels[i], voiced)          # same VAD selection
        prepared = prepare_features(raw[utt], vads[utt], cmn_window=50)
        for frac, length in ((0.0, 30), (0.37, 45), (0.99, 50), (0.5, 2 * len(voiced))):
            x, y, lab = ds[(i, frac, length)]
            assert x.shape == (length, 8) and lab.shape == (length,) and lab.dtype == torch.int64
            pos = np.searchsorted(voiced, lab.numpy())                # row of each label
            assert np.array_equal(voiced[pos], lab.numpy())
            assert np.allclose(x.numpy(), prepared[pos])               # same frames as feats


def test_frame_label_errors_name_ali_and_utterance(tmp_path):
    d = make_phone_dir(tmp_path / "d", counts=(2, 2))
    alis = {u: v for u, v in kaldiio.load_scp(str(d / "labels" / "ali.scp")).items()}
    load = lambda: load_train_data(d, cmn_window=50, min_frames=30)   # noqa: E731
    short = dict(alis)
    short["lang1-u000"] = short["lang1-u000"][:-1]
    bad = write_ali(tmp_path / "short", short, NUM_PHONES)
    with pytest.raises(FeatureError) as err:
        attach_frame_labels(load(), bad)
    msg = str(err.value)
    assert str(bad) in msg and ":3:" in msg and "lang1-u000" in msg
    assert f"{len(short['lang1-u000'])} frame labels" in msg and "feature frames" in msg
    missing = write_ali(tmp_path / "missing", {k: v for k, v in alis.items()
                                               if k != "lang0-u001"}, NUM_PHONES)
    with pytest.raises(FeatureError, match="'lang0-u001'.*no frame labels"):
        attach_frame_labels(load(), missing)
    with pytest.raises(FeatureError, match="outside \\[0, 3\\)"):
        attach_frame_labels(load(), d / "labels" / "ali.scp", num_phones=3)
    no_count = write_ali(tmp_path / "nocount", alis, None)
    with pytest.raises(FeatureError, match="num_pdfs"):
        attach_frame_labels(load(), no_count)
    assert attach_frame_labels(load(), no_count, num_phones=8).num_phones == 8
    with pytest.raises(FeatureError, match="does not exist"):
        attach_frame_labels(load(), tmp_path / "nope" / "ali.scp")
    # the trainer: multitask without labels, and a mismatch through the CLI
    with pytest.raises(ConfigError, match="data.frame_labels"):
        Trainer(load_config(write_tiny_config(tmp_path / "c.yaml", MT_CONFIG)), load(),
                tmp_path / "exp")
    conf = write_tiny_config(tmp_path / "c.yaml", MT_CONFIG)
    rc = cli(["train", "--config", str(conf), "--override", f"data.frame_labels={bad}",
              "--override", "data.min_frames=30", str(d), str(tmp_path / "exp")])
    assert rc == 1 and not (tmp_path / "exp" / "final.pt").exists()


# -- training ------------------------------------------------------------------------------
def test_multitask_trains_and_phone_head_is_dropped(tmp_path, phone_dir):
    t = mt_trainer(tmp_path, phone_dir)
    assert t.strategy.layer == 9                       # last 512-wide E-TDNN layer by default
    t.train()
    rows = read_log(tmp_path / "exp")
    assert len(rows) == 50
    for key in ("loss", "lang_loss", "phone_loss", "acc", "phone_acc", "phone_conf"):
        assert all(key in r for r in rows), key
    first = {k: np.mean([r[k] for r in rows[:5]]) for k in ("lang_loss", "phone_loss")}
    last = {k: np.mean([r[k] for r in rows[-5:]]) for k in ("lang_loss", "phone_loss")}
    assert last["lang_loss"] < 0.5 * first["lang_loss"]
    assert last["phone_loss"] < 0.7 * first["phone_loss"]
    assert np.mean([r["phone_acc"] for r in rows[-5:]]) > 0.6
    r = rows[-1]
    assert r["loss"] == pytest.approx(r["lang_loss"] + 0.3 * r["phone_loss"], abs=1e-5)
    # the exported model has no phoneme-head parameters and runs as any LID model
    final = torch.load(tmp_path / "exp" / "final.pt", weights_only=True)["model"]
    assert final.keys() == t.model.state_dict().keys()
    n_phone = sum(v.numel() for v in t.strategy.phone_head.state_dict().values())
    assert n_phone > 0 and not any("phone" in k for k in final)
    ckpt = ckpt_io.load_checkpoint(ckpt_io.latest_checkpoint(tmp_path / "exp"))
    assert set(ckpt["strategy"]["phone_head"]) == set(t.strategy.phone_head.state_dict())
    out = tmp_path / "infer"
    assert cli(["infer", "--device", "cpu", str(tmp_path / "exp" / "final.pt"), str(phone_dir),
                str(out / "scores")]) == 0
    scores = [ln.split() for ln in (out / "scores").read_text().splitlines()]
    assert len(scores) == 16 * 3
    assert cli(["extract-embeddings", "--device", "cpu", str(tmp_path / "exp" / "final.pt"),
                str(phone_dir), str(out)]) == 0
    vecs = kaldiio.load_scp(str(out / "xvector_train.1.scp"))
    assert len(vecs) == 16 and all(v.shape == (24,) for v in vecs.values())   # fc1 affine


def test_apm_phone_conf_reaches_the_head(tmp_path, phone_dir):
    t = mt_trainer(tmp_path, phone_dir, ["head.name=apm_am_softmax", "head.margin=0.05",
                                         "head.beta=0.5", "head.scale=10"])
    head, phone_head = t.model.classifier.head, t.strategy.phone_head
    seen = {}
    phone_head.register_forward_hook(lambda m, a, out: seen.__setitem__("phone", out.detach()))

    def record(module, args, kwargs, out):
        if len(args) > 1:                                       # the call with labels
            seen.update(emb=args[0].detach(), y=args[1], conf=kwargs["phone_conf"],
                        logits=out.detach(), w=module.weight.detach().clone())

    head.register_forward_hook(record, with_kwargs=True)
    metrics = t.strategy.train_step(0)
    p = seen["phone"].softmax(-1).amax(-1).mean(1)              # mean max posterior per chunk
    assert torch.allclose(seen["conf"].detach(), p, atol=1e-6)
    margins = 0.05 + 0.5 * p                                     # P_i = m + beta * p_i
    y = seen["y"]
    rows = torch.arange(len(y))
    assert metrics["phone_conf"] == pytest.approx(float(p.mean()), abs=1e-6)
    assert metrics["apm_margin"] == pytest.approx(float(margins.mean()), abs=1e-6)
    # the logits of that training forward pass (weights as they were then): target logit
    # s * (cos theta - P_i), every other logit s * cos theta
    cos = F.linear(F.normalize(seen["emb"]), F.normalize(seen["w"]))
    expected = 10 * cos
    expected[rows, y] = 10 * (cos[rows, y] - margins)
    assert torch.allclose(seen["logits"], expected, atol=1e-4)
    # an APM head without a strategy that provides phone_conf is a config error
    with pytest.raises(ConfigError, match="phone_conf"):
        mt_trainer(tmp_path, phone_dir, ["train.strategy=plain", "head.name=apm_am_softmax"])


def test_multitask_apm_resume_reproduces_uninterrupted_training(tmp_path, phone_dir):
    over = ["train.steps=12", "train.ckpt_every=4", "head.name=apm_aam_softmax",
            "head.margin=0.02", "head.beta=0.2",
            "head.schedule={type: linear, initial: 0.0, start: 2, end: 10}",
            "wma.enabled=true", "sampler.name=balanced"]
    full = mt_trainer(tmp_path, phone_dir, over, "full")
    full.train()
    part = mt_trainer(tmp_path, phone_dir, over, "part")
    part.total_steps = 6                        # "killed" after 6 steps; last ckpt at 4
    part.train()
    ckpt = ckpt_io.latest_checkpoint(tmp_path / "part")
    state = ckpt_io.load_checkpoint(ckpt)
    assert state["step"] == 6
    assert state["margin_schedulers"][0]["last_step"] == 5
    assert state["margin_schedulers"][0]["margin"] == pytest.approx(0.02 * 3 / 8)
    resumed = mt_trainer(tmp_path, phone_dir, over, "part")
    assert resumed.model.classifier.head.margin == 0.02
    resumed.load_checkpoint(ckpt)
    assert resumed.model.classifier.head.margin == pytest.approx(0.02 * 3 / 8)
    resumed.train()
    a, b = read_log(tmp_path / "full"), read_log(tmp_path / "part")
    assert [r["step"] for r in a] == [r["step"] for r in b] == list(range(1, 13))
    for key in ("loss", "lang_loss", "phone_loss", "phone_conf", "margin", "apm_margin"):
        assert [r[key] for r in b] == pytest.approx([r[key] for r in a], rel=1e-4, abs=1e-5)
    assert [r["margin"] for r in a] == pytest.approx(
        [0.0, 0.0, 0.0, 0.0025, 0.005, 0.0075, 0.01, 0.0125, 0.015, 0.0175, 0.02, 0.02])
    fa = torch.load(tmp_path / "full" / "final.pt", weights_only=True)["model"]
    fb = torch.load(tmp_path / "part" / "final.pt", weights_only=True)["model"]
    assert fa.keys() == fb.keys()
    for k in fa:
        assert torch.allclose(fa[k].float(), fb[k].float(), atol=1e-5), k
    pa = full.strategy.phone_head.state_dict()
    pb = resumed.strategy.phone_head.state_dict()
    assert all(torch.allclose(pa[k].float(), pb[k].float(), atol=1e-5) for k in pa)


def test_multitask_config_errors(tmp_path, phone_dir):
    with pytest.raises(ConfigError, match="multitask.*frame layer must be an integer in 1..10"):
        mt_trainer(tmp_path, phone_dir, ["multitask.layer=11"])
    with pytest.raises(ConfigError, match="multitask.alpha"):
        mt_trainer(tmp_path, phone_dir, ["multitask.alpha=-1"])
    with pytest.raises(ConfigError, match="no frame layers"):
        mt_trainer(tmp_path, phone_dir, text=MT_CONFIG.replace(
            "{name: etdnn, channels: 24, stats_channels: 32, hidden: [24]}",
            "{name: resnet32, channels: [4, 4, 4], blocks: [1, 1, 1], hidden: [8]}"))
    t = mt_trainer(tmp_path, phone_dir, ["multitask.layer=3", "multitask.hidden=[]"])
    assert t.strategy.layer == 3 and len(t.strategy.phone_head.net) == 1


# -- the paper's Table 1 configs -------------------------------------------------------------
CONF = Path(__file__).resolve().parents[1] / "egs" / "synth_lid" / "conf"
TABLE1 = {"olr_xvector_softmax": ("plain", "softmax", None),
          "olr_mt_softmax": ("multitask", "softmax", None),
          "olr_mt_am_m0.2": ("multitask", "am_softmax", 0.2),
          "olr_mt_am_m0.02": ("multitask", "am_softmax", 0.02),
          "olr_mt_apm_am": ("multitask", "apm_am_softmax", 0.02),
          "olr_mt_aam_m0.2": ("multitask", "aam_softmax", 0.2),
          "olr_mt_aam_m0.02": ("multitask", "aam_softmax", 0.02),
          "olr_mt_apm_aam": ("multitask", "apm_aam_softmax", 0.02)}


@pytest.mark.parametrize("system", sorted(TABLE1))
def test_table1_configs(tmp_path, phone_dir, system):
    from lidtool.nnet.model import build_model
    strategy, head, margin = TABLE1[system]
    path = CONF / f"{system}.yaml"
    full = load_config(path)
    assert (full["train"]["strategy"], full["head"]["name"]) == (strategy, head)
    assert full["head"].get("margin") == margin
    assert full["optim"]["name"] == "adam"
    assert full["data"]["min_chunk"] == full["data"]["max_chunk"] == 100
    assert full["model"]["name"] == "etdnn" and full["model"]["embedding_layer"] == "fc1"
    # the recipe's CPU scale: half the paper's widths ...
    net = build_model(full["model"], full["head"], 23, 10, source=str(path))
    assert net.backbone.out_dim == 2 * 768 and net.embed(torch.randn(1, 100, 23)).shape == (1, 256)
    if strategy == "multitask":
        assert full["multitask"]["alpha"] == 0.3 and full["multitask"]["hidden"] == [256]
    # ... and the override the config documents gives the paper's E-TDNN (3000-dim pooling,
    # 512-dim embedding, 512-wide phoneme branch)
    paper = load_config(path, ["model.channels=512", "model.stats_channels=1500",
                               "model.hidden=[512,512]", "multitask.hidden=[512]",
                               "train.batch_size=512"])
    assert "model.stats_channels=1500" in (CONF / "olr_xvector_softmax.yaml").read_text()
    net = build_model(paper["model"], paper["head"], 23, 10, source=str(path))
    assert net.backbone.out_dim == 3000 and net.embed(torch.randn(1, 100, 23)).shape == (1, 512)
    # the mini variant trains (2 steps) with the recipe's frame-label override
    cfg = load_config(path, [f"data.frame_labels={phone_dir / 'labels' / 'ali.scp'}",
                             "train.steps=2"], mini=True)
    t = Trainer(cfg, load_train_data(phone_dir, cmn_window=50, min_frames=30),
                tmp_path / system, source=str(path))
    last = t.train()
    assert last["step"] == 2 and ("phone_loss" in last) == (strategy == "multitask")
    assert ("margin" in last) == (margin is not None)
    final = torch.load(tmp_path / system / "final.pt", weights_only=True)["model"]
    assert final.keys() == t.model.state_dict().keys()
    model, _ = ckpt_io.load_model(tmp_path / system / "final.pt")   # margin-free scores
    scores = torch.log_softmax(model(torch.randn(2, 80, 8)), dim=1)
    assert scores.shape == (2, 3) and torch.isfinite(scores).all()


def test_multitask_apm_under_torchrun_two_processes(tmp_path, phone_dir):
    import os
    import subprocess
    import sys
    repo = Path(__file__).resolve().parents[1]
    conf = write_tiny_config(tmp_path / "mt.yaml", MT_CONFIG)
    exp = tmp_path / "exp"
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": f"{repo}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    over = [f"data.frame_labels={phone_dir / 'labels' / 'ali.scp'}", "train.steps=10",
            "train.ckpt_every=10", "head.name=apm_am_softmax", "head.margin=0.02",
            "head.beta=0.05", "head.schedule={type: linear, end: 4}", "wma.enabled=true"]
    cmd = [str(Path(sys.executable).parent / "torchrun"), "--standalone", "--nproc_per_node",
           "2", "-m", "lidtool.bin.train", "--config", str(conf), "--num-threads", "1",
           "--device", "cpu", *[a for o in over for a in ("--override", o)],
           str(phone_dir), str(exp)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, cwd=tmp_path,
                          env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # every module, the phoneme branch included, is identical on both ranks
    assert "DDP: all 2 ranks hold the same weights (max difference 0)" in proc.stderr
    rows = read_log(exp)
    assert [r["step"] for r in rows] == list(range(1, 11))
    assert [r["margin"] for r in rows[:5]] == pytest.approx([0.0, 0.005, 0.01, 0.015, 0.02])
    final = torch.load(exp / "final.pt", weights_only=True)["model"]
    assert not any("phone" in k for k in final)
