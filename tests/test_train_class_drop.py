"""DropClass and DropAdapt (lidtool.train.class_drop / dropadapt): rows and batches restricted
to the kept classes, the DropAdapt selection, Combine, the controls, KL logging, and exact
resume in the middle of a round."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

torch.set_num_threads(1)   # tiny models: threads only contend with each other

from lidtool.errors import ConfigError, FeatureError
from lidtool.inference.jobs import prepared_utterances
from lidtool.inference.scoring import score_utterances
from lidtool.train import checkpoint as ckpt_io
from lidtool.train.checkpoint import load_model
from lidtool.train.class_drop import round_rng
from lidtool.train.config import load_config
from lidtool.train.data import load_train_data
from lidtool.train.dropadapt import kl_to_uniform, least_probable
from lidtool.train.samplers import ChunkBatchSampler
from lidtool.train.trainer import Trainer
from test_train_data import make_feats_dir, write_tiny_config

DROPCLASS = ["train.strategy=dropclass", "dropclass.period=3", "dropclass.drop=2",
             "train.steps=9", "train.batch_size=8"]


@pytest.fixture(scope="module")
def dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("drop")
    train = make_feats_dir(root / "train", counts=(6, 6, 6, 6, 6, 6))
    # the adaptation set holds only languages 0 and 1 (another draw of the same problem)
    adapt = make_feats_dir(root / "adapt", counts=(5, 5), seed=3)
    return {"train": train, "adapt": adapt, "root": root}


@pytest.fixture(scope="module")
def trained(dirs):
    """A plain model of the 6 languages: what DropAdapt starts from."""
    t = _trainer(dirs["root"], dirs["train"], ["train.steps=60"], "base")
    t.train()
    return dirs["root"] / "base" / "final.pt"


def _trainer(root, data_dir, overrides, name="exp"):
    conf = write_tiny_config(root / f"{name}.yaml")
    cfg = load_config(conf, ["data.num_workers=0"] + overrides)
    return Trainer(cfg, load_train_data(data_dir, cmn_window=50, min_frames=20), root / name,
                   source=str(conf))


def _adapt_overrides(dirs, trained, *extra):
    return ["train.strategy=dropadapt", f"model.init.path={trained}",
            f"data.adapt_dir={dirs['adapt']}", "dropadapt.period=3", "dropadapt.drop=1",
            "train.steps=9", "train.batch_size=8", *extra]


def _spy(t):
    """Record per step: the batch's labels (class ids) and the rows the head scored."""
    seen = []
    next_batch, logits = t.next_batch, t.strategy.logits

    def spy_batch(name):
        x, y = next_batch(name)
        seen.append({"step": t.step, "labels": set(y.tolist())})
        return x, y

    def spy_logits(x, local=None):
        out = logits(x, local)
        rows = t.strategy.rows
        seen[-1]["rows"] = None if rows is None else rows.tolist()
        seen[-1]["width"] = out.shape[1]
        return out
    t.next_batch, t.strategy.logits = spy_batch, spy_logits
    return seen


def _log(exp):
    return [json.loads(x) for x in (exp / "train_log.jsonl").read_text().splitlines()]


# ----------------------------------------------------------------------------- DropClass
@pytest.mark.parametrize("head", ["softmax", "am_softmax", "aam_softmax", "sphereface",
                                  "adacos"])
def test_dropclass_keeps_m_minus_d_classes_per_round(tmp_path, dirs, head):
    t = _trainer(tmp_path, dirs["train"], DROPCLASS + [f"head.name={head}"])
    seen = _spy(t)
    t.train()
    assert len(seen) == 9
    subsets = []
    for rnd in range(3):
        steps = seen[3 * rnd:3 * rnd + 3]
        rows = steps[0]["rows"]
        assert len(rows) == 4 and rows == sorted(rows)              # M - D = 6 - 2
        assert rows == t.strategy.subset(rnd).tolist()
        for s in steps:
            assert s["rows"] == rows and s["width"] == 4            # head scores 4 rows
            assert s["labels"] <= set(rows)                         # batches from them only
        subsets.append(tuple(rows))
    assert len(set(subsets)) > 1                                     # and they change
    assert [r["classes"] for r in _log(tmp_path / "exp")] == [4] * 9
    final = torch.load(tmp_path / "exp" / "final.pt", weights_only=True)
    assert final["kind"] == "classifier" and len(final["classes"]) == 6
    weights = [v for k, v in final["model"].items()
               if k.startswith("classifier.head.") and k.endswith("weight")]
    assert weights and all(v.shape[0] == 6 for v in weights)       # all M rows kept


