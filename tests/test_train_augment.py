"""lidtool.train.augment: frequency / time masks and VTLP on training batches (the `augment`
config section): what they do, determinism per step, exact resume, and that a run without
them trains as before."""
from __future__ import annotations

import copy
import json

import pytest
import torch

torch.set_num_threads(1)

from lidtool.errors import ConfigError
from lidtool.train import checkpoint as ckpt_io
from lidtool.train.augment import SECTION, Augmenter, band_masks, vtlp_sources, warp_bins
from lidtool.train.config import load_config
from lidtool.train.data import load_train_data
from lidtool.train.trainer import Trainer
from test_train_data import TINY_CONFIG, make_feats_dir, write_tiny_config


@pytest.fixture(scope="module")
def dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("augment")
    return (make_feats_dir(root / "train", counts=(8, 5, 3)),
            make_feats_dir(root / "dev", counts=(3, 3, 3), seed=1))


def _augmenter(**keys) -> Augmenter:
    return Augmenter({**copy.deepcopy(SECTION), **keys}, seed=3)


def _trainer(tmp_path, data_dir, overrides, exp, text=TINY_CONFIG, features=None):
    conf = write_tiny_config(tmp_path / "c.yaml", text)
    return Trainer(load_config(conf, overrides),
                   load_train_data(data_dir, cmn_window=50, min_frames=20), tmp_path / exp,
                   source=str(conf), features=features)


def _final(exp):
    return torch.load(exp / "final.pt", weights_only=True)["model"]


def _runs(mask_1d: torch.Tensor) -> list[tuple[int, int]]:
    """(start, length) of the runs of True in a 1-d bool tensor."""
    runs, start = [], None
    for i, v in enumerate(mask_1d.tolist() + [False]):
        if v and start is None:
            start = i
        elif not v and start is not None:
            runs.append((start, i - start))
            start = None
    return runs


# -- masks ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("axis", ["freq", "time"])
def test_one_mask_zeroes_one_band_of_at_most_width(axis):
    aug = _augmenter(**{f"{axis}_mask_num": 1, f"{axis}_mask_width": 6})
    x = torch.randn(64, 50, 40) + 5.0                 # no zeros of its own
    y = aug(x, step=7, name="main")
    widths = set()
    for b in range(64):
        zero = y[b] == 0
        lines = zero.all(dim=0) if axis == "freq" else zero.all(dim=1)
        assert zero.sum() == lines.sum() * (50 if axis == "freq" else 40)  # whole bands only
        runs = _runs(lines)
        assert len(runs) == 1 and 1 <= runs[0][1] <= 6, runs
        widths.add(runs[0][1])
        keep = ~zero
        assert torch.equal(y[b][keep], x[b][keep])
    assert max(widths) == 6 and min(widths) == 1      # widths drawn over the whole 1..6


def test_several_masks_are_exactly_the_drawn_bands():
    aug = _augmenter(freq_mask_num=3, freq_mask_width=5)
    x = torch.randn(32, 20, 40) + 5.0
    y = aug(x, step=2, name="main")
    starts, widths = band_masks(aug.generator(2, "main"), 32, 40, 3, 5)
    assert starts.shape == widths.shape == (32, 3)
    assert ((widths >= 1) & (widths <= 5)).all() and (starts >= 0).all()
    assert (starts + widths <= 40).all()
    for b in range(32):
        expect = torch.zeros(40, dtype=torch.bool)
        for s, w in zip(starts[b].tolist(), widths[b].tolist()):
            expect[s:s + w] = True
        assert torch.equal((y[b] == 0).all(dim=0), expect)
        assert not (y[b][:, ~expect] == 0).any()


# -- VTLP -----------------------------------------------------------------------------------------
def test_vtlp_alpha_one_is_the_identity():
    x = torch.randn(8, 30, 40)
    assert torch.equal(warp_bins(x, torch.ones(8, dtype=torch.float64)), x)
    aug = _augmenter(vtlp_prob=1.0, vtlp_alpha=[1.0, 1.0])
    assert torch.equal(aug(x, step=0, name="main"), x)


