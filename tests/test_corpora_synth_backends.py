"""Several synthesizers and per-speaker voice transforms in the built-in corpus: each backend
renders 16 kHz audio with the voice its manifest names, transforms are fixed per speaker and
deterministic, held-out-synthesizer sets share no voice with training, and configs without
the new keys give the audio of the code before them."""
from __future__ import annotations

import gzip
import hashlib
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

from lidtool.corpora.synth import generate
from lidtool.corpora.synth.backends import MissingSynthesizer, get_synthesizer
from lidtool.corpora.synth.backends.external import Festival
from lidtool.corpora.synth.isolate import run_isolated
from lidtool.corpora.synth.sets import load_config
from lidtool.corpora.synth.unaligned import to_16k
from lidtool.corpora.synth.voice_transform import (DEFAULT_TRANSFORM, apply_transform,
                                                   draw_transform)
from lidtool.corpora.synth.voices import candidates, check_heldout_synth, make_synth_speaker
from lidtool.errors import ConfigError, DataDirError

REFERENCE = Path(__file__).resolve().parent / "data" / "corpus_tiny_espeak_reference.json"
SENTENCES = {"en-us": "the house is very old", "it": "la casa è molto vecchia",
             "cs": "dům je velmi starý"}

MULTI = {
    "seed": 3, "shard_size": 4, "vocab_size": 120, "babble_clips": 2,
    "sets": {
        "train": {"langs": ["en-us", "it", "cs"], "utts_per_lang": 4, "speakers_per_lang": 2,
                  "role": "train", "speech_s": [1.0, 1.5], "voice_transform": True,
                  "synthesizers": ["espeak", "festival"],
                  "voices": {"en-us": ["espeak:*", "festival:kal_diphone"],
                             "it": ["espeak:*", "festival:lp_diphone"],
                             "cs": ["espeak:*", "festival:czech_dita"]}},
        "test_synth": {"langs": ["en-us", "it", "cs"], "utts_per_lang": 2,
                       "speakers_per_lang": 2, "role": "test", "speech_s": 1.0,
                       "synthesizers": ["espeak", "festival", "flite"],
                       "heldout_synth_of": ["train"], "voice_transform": True},
    },
}


def write_config(tmp: Path, cfg: dict) -> Path:
    path = tmp / "corpus.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return path


def needs(*programs):
    import shutil
    missing = [p for p in programs if shutil.which(p) is None]
    return pytest.mark.skipif(bool(missing), reason=f"not installed: {missing} (apt-get "
                              "install festival festvox-kallpc16k flite; tools/install.sh)")


def supervisions(data: Path, name: str) -> list[dict]:
    with gzip.open(data / "manifests" / f"synth_supervisions_{name}.jsonl.gz", "rt") as f:
        return [json.loads(line) for line in f]


def assert_same_audio(corpus_a: Path, corpus_b: Path, name: str) -> None:
    """The same audio files, byte for byte, in set `name` of two corpus dirs."""
    a = sorted((corpus_a / "audio" / name).iterdir())
    b = sorted((corpus_b / "audio" / name).iterdir())
    assert [p.name for p in a] == [p.name for p in b] and a
    for pa, pb in zip(a, b):
        assert pa.read_bytes() == pb.read_bytes(), pa.name


@pytest.fixture(scope="module")
def multi(tmp_path_factory):
    root = tmp_path_factory.mktemp("multi")
    cfg = load_config(write_config(root, MULTI))
    generate.make_corpus(cfg, root / "corpus", root / "data", nj=1)
    return cfg, root


def _render(synth, text, voice, params):
    out = get_synthesizer(synth).render(text, voice, params)
    return to_16k(out.samples, out.sample_rate)


@pytest.mark.parametrize("synth,lang", [("espeak", "en-us"), ("festival", "en-us"),
                                        ("festival", "it"), ("festival", "cs"),
                                        ("flite", "en-us"), ("mbrola", "en-us")])
def test_backend_renders_16k_with_each_voice(synth, lang):
    backend = get_synthesizer(synth)
    voices = [v for v in backend.voices(lang) if backend.missing(v) is None]
    if not voices:
        pytest.skip(f"{synth} has no installed voice for {lang}: "
                    f"{backend.missing(backend.voices(lang)[0])}")
    outs = [run_isolated(_render, synth, SENTENCES[lang], v, {}) for v in voices[:2]]
    for v, x in zip(voices, outs):
        assert x.ndim == 1 and 0.5 < len(x) / 16000 < 10, (v, len(x))
        assert np.sqrt(np.mean(x ** 2)) > 1e-3, v
    if len(outs) == 2:              # the voice argument really selects another voice
        n = min(len(o) for o in outs)
        assert not np.allclose(outs[0][:n], outs[1][:n])