def test_dropclass_subset_is_seeded_by_seed_and_round(tmp_path, dirs):
    t = _trainer(tmp_path, dirs["train"], DROPCLASS)
    rng = round_rng(0, 2, "dropclass")
    assert t.strategy.subset(2).tolist() == sorted(rng.choice(6, 4, replace=False).tolist())
    other = _trainer(tmp_path, dirs["train"], DROPCLASS + ["train.seed=1"], "other")
    assert [other.strategy.subset(r).tolist() for r in range(4)] != \
        [t.strategy.subset(r).tolist() for r in range(4)]


def _resume_matches(tmp_path, data_dir, over, stop):
    over = over + ["train.ckpt_every=2", "wma.enabled=true"]
    full = _trainer(tmp_path, data_dir, over, "full")
    full.train()
    part = _trainer(tmp_path, data_dir, over, "part")
    part.total_steps = stop                     # "killed" in the middle of a round
    part.train()
    resumed = _trainer(tmp_path, data_dir, over, "part")
    resumed.load_checkpoint(ckpt_io.latest_checkpoint(tmp_path / "part"))
    assert resumed.step == stop
    resumed.train()
    a = torch.load(tmp_path / "full" / "final.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "part" / "final.pt", weights_only=True)["model"]
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k                          # bit-identical
    assert [r["loss"] for r in _log(tmp_path / "full")] == \
        [r["loss"] for r in _log(tmp_path / "part")]
    return full, resumed


@pytest.mark.parametrize("head", ["softmax", "adacos", "sphereface"])
def test_dropclass_resume_mid_round_is_exact(tmp_path, dirs, head):
    _resume_matches(tmp_path, dirs["train"], DROPCLASS + ["sampler.name=distinct",
                                                          "train.batch_size=4",
                                                          f"head.name={head}"], stop=4)


def test_dropclass_config_errors(tmp_path, dirs):
    with pytest.raises(ConfigError, match=r"dropclass.drop must be an integer in \[1, 5\]"):
        _trainer(tmp_path, dirs["train"], ["train.strategy=dropclass"])
    with pytest.raises(ConfigError, match="dropclass.period"):
        _trainer(tmp_path, dirs["train"], DROPCLASS + ["dropclass.period=0"])
    with pytest.raises(ConfigError, match="group_table"):
        _trainer(tmp_path, dirs["train"], DROPCLASS + ["data.group_table=utt2spk"])


def test_sampler_merge_draws_classes_as_one_and_refuses_too_few():
    labels = np.repeat(np.arange(5), 4)
    s = ChunkBatchSampler("distinct", labels, 3, min_chunk=5, max_chunk=5, seed=0)
    s.merge([1, 3], into=1)
    assert list(s.by_class[1]) == list(np.flatnonzero(np.isin(labels, [1, 3])))
    assert len(s.by_class[3]) == 0 and len(s.drawable) == 4
    for step in range(20):                          # 3 distinct groups of 0, 1 (+3), 2, 4
        groups = [int(s.labels[i]) for i, _, _ in s.batch(step)]
        assert len(set(groups)) == 3 and 3 not in groups
    before = s.labels.copy()
    with pytest.raises(ValueError, match="distinct"):
        s.merge([0, 2, 4], into=0)                  # would leave 2 groups for 3 per batch
    assert np.array_equal(s.labels, before) and len(s.drawable) == 4


# ----------------------------------------------------------------------------- DropAdapt
def test_least_probable_of_a_hand_made_p_average():
    p = np.array([0.30, 0.02, np.nan, 0.01, 0.40, 0.02, 0.25])
    # class 2 is not a candidate (its row was dropped); ties go to the lower id
    assert least_probable(p, [0, 1, 3, 4, 5, 6], 2).tolist() == [1, 3]
    assert least_probable(p, [0, 1, 3, 4, 5, 6], 3).tolist() == [1, 3, 5]
    assert least_probable(p, [0, 4, 6], 1).tolist() == [6]
    assert least_probable(p, [0, 4], 0).tolist() == []
    with pytest.raises(ValueError, match="finite"):
        least_probable(p, [2, 4], 1)
    with pytest.raises(ValueError, match="cannot drop 3 of 2"):
        least_probable(p, [0, 4], 3)


def test_kl_to_uniform():
    assert kl_to_uniform([0.25] * 4) == pytest.approx(0.0, abs=1e-12)
    assert kl_to_uniform([1.0, 0.0, 0.0, 0.0]) == pytest.approx(np.log(4))
    p = np.array([0.5, 0.3, 0.2])
    assert kl_to_uniform(p) == pytest.approx(float(np.sum(p * np.log(p / (1 / 3)))))


def test_dropadapt_drops_least_probable_languages_rows_and_data(tmp_path, dirs, trained):
    """LID use: a 6-language model adapted to a set of languages 0 and 1 only."""
    t = _trainer(tmp_path, dirs["train"], _adapt_overrides(dirs, trained, "dropadapt.drop=2"))
    seen = _spy(t)
    t.train()
    rounds = json.loads((tmp_path / "exp" / "dropadapt_rounds.json").read_text())
    assert rounds["mode"] == "drop" and rounds["num_classes"] == 6
    assert [r["step"] for r in rounds["rounds"]] == [0, 3, 6]
    assert [len(r["dropped"]) for r in rounds["rounds"]] == [2, 2, 0]    # min_classes = 2
    dropped = [c for r in rounds["rounds"] for c in r["dropped"]]
    assert sorted(dropped) == ["lang2", "lang3", "lang4", "lang5"]      # absent languages
    assert rounds["rounds"][-1]["kept"] == ["lang0", "lang1"]
    assert [r["rows"] for r in rounds["rounds"]] == [6, 4, 2]
    for s in seen:
        kept = t.data.classes
        rnd = rounds["rounds"][s["step"] // 3]
        kept = [t.data.classes.index(c) for c in rnd["kept"]]
        assert s["rows"] == kept and s["width"] == len(kept)
        assert s["labels"] <= set(kept)                                 # their data is gone
    log = _log(tmp_path / "exp")
    kl_rows = [r for r in log if "kl_uniform" in r]
    assert [r["step"] for r in kl_rows] == [1, 4, 7] and [r["round"] for r in kl_rows] == [0, 1, 2]
    assert [r["kl_uniform"] for r in kl_rows] == \
        pytest.approx([r["kl_uniform"] for r in rounds["rounds"]], abs=1e-6)
    assert kl_rows[0]["kl_uniform"] > 0.5 * np.log(3)     # mass on 2 of 6 rows: near log 3
    final = torch.load(tmp_path / "exp" / "final.pt", weights_only=True)
    assert final["dropadapt"] == {"mode": "drop", "kept": ["lang0", "lang1"],
                                  "combined_row": None}
    model, info = load_model(tmp_path / "exp" / "final.pt")      # inference reads it as usual
    utts, scores = score_utterances(model, prepared_utterances(dirs["adapt"], 50), "cpu")
    assert scores.shape == (10, 6) and info["classes"] == t.data.classes
    assert np.mean(scores.argmax(1) == [int(u[4]) for u in utts]) >= 0.9


def _first_round(tmp_path, dirs, trained, *extra):
    t = _trainer(tmp_path, dirs["train"], _adapt_overrides(dirs, trained, *extra))
    t._write_run_files()
    t._apply_init()
    return t


def test_dropadapt_combine_relabels_dropped_data_into_one_class(tmp_path, dirs, trained):
    t = _first_round(tmp_path, dirs, trained, "dropadapt.mode=combine", "dropadapt.drop=3",
                     "sampler.name=balanced")
    head = t.model.classifier.head
    before = head.fc.weight.detach().clone(), head.fc.bias.detach().clone()
    t.strategy.before_step(0)
    s = t.strategy
    record = s.rounds[0]
    dropped = sorted(t.data.classes.index(c) for c in record["dropped"])
    assert len(dropped) == 3 and s.combined_row == dropped[0]
    assert s.rows.tolist() == sorted(s.remaining + [dropped[0]])       # 3 kept + combined
    assert torch.allclose(head.fc.weight[dropped[0]], before[0][dropped].mean(0))
    assert torch.allclose(head.fc.bias[dropped[0]], before[1][dropped].mean(0))
    combined = s.rows.tolist().index(dropped[0])
    assert all(int(s.remap[c]) == combined for c in dropped)           # relabelled
    assert [int(s.remap[c]) for c in s.remaining] == \
        [s.rows.tolist().index(c) for c in s.remaining]
    sampler = s.samplers()["main"]
    labels = set()
    for step in range(30):
        labels |= {int(t.data.labels[i]) for i, _, _ in sampler.batch(step)}
    assert labels & set(dropped)                                        # their data stays
    groups = sampler.labels
    assert set(groups[np.isin(t.data.labels, dropped)]) == {dropped[0]}  # drawn as one class
    metrics = t.strategy.train_step(0)
    assert metrics["classes"] == 4
    out = json.loads((tmp_path / "exp" / "dropadapt_rounds.json").read_text())
    assert out["combined_row"] == t.data.classes[dropped[0]]


def test_dropadapt_controls(tmp_path, dirs, trained):
    rnd = _first_round(tmp_path, dirs, trained, "dropadapt.mode=random", "dropadapt.drop=2")
    rnd.strategy.before_step(0)
    want = np.sort(round_rng(0, 0, "dropadapt").choice(np.arange(6), 2, replace=False))
    got = [rnd.data.classes.index(c) for c in rnd.strategy.rounds[0]["dropped"]]
    assert got == want.tolist() and len(rnd.strategy.rows) == 4

    only = _first_round(tmp_path, dirs, trained, "dropadapt.mode=data_only", "dropadapt.drop=2")
    only.strategy.before_step(0)
    s = only.strategy
    dropped = [only.data.classes.index(c) for c in s.rounds[0]["dropped"]]
    assert sorted(dropped) != [] and s.rows is None                    # rows all kept
    assert sorted(s.samplers()["main"].allowed.tolist()) == s.remaining  # data removed
    assert not set(dropped) & set(s.remaining)
    x, y = only.next_batch("main")
    assert not set(y.tolist()) & set(dropped)
    assert s.logits(x).shape[1] == 6


def test_dropadapt_resume_mid_round_is_exact(tmp_path, dirs, trained):
    over = _adapt_overrides(dirs, trained, "dropadapt.mode=combine", "dropadapt.drop=2",
                            "dropadapt.min_classes=1")
    full, resumed = _resume_matches(tmp_path, dirs["train"], over, stop=4)
    assert full.strategy.rounds == resumed.strategy.rounds
    a = json.loads((tmp_path / "full" / "dropadapt_rounds.json").read_text())
    b = json.loads((tmp_path / "part" / "dropadapt_rounds.json").read_text())
    assert a == b


def test_dropadapt_config_errors(tmp_path, dirs, trained):
    base = _adapt_overrides(dirs, trained)
    with pytest.raises(ConfigError, match="model.init"):
        _trainer(tmp_path, dirs["train"], [o for o in base if "model.init" not in o])
    with pytest.raises(ConfigError, match="data.adapt_dir"):
        _trainer(tmp_path, dirs["train"], [o for o in base if "adapt_dir" not in o])
    with pytest.raises(ConfigError, match="dropadapt.mode"):
        _trainer(tmp_path, dirs["train"], base + ["dropadapt.mode=merge"])
    with pytest.raises(ConfigError, match="min_classes"):
        _trainer(tmp_path, dirs["train"], base + ["dropadapt.min_classes=6"])
    with pytest.raises(ConfigError, match="min_classes >= 4"):
        _trainer(tmp_path, dirs["train"], base + ["sampler.name=distinct", "train.batch_size=4"])
    other = make_feats_dir(tmp_path / "dim5", counts=(2,), dim=5)
    with pytest.raises(FeatureError) as err:
        _trainer(tmp_path, dirs["train"], base + [f"data.adapt_dir={other}"])
    assert "dim5/feats.scp" in str(err.value) and "8" in str(err.value)


def test_dropadapt_combine_under_ddp(tmp_path, dirs, trained):
    """Two processes draw the same rounds (drops, merged data) and end with equal weights."""
    from test_train_ddp import torchrun_train
    over = _adapt_overrides(dirs, trained, "dropadapt.mode=combine", "dropadapt.period=4",
                            "train.steps=12", "train.ckpt_every=6")
    torchrun_train(tmp_path, dirs["train"], tmp_path / "exp", over)
    rounds = json.loads((tmp_path / "exp" / "dropadapt_rounds.json").read_text())
    assert [len(r["dropped"]) for r in rounds["rounds"]] == [1, 1, 1]
    assert rounds["combined_row"] in rounds["rounds"][0]["dropped"]
    assert len(_log(tmp_path / "exp")) == 12                      # rank 0 alone writes


# ----------------------------------------------------------------------------- the configs
# config -> (strategy, dropadapt.mode)
TEMPLATES = {"dropclass_xvector_sv": ("dropclass", None),
             "dropadapt_xvector_sv": ("dropadapt", "drop"),
             "dropadapt_combine_xvector_sv": ("dropadapt", "combine"),
             "dropadapt_random_xvector_sv": ("dropadapt", "random"),
             "dropadapt_data_only_xvector_sv": ("dropadapt", "data_only"),
             "more_steps_xvector_sv": ("plain", None)}


def test_conf_templates_train_in_mini_mode(tmp_path, repo):
    """The shipped DropClass/DropAdapt configs load (--mini) and train a few steps on a
    speaker-labelled data dir, starting from the base x-vector config's model."""
    conf = repo / "conf_templates" / "train"
    data_dir = make_feats_dir(tmp_path / "spk", counts=(4, 4, 4, 4))   # 16 speakers
    adapt = make_feats_dir(tmp_path / "adapt", counts=(2, 2), seed=4)
    data = load_train_data(data_dir, label_table="utt2spk", cmn_window=300, min_frames=20)
    common = ["train.steps=12", "data.num_workers=0"]
    base = load_config(conf / "xvector_sv.yaml", common, mini=True)
    Trainer(base, data, tmp_path / "xvector").train()
    init = [f"model.init.path={tmp_path / 'xvector' / 'final.pt'}", f"data.adapt_dir={adapt}"]
    for name, (strategy, mode) in TEMPLATES.items():
        cfg = load_config(conf / f"{name}.yaml", common + init, mini=True)
        assert cfg["train"]["strategy"] == strategy and cfg["sampler"]["name"] == "distinct"
        t = Trainer(cfg, data, tmp_path / name)
        t.train()
        if strategy == "dropadapt":
            assert cfg["dropadapt"]["mode"] == mode
            rounds = json.loads((tmp_path / name / "dropadapt_rounds.json").read_text())
            assert rounds["mode"] == mode and len(rounds["rounds"]) == 2
            assert len(rounds["rounds"][-1]["kept"]) == 16 - 4
        if strategy == "dropclass":
            assert len(t.strategy.rows) == 16 - cfg["dropclass"]["drop"]


def test_p_average_is_a_softmax_of_raw_cosines_for_margin_heads():
    from lidtool.nnet.model import build_model
    from lidtool.train.dropadapt import p_average
    torch.manual_seed(0)
    model = build_model({"name": "tdnn", "channels": 16, "stats_channels": 24, "hidden": [8]},
                        {"name": "am_softmax", "scale": 30.0, "margin": 0.2}, 5, 4)
    feats = [(f"u{i}", np.random.default_rng(i).normal(size=(40, 5)).astype(np.float32))
             for i in range(3)]
    rows = torch.tensor([0, 2, 3])
    got = p_average(model, feats, "cpu", rows=rows)
    model.eval()
    with torch.no_grad():
        want = [torch.softmax(model.classifier.head.cosine(model.classifier.head_input(
            model.backbone(torch.from_numpy(f).unsqueeze(0))))[:, rows].double(), 1)[0]
            for _, f in feats]
    np.testing.assert_allclose(got, torch.stack(want).mean(0).numpy(), rtol=1e-9)
    scaled = np.mean([torch.softmax(model(torch.from_numpy(f).unsqueeze(0), None,
                                          rows=rows).double(), 1)[0].detach().numpy()
                      for _, f in feats], axis=0)
    assert not np.allclose(got, scaled)