def test_vtlp_moves_energy_with_alpha():
    bins = torch.arange(40, dtype=torch.float32)
    x = torch.exp(-0.5 * ((bins - 12.0) / 1.5) ** 2).expand(3, 5, 40).contiguous()
    y = warp_bins(x, torch.tensor([1.2, 1.0, 0.85], dtype=torch.float64))

    def centroid(t):
        return float((t[0] * bins).sum() / t[0].sum())

    assert int(y[0, 0].argmax()) in (14, 15)           # 12 * 1.2 = 14.4
    assert centroid(y[0]) > centroid(x[0]) + 2.0
    assert torch.equal(y[1], x[1])
    assert centroid(y[2]) < centroid(x[2]) - 1.0
    src = vtlp_sources(torch.tensor([0.9, 1.1], dtype=torch.float64), 40)
    assert (src[:, 1:] > src[:, :-1]).all()           # monotonic warp
    assert torch.equal(src[:, 0], torch.zeros(2, dtype=torch.float64))
    assert torch.equal(src[:, -1], torch.full((2,), 39.0, dtype=torch.float64))


def test_vtlp_prob_chooses_chunks():
    x = torch.randn(200, 4, 40)
    y = _augmenter(vtlp_prob=0.5, vtlp_alpha=[1.1, 1.2])(x, step=1, name="main")
    changed = sum(not torch.equal(y[b], x[b]) for b in range(200))
    assert 60 < changed < 140


# -- determinism ----------------------------------------------------------------------------------
def test_same_step_same_augmentation_and_no_global_rng():
    aug = _augmenter(freq_mask_num=2, freq_mask_width=4, time_mask_num=2, time_mask_width=8,
                     vtlp_prob=0.5)
    x = torch.randn(16, 50, 40)
    state = torch.get_rng_state()
    a = aug(x, step=5, name="main")
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(_augmenter(freq_mask_num=2, freq_mask_width=4, time_mask_num=2,
                                  time_mask_width=8, vtlp_prob=0.5)(x, 5, "main"), a)
    assert not torch.equal(aug(x, 6, "main"), a)
    assert not torch.equal(aug(x, 5, "balanced"), a)
    assert not torch.equal(Augmenter(aug.cfg, seed=4)(x, 5, "main"), a)
    assert not torch.equal(Augmenter(aug.cfg, seed=3, rank=1)(x, 5, "main"), a)