@needs("text2wave", "flite")
def test_manifest_names_the_synthesizer_and_voice_of_16k_audio(multi):
    cfg, root = multi
    seen = set()
    for name in cfg["sets"]:
        wav = dict(line.split(maxsplit=1) for line in
                   (root / "data" / name / "wav.scp").read_text().splitlines())
        for sup in supervisions(root / "data", name):
            c = sup["custom"]
            assert c["synth_voice"] in get_synthesizer(c["synthesizer"]).voices(sup["language"])
            assert c["voice"]["synth"] == c["synthesizer"]
            assert sf.info(wav[sup["id"]]).samplerate == 16000
            seen.add(c["synthesizer"])
            if c["synthesizer"] == "espeak":
                assert sup["alignment"]["phone"]      # espeak keeps its phone alignment
    assert seen == {"espeak", "festival", "flite"}


def test_transform_is_deterministic_and_changes_the_voice():
    knobs = dict(DEFAULT_TRANSFORM, band_prob=0.0)
    a = draw_transform(knobs, np.random.default_rng([1, 2]))
    assert a == draw_transform(knobs, np.random.default_rng([1, 2]))
    assert a != draw_transform(knobs, np.random.default_rng([1, 3]))
    x = run_isolated(_render, "espeak", SENTENCES["en-us"], "en-us", {})
    y1, y2 = apply_transform(x, 16000, a), apply_transform(x, 16000, a)
    assert np.array_equal(y1, y2) and len(y1) == len(x)
    # a longer vocal tract (factor < 1) moves energy down, a shorter one up
    flat = {"f0_shift_semitones": 0.0, "f0_range_scale": 1.0, "aperiodicity_shift": 0.0,
            "eq_gain_db": []}

    def centroid(z):
        p = np.abs(np.fft.rfft(z)) ** 2
        return float(np.sum(p * np.fft.rfftfreq(len(z), 1 / 16000)) / np.sum(p))
    low = centroid(apply_transform(x, 16000, dict(flat, vtl_factor=0.85)))
    high = centroid(apply_transform(x, 16000, dict(flat, vtl_factor=1.15)))
    assert low < centroid(apply_transform(x, 16000, dict(flat, vtl_factor=1.0))) < high

    def median_f0(z):
        import pyworld
        f0, _ = pyworld.dio(np.ascontiguousarray(z, dtype=np.float64), 16000)
        return float(np.median(f0[f0 > 0]))
    up = apply_transform(x, 16000, dict(flat, vtl_factor=1.0, f0_shift_semitones=4.0))
    assert 1.15 < median_f0(up) / median_f0(x) < 1.4       # 2 ** (4 / 12) = 1.26


@needs("text2wave", "flite")
def test_speaker_keeps_one_voice_and_transform_across_utterances(multi):
    cfg, root = multi
    by_spk = defaultdict(list)
    for name in cfg["sets"]:
        for sup in supervisions(root / "data", name):
            by_spk[sup["speaker"]].append(sup["custom"]["voice"])
    assert any(len(v) > 1 for v in by_spk.values())
    for spk, voices in by_spk.items():
        assert all(v == voices[0] for v in voices), spk
        assert voices[0]["transform"] is not None
    # drawing a speaker again gives the same one; another index another one
    pairs = candidates(cfg, "train", "en-us")
    a = make_synth_speaker(cfg, "train", "en-us", "train", 0, pairs, ["f1", "m1"])
    assert a == make_synth_speaker(cfg, "train", "en-us", "train", 0, pairs, ["f1", "m1"])
    assert a.id != make_synth_speaker(cfg, "train", "en-us", "train", 1, pairs, ["f1", "m1"]).id


@needs("text2wave", "flite")
def test_heldout_synth_set_shares_no_voice_with_training(multi, tmp_path):
    cfg, root = multi
    used = {(s["language"], s["custom"]["synthesizer"], s["custom"]["synth_voice"])
            for s in supervisions(root / "data", "train")}
    held = {(s["language"], s["custom"]["synthesizer"], s["custom"]["synth_voice"])
            for s in supervisions(root / "data", "test_synth")}
    assert held and not (held & used)
    assert {lang for lang, _, _ in held} == {"en-us", "it", "cs"}
    # the generator's own check fails on a manifest that shares a voice
    man = tmp_path / "manifests"
    man.mkdir()
    for name in ("train", "test_synth"):
        src = root / "data" / "manifests" / f"synth_supervisions_{name}.jsonl.gz"
        (man / src.name).write_bytes(src.read_bytes())
    check_heldout_synth(cfg, man, "test_synth")
    leak = supervisions(root / "data", "train")[:1]
    leak[0]["custom"]["voice"] = dict(leak[0]["custom"]["voice"])
    with gzip.open(man / "synth_supervisions_test_synth.jsonl.gz", "at") as f:
        f.write(json.dumps(leak[0]) + "\n")
    with pytest.raises(DataDirError, match="shares"):
        check_heldout_synth(cfg, man, "test_synth")


