"""Speaker mode of the synthetic corpus: the plan, config errors, the spectral speaker
transform, and a tiny corpus end to end (disjoint speakers, two test channels, trials)."""
from __future__ import annotations

import gzip
import json
from collections import Counter

import numpy as np
import pytest
import soundfile as sf
import yaml

from lidtool.corpora.synth import generate
from lidtool.corpora.synth.sets import load_config, plan_set
from lidtool.corpora.synth.spectral_transform import (apply_spectral, draw_spectral,
                                                      spectral_knobs)
from lidtool.data.tables import read_table
from lidtool.errors import ConfigError

SV = {
    "seed": 5, "shard_size": 4, "vocab_size": 120, "babble_clips": 2,
    "sets": {
        "train_sv": {"langs": ["en-us", "es"], "speakers": 4, "utts_per_speaker": 2,
                     "role": "train", "speech_s": [0.8, 1.2]},
        "test_sv": {"langs": ["en-us", "es"], "speakers": 4, "utts_per_speaker": 3,
                    "role": "test", "speech_s": 1.0, "trials": {"count": 16}},
        "test_sv_channel": {"langs": ["en-us", "es"], "speakers": 4, "utts_per_speaker": 3,
                            "role": "test", "speech_s": 1.0, "channel": "heldout",
                            "trials": {"count": 16, "same_lang_nontarget": False}},
    },
}


def config(tmp_path, sets=None, **top):
    cfg = json.loads(json.dumps(SV))
    if sets:
        cfg["sets"] = sets
    cfg.update(top)
    path = tmp_path / "corpus.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return load_config(path)


def test_plan_spreads_speakers_over_languages(tmp_path):
    cfg = config(tmp_path)
    specs = plan_set(cfg, "train_sv")
    assert len(specs) == 8
    spk = Counter((s.lang, s.speaker_index) for s in specs)
    assert spk == {("en-us", 0): 2, ("es", 0): 2, ("en-us", 1): 2, ("es", 1): 2}
    assert [s.index for s in specs] == list(range(8))
    # both test conditions plan the same speakers
    key = [(s.lang, s.speaker_index) for s in plan_set(cfg, "test_sv")]
    assert key == [(s.lang, s.speaker_index) for s in plan_set(cfg, "test_sv_channel")]


@pytest.mark.parametrize("change, message", [
    ({"utts_per_speaker": None}, "needs utts_per_speaker"),
    ({"utts_per_lang": 3}, "does not take"),
    ({"speaker_transform": "vocoder"}, "speaker_transform must be"),
    ({"trials": {"count": 10, "bogus": 1}}, "trials must be a mapping"),
    ({"role": "train", "trials": {"count": 10}}, "trials need role: test"),
])
def test_bad_speaker_sets(tmp_path, change, message):
    s = dict(SV["sets"]["test_sv"])
    s.update(change)
    s = {k: v for k, v in s.items() if v is not None}
    with pytest.raises(ConfigError, match=message) as err:
        config(tmp_path, sets={"x": s})
    assert "corpus.yaml" in str(err.value)


def harmonic_vowel(formants, f0=120.0, sr=16000, secs=0.6):
    """A pulse train through two resonances: a vowel-like test signal."""
    from scipy import signal
    n = int(sr * secs)
    x = np.zeros(n)
    x[::int(sr / f0)] = 1.0
    for f in formants:
        b, a = signal.iirpeak(f, 8.0, fs=sr)
        x = signal.lfilter(b, a, x)
    return x / np.abs(x).max()


def centroid(x, sr=16000):
    spec = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(len(x), 1 / sr)
    return float((spec * f).sum() / spec.sum())