# -- training -------------------------------------------------------------------------------------
def test_off_trains_bit_identically(tmp_path, dirs):
    train, _ = dirs
    over = ["train.steps=6"]
    plain = _trainer(tmp_path, train, over, "plain")
    assert plain.augmenter is None
    plain.train()
    explicit = TINY_CONFIG + ("augment: {freq_mask_num: 0, freq_mask_width: 3, "
                              "time_mask_num: 0, vtlp_prob: 0.0}\n")
    off = _trainer(tmp_path, train, over, "off", text=explicit)
    assert off.augmenter is None
    off.train()
    on = _trainer(tmp_path, train, over + ["augment.freq_mask_num=2",
                                           "augment.freq_mask_width=3"], "on")
    on.train()
    a, b, c = (_final(tmp_path / e) for e in ("plain", "off", "on"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_resume_with_augmentation_is_exact(tmp_path, dirs):
    train, _ = dirs
    over = ["train.steps=10", "train.ckpt_every=5", "augment.freq_mask_num=2",
            "augment.freq_mask_width=3", "augment.time_mask_num=1",
            "augment.time_mask_width=10", "augment.vtlp_prob=0.5"]
    _trainer(tmp_path, train, over, "full").train()
    part = _trainer(tmp_path, train, over, "part")
    part.total_steps = 5                              # "killed" after 5 steps
    part.train()
    resumed = _trainer(tmp_path, train, over, "part")
    resumed.load_checkpoint(ckpt_io.latest_checkpoint(tmp_path / "part"))
    assert resumed.step == 5
    resumed.train()
    a, b = _final(tmp_path / "full"), _final(tmp_path / "part")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_validation_is_not_augmented(tmp_path, dirs, monkeypatch):
    train, dev = dirs
    over = [f"data.valid_dir={dev}", "train.steps=2"]
    plain = _trainer(tmp_path, train, over, "p")
    on = _trainer(tmp_path, train, over + ["augment.freq_mask_num=3",
                                           "augment.freq_mask_width=4",
                                           "augment.vtlp_prob=1.0"], "a")
    calls = []
    monkeypatch.setattr(Augmenter, "__call__",
                        lambda self, x, step, name: calls.append(name) or x * 0)
    assert on.validator.evaluate(on.model) == plain.validator.evaluate(plain.model)
    assert calls == []
    on.next_batch("main")                             # training batches do go through it
    assert calls == ["main"]


def test_training_batches_on_the_trainer_are_augmented(tmp_path, dirs):
    train, _ = dirs
    t = _trainer(tmp_path, train, ["augment.time_mask_num=1", "augment.time_mask_width=30"],
                 "t")
    x, y = t.next_batch("main")
    assert all((x[b] == 0).all(dim=1).any() for b in range(len(x)))
    assert len(y) == len(x)


# -- config errors -------------------------------------------------------------------------
@pytest.mark.parametrize("override,message", [
    ("augment.freq_mask_num=-1", "augment.freq_mask_num must be >= 0"),
    ("augment.time_mask_width=true", "augment.time_mask_width must be an integer"),
    ("augment.vtlp_prob=1.5", r"augment.vtlp_prob must be in \[0, 1\]"),
    ("augment.vtlp_prob=often", "augment.vtlp_prob must be a number"),
    ("augment.vtlp_alpha=[1.2,0.9]", "augment.vtlp_alpha must be"),
    ("augment.vtlp_alpha=[0.9]", "augment.vtlp_alpha must be"),
    ("augment.vtlp_alpha=0.9", "augment.vtlp_alpha must be a list"),
    ("augment.freq_mask=2", "unknown key 'augment.freq_mask'"),
    ("augment.time_mask_num=2", "augment.time_mask_width >= 1"),
])
def test_config_errors(tmp_path, override, message):
    conf = write_tiny_config(tmp_path / "c.yaml")
    with pytest.raises(ConfigError, match=message) as err:
        load_config(conf, [override])
    assert str(conf) in str(err.value) or "--override" in str(err.value)


def test_errors_that_need_the_data(tmp_path, dirs):
    train, _ = dirs
    with pytest.raises(ConfigError, match="freq_mask_width=9 is more than the feature "
                                          "dimension 8"):
        _trainer(tmp_path, train, ["augment.freq_mask_num=1", "augment.freq_mask_width=9"],
                 "e")
    with pytest.raises(ConfigError, match="time_mask_width=31 is more than data.min_chunk"):
        _trainer(tmp_path, train, ["augment.time_mask_num=1", "augment.time_mask_width=31"],
                 "e")
    mfcc = {"feature_config": {"type": "mfcc"}, "vad_config": None, "cmn_window": 50}
    with pytest.raises(ConfigError, match="augment.vtlp_prob=0.3: VTLP .* mfcc") as err:
        _trainer(tmp_path, train, ["augment.vtlp_prob=0.3"], "e", features=mfcc)
    assert str(tmp_path / "c.yaml") in str(err.value)
    # frequency masks on cepstra are allowed (documented), VTLP on fbank too
    assert _trainer(tmp_path, train, ["augment.freq_mask_num=1", "augment.freq_mask_width=2"],
                    "e", features=mfcc).augmenter is not None
    fbank = {**mfcc, "feature_config": {"type": "fbank"}}
    assert _trainer(tmp_path, train, ["augment.vtlp_prob=0.3"], "e",
                    features=fbank).augmenter is not None


def test_saved_config_has_the_section(tmp_path, dirs):
    train, _ = dirs
    t = _trainer(tmp_path, train, ["train.steps=1", "augment.vtlp_prob=0.2"], "s")
    t.train()
    assert t.cfg["augment"]["vtlp_prob"] == 0.2
    assert "vtlp_prob: 0.2" in (tmp_path / "s" / "config.yaml").read_text()
    rows = (tmp_path / "s" / "train_log.jsonl").read_text().splitlines()
    assert [json.loads(r)["step"] for r in rows] == [1]


def test_cli_refuses_vtlp_on_mfcc_features(tmp_path, dirs, capsys):
    from lidtool.cli import main as cli
    train, _ = dirs
    conf = write_tiny_config(tmp_path / "c.yaml")
    (tmp_path / "mfcc.conf").write_text("--type=mfcc\n--num-ceps=8\n--num-mel-bins=23\n")
    rc = cli(["train", "--config", str(conf), "--feat-config", str(tmp_path / "mfcc.conf"),
              "--override", "augment.vtlp_prob=0.5", "--override", "train.steps=1",
              str(train), str(tmp_path / "exp")])
    err = capsys.readouterr().err
    assert rc == 1 and "augment.vtlp_prob=0.5" in err and str(conf) in err
    assert not (tmp_path / "exp" / "final.pt").exists()