def test_config_errors_name_the_problem(tmp_path, monkeypatch):
    bad = json.loads(json.dumps(MULTI))
    bad["sets"]["asr"] = {"langs": ["en-us"], "utts_per_lang": 1, "role": "asr",
                          "mode": "sentence", "words": [2, 3],
                          "synthesizers": ["espeak", "festival"]}
    with pytest.raises(ConfigError, match="needs phone alignments"):
        load_config(write_config(tmp_path, bad))
    bad = json.loads(json.dumps(MULTI))
    bad["voice_transform"] = {"vtl": [0.9, 1.1]}
    path = write_config(tmp_path, bad)
    with pytest.raises(ConfigError, match="voice_transform: unknown knobs") as err:
        load_config(path)
    assert err.value.path == str(path)
    bad = json.loads(json.dumps(MULTI))
    bad["sets"]["train"]["synthesizers"] = ["espeak", "say"]
    with pytest.raises(ConfigError, match="unknown synthesizer 'say'"):
        load_config(write_config(tmp_path, bad))
    cfg = load_config(write_config(tmp_path, MULTI))
    monkeypatch.setattr(Festival, "missing", lambda self, voice: "festvox-fake")
    with pytest.raises(MissingSynthesizer, match="festvox-fake"):
        candidates(cfg, "train", "it")
    cfg["sets"]["train"]["skip_missing"] = True          # explicit: leave festival out
    assert candidates(cfg, "train", "it") == [("espeak", "it")]
    cfg["sets"]["test_synth"]["heldout_synth_of"] = ["train"]
    cfg["sets"]["test_synth"]["synthesizers"] = ["espeak"]
    with pytest.raises(ConfigError, match="no synthesizer voice left"):
        candidates(cfg, "test_synth", "it")


TINY_OLD = {
    "seed": 7, "shard_size": 4, "vocab_size": 100, "babble_clips": 2,
    "sets": {"train_lt": {"langs": ["cmn", "vi"], "proportions": [4.0, 1.0], "min_utts": 1,
                          "speakers_per_lang": 2, "role": "train", "speech_s": [0.8, 1.5]},
             "asr_cmn": {"langs": ["cmn"], "utts_per_lang": 2, "speakers_per_lang": 2,
                         "role": "asr", "mode": "sentence", "words": [2, 4]}},
}


def test_existing_config_gives_the_audio_of_the_code_before_backends(tmp_path):
    """TINY_OLD generated by the code before several synthesizers existed (commit 6ebf39b):
    the sha256 of every audio file and the supervisions, in tests/data. The same config must
    give the same bytes, and the manifests differ only by the two added fields."""
    ref = json.loads(REFERENCE.read_text(encoding="utf-8"))
    cfg = load_config(write_config(tmp_path, TINY_OLD))
    generate.make_corpus(cfg, tmp_path / "new_c", tmp_path / "new_d")
    for name in TINY_OLD["sets"]:
        files = sorted((tmp_path / "new_c" / "audio" / name).iterdir())
        assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files} == \
            ref["audio"][name], name
        new = supervisions(tmp_path / "new_d", name)
        for sup in new:                 # the only manifest change: two added fields
            assert sup["custom"].pop("synthesizer") == "espeak"
            sup["custom"].pop("synth_voice")
        assert new == ref["supervisions"][name]


def test_shards_of_a_changed_multisynth_set_are_made_again(tmp_path):
    cfg = load_config(write_config(tmp_path, MULTI))
    specs = generate.plan_set(cfg, "train")[:2]
    before = generate.shard_fingerprint(cfg, specs)
    cfg["sets"]["train"]["voices"]["it"] = ["espeak:*"]
    assert generate.shard_fingerprint(cfg, specs) != before
    # an espeak-only set keeps the fingerprint of the code before backends existed
    old = load_config(write_config(tmp_path, TINY_OLD))
    specs = generate.plan_set(old, "train_lt")[:2]
    assert generate.shard_fingerprint(old, specs) == generate._digest(
        [{k: v for k, v in old.items() if k != "sets"}, [vars(s) for s in specs]])


@needs("text2wave", "flite")
def test_same_seed_same_multisynth_audio_with_more_jobs(multi, tmp_path):
    cfg, root = multi
    again = load_config(write_config(tmp_path, MULTI))
    generate.make_corpus(again, tmp_path / "corpus", tmp_path / "data", nj=2)
    for name in MULTI["sets"]:
        assert_same_audio(root / "corpus", tmp_path / "corpus", name)


@needs("flite")
def test_only_the_sets_being_made_need_their_voices(tmp_path, monkeypatch):
    """A set whose voice is not installed fails only when it is made (make-corpus --sets)."""
    both = json.loads(json.dumps(MULTI))
    both["sets"]["flite_only"] = {"langs": ["en-us"], "utts_per_lang": 1, "role": "test",
                                  "speakers_per_lang": 1, "speech_s": 1.0,
                                  "synthesizers": ["flite"]}
    cfg = load_config(write_config(tmp_path, both))
    monkeypatch.setattr(Festival, "missing", lambda self, voice: "festvox-fake")
    with pytest.raises(MissingSynthesizer, match="festvox-fake"):
        generate._check_voices(cfg)
    with pytest.raises(MissingSynthesizer, match="festvox-fake"):
        generate._check_voices(cfg, ["train"])
    generate._check_voices(cfg, ["flite_only"])      # no festival voice needed