def test_spectral_transform_moves_formants_and_tilts():
    x = harmonic_vowel([700.0, 1800.0])
    base = {"kind": "spectral", "vtl_factor": 1.0, "tilt_db_per_octave": 0.0,
            "breathiness": 0.0, "eq_gain_db": [], "noise_seed": 1}
    same = apply_spectral(x, 16000, base)
    assert len(same) == len(x) and np.corrcoef(same, x)[0, 1] > 0.99
    up = apply_spectral(x, 16000, {**base, "vtl_factor": 1.15})
    down = apply_spectral(x, 16000, {**base, "vtl_factor": 0.87})
    assert centroid(down) < centroid(x) < centroid(up)
    bright = apply_spectral(x, 16000, {**base, "tilt_db_per_octave": 3.0})
    assert centroid(bright) > centroid(x) * 1.05
    breathy = {**base, "breathiness": 0.3}
    assert np.array_equal(apply_spectral(x, 16000, breathy), apply_spectral(x, 16000, breathy))
    assert not np.allclose(apply_spectral(x, 16000, breathy), same)


def test_spectral_draws_and_knob_errors():
    knobs = spectral_knobs({"spectral_transform": {"vtl_factor": [0.9, 0.95]}})
    t = draw_spectral(knobs, np.random.default_rng(0))
    assert t["kind"] == "spectral" and 0.9 <= t["vtl_factor"] <= 0.95
    assert t == draw_spectral(knobs, np.random.default_rng(0))
    with pytest.raises(ConfigError, match="spectral_transform: unknown knobs") as err:
        spectral_knobs({"spectral_transform": {"formant": [1, 2]}}, "conf/c.yaml")
    assert err.value.path == "conf/c.yaml"
    with pytest.raises(ConfigError, match=r"conf/c.yaml: spectral_transform: tilt_db_per_"):
        spectral_knobs({"spectral_transform": {"tilt_db_per_octave": 3}}, "conf/c.yaml")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("sv")
    cfg = config(root)
    generate.make_corpus(cfg, root / "corpus", root / "data", nj=1)
    return cfg, root / "data"


def sups(data, name):
    with gzip.open(data / "manifests" / f"synth_supervisions_{name}.jsonl.gz", "rt") as f:
        return [json.loads(line) for line in f]


def test_speakers_disjoint_and_shared_by_test_conditions(corpus):
    cfg, data = corpus
    spk = {n: set(read_table(data / n / "utt2spk").values()) for n in cfg["sets"]}
    assert len(spk["train_sv"]) == 4 and len(spk["test_sv"]) == 4
    assert not spk["train_sv"] & spk["test_sv"]
    assert spk["test_sv"] == spk["test_sv_channel"]
    per = Counter(read_table(data / "test_sv" / "utt2spk").values())
    assert set(per.values()) == {3}
    # a speaker's voice (espeak settings + spectral transform) is the same in every utterance
    voices = {}
    for name in cfg["sets"]:
        for sup in sups(data, name):
            voices.setdefault(sup["speaker"], set()).add(json.dumps(sup["custom"]["voice"]))
    assert all(len(v) == 1 for v in voices.values())
    assert all(json.loads(next(iter(v)))["transform"]["kind"] == "spectral"
               for v in voices.values())
    channels = {sup["custom"]["channel"].get("family") for sup in sups(data, "test_sv_channel")}
    assert channels == {"heldout"}


def test_trial_lists_of_both_conditions(corpus):
    cfg, data = corpus
    for name in ("test_sv", "test_sv_channel"):
        u2s = read_table(data / name / "utt2spk")
        trials = [line.split() for line in (data / name / "trials").read_text().splitlines()]
        assert len(trials) == 16
        assert sum(t[2] == "target" for t in trials) == 8
        assert all((t[2] == "target") == (u2s[t[0]] == u2s[t[1]]) for t in trials)
        assert set((data / name / "enroll.list").read_text().split()) == {t[0] for t in trials}
    u2l = read_table(data / "test_sv" / "utt2lang")
    assert all(u2l[a] == u2l[b] for a, b, k in
               (line.split() for line in (data / "test_sv" / "trials").read_text().splitlines())
               if k == "nontarget")


def test_same_seed_same_audio(corpus, tmp_path):
    cfg, data = corpus
    again = config(tmp_path)
    generate.make_corpus(again, tmp_path / "corpus", tmp_path / "data", sets=["test_sv"], nj=2)
    wav_a, wav_b = (read_table(d / "test_sv" / "wav.scp") for d in (data, tmp_path / "data"))
    assert wav_a.keys() == wav_b.keys()
    for utt in wav_a:
        assert np.array_equal(sf.read(wav_a[utt])[0], sf.read(wav_b[utt])[0]), utt
    assert (data / "test_sv" / "trials").read_text() == \
        (tmp_path / "data" / "test_sv" / "trials").read_text()


@pytest.mark.parametrize("name, n_train", [("corpus.yaml", 1000), ("corpus_mini.yaml", 24)])
def test_synth_sv_corpus_configs(name, n_train):
    from pathlib import Path
    conf = Path(__file__).resolve().parents[1] / "egs" / "synth_sv" / "conf" / name
    cfg = load_config(conf)
    train = plan_set(cfg, "train_sv")
    assert len({(s.lang, s.speaker_index) for s in train}) == n_train
    tests = {c: plan_set(cfg, c) for c in ("test_sv", "test_sv_channel")}
    assert [(s.lang, s.speaker_index) for s in tests["test_sv"]] == \
        [(s.lang, s.speaker_index) for s in tests["test_sv_channel"]]
    assert {s.channel for s in tests["test_sv_channel"]} == {"heldout"}
    for c, specs in tests.items():
        s = cfg["sets"][c]
        k = s["utts_per_speaker"]
        pairs = s["speakers"] * k * (k - 1) // 2
        assert s["trials"]["count"] * s["trials"]["target_fraction"] <= pairs


def test_changed_trial_options_rewrite_the_list_without_rerendering(corpus, tmp_path):
    cfg, _ = corpus
    cfg = config(tmp_path)
    generate.make_corpus(cfg, tmp_path / "corpus", tmp_path / "data", sets=["test_sv"], nj=1)
    trials = tmp_path / "data" / "test_sv" / "trials"
    first = trials.read_text()
    shards = {p: p.stat().st_mtime_ns for p in (tmp_path / "corpus").rglob("*")
              if p.suffix in (".flac", ".wav")}
    assert shards
    cfg["sets"]["test_sv"]["trials"] = {**cfg["sets"]["test_sv"]["trials"], "seed": 7}
    generate.make_corpus(cfg, tmp_path / "corpus", tmp_path / "data", sets=["test_sv"], nj=1)
    assert trials.read_text() != first
    assert {p: p.stat().st_mtime_ns for p in shards} == shards
@pytest.mark.parametrize("name, n_langs", [("corpus_lid.yaml", 8), ("corpus_lid_mini.yaml", 6)])
def test_synth_sv_lid_corpus_configs(name, n_langs):
    """run.sh --lid true: every language renderable; the test set a proper subset of the
    training languages, with test-role (unseen) speakers, evenly spread."""
    from pathlib import Path
    cfg = load_config(Path(__file__).resolve().parents[1] / "egs" / "synth_sv" / "conf" / name)
    generate._check_voices(cfg)                        # unknown languages / voices fail here
    train, test = plan_set(cfg, "train_lid"), plan_set(cfg, "test_lid")
    train_langs = Counter(s.lang for s in train)
    test_langs = Counter(s.lang for s in test)
    assert len(train_langs) == n_langs and len(set(train_langs.values())) == 1
    assert set(test_langs) < set(train_langs) and len(test_langs) == 3
    assert len(set(test_langs.values())) == 1
    assert {cfg["sets"]["train_lid"]["role"], cfg["sets"]["test_lid"]["role"]} == \
        {"train", "test"}
