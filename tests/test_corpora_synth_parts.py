"""Pieces of the synthetic corpus: espeak wrapper checks, text, speakers, channels, stats."""
from __future__ import annotations

import numpy as np
import pytest

from lidtool.corpora.synth import channel
from lidtool.corpora.synth.espeak import EspeakError, Synthesis, check_synthesis
from lidtool.corpora.synth.isolate import run_isolated
from lidtool.corpora.synth.speakers import DEFAULT_VARIANTS, make_speaker, split_variants
from lidtool.corpora.synth.stats import corpus_stats
from lidtool.corpora.synth.text import build_vocabulary, language_spec, _hakka_syllable
from lidtool.errors import ConfigError, DataDirError
from tests.conftest import write_lines


def _speak(text, voice):
    from lidtool.corpora.synth.espeak import Espeak
    e = Espeak.get()
    return e.synthesize(text, voice, {"rate": 170}), e.switches_language(text, voice.split("+")[0])


def test_synthesis_has_audio_and_ordered_phone_events():
    syn, switch = run_isolated(_speak, "ni3hao3 shi4jie4", "cmn-latn-pinyin+m3")
    assert switch is None and syn.sample_rate == 22050 and len(syn.samples) > 22050 // 2
    names = [n for _, n in syn.phones]
    assert "n" in names and "X" in names
    starts = [s for s, _ in syn.phones]
    assert starts == sorted(starts) and starts[-1] <= len(syn.samples)


def test_same_text_same_samples_in_fresh_children():
    a, _ = run_isolated(_speak, "the quick brown fox", "en-us+klatt2")
    b, _ = run_isolated(_speak, "the quick brown fox", "en-us+klatt2")
    assert np.array_equal(a.samples, b.samples)


def test_language_switch_is_detected():
    _, switch = run_isolated(_speak, "привет world", "ru")
    assert switch == "en"


@pytest.mark.parametrize("syn, message", [
    (Synthesis(np.zeros(0, np.int16), 22050, [(0, "a")], []), "no audio"),
    (Synthesis(np.zeros(100, np.int16), 22050, [(0, "a")], []), "all-zero"),
    (Synthesis(np.ones(100, np.int16), 22050, [], []), "no phoneme events"),
    (Synthesis(np.ones(100, np.int16), 22050, [(0, "a"), (500, "b")], []), "beyond"),
    (Synthesis(np.ones(100, np.int16), 22050, [(50, "a"), (10, "b")], []), "out of order"),
])
def test_corrupt_synthesis_is_rejected(syn, message):
    with pytest.raises(EspeakError) as err:
        check_synthesis(syn, "espeak-ng voice 'xx'", "some text")
    assert message in str(err.value) and "espeak-ng voice 'xx'" in str(err.value)


def test_unknown_voice_is_a_config_error():
    with pytest.raises(ConfigError) as err:
        run_isolated(_speak, "hello", "xx-nonexistent")
    assert "unknown voice 'xx-nonexistent'" in str(err.value)


def test_vocabularies_romanise_and_avoid_switches():
    cmn = run_isolated(build_vocabulary, language_spec("cmn"), 80)
    assert all(w[-1].isdigit() for w, _ in cmn) and cmn[0][1] >= cmn[-1][1]
    ja = run_isolated(build_vocabulary, language_spec("ja"), 60)
    assert all("\u3041" <= c <= "\u309f" or c == "\u30fc" for w, _ in ja for c in w)
    hak = run_isolated(build_vocabulary, language_spec("hak"), 60)
    assert len(hak) == 60 and _hakka_syllable("中") == _hakka_syllable("中")
    with pytest.raises(ConfigError):
        language_spec("xx")


def test_speakers_fixed_by_seed_and_variants_split():
    train, held = split_variants(DEFAULT_VARIANTS, 0.25, seed=1)
    assert not set(train) & set(held) and len(held) == round(0.25 * len(DEFAULT_VARIANTS))
    a = make_speaker("vi", "vi", "test", 3, 1, {}, held)
    assert a == make_speaker("vi", "vi", "test", 3, 1, {}, held)
    assert a.id == "vi-te0003" and a.variant in held and 130 <= a.rate <= 230
    assert make_speaker("vi", "vi", "train", 3, 1, {}, train).id == "vi-tr0003"


def test_channel_snr_and_determinism():
    x = np.sin(2 * np.pi * 200 * np.arange(16000) / 16000) * 0.5
    cfg = {"t": {"noise_types": ["white"], "snr_db": [10.0, 10.0], "peak_dbfs": [-6, -6]}}
    y, info = channel.apply_channel(x, np.random.default_rng(1), "t", cfg)
    y2, _ = channel.apply_channel(x, np.random.default_rng(1), "t", cfg)
    assert np.array_equal(y, y2) and info["snr_db"] == 10.0
    assert np.abs(y).max() == pytest.approx(10 ** (-6 / 20), rel=1e-4)
    scale = np.dot(y, x) / np.dot(x, x)
    snr = 10 * np.log10(np.sum((scale * x) ** 2) / np.sum((y - scale * x) ** 2))
    assert snr == pytest.approx(10.0, abs=0.5)


def test_heldout_channel_is_narrowband():
    x = np.random.default_rng(2).standard_normal(32000) * 0.1
    y, info = channel.apply_channel(x, np.random.default_rng(3), "heldout",
                                    channel.DEFAULT_CHANNELS)
    spec = np.abs(np.fft.rfft(y)) ** 2
    f = np.fft.rfftfreq(len(y), 1 / 16000)
    assert spec[f > 4500].sum() < 0.01 * spec.sum()
    assert info["family"] == "heldout" and np.abs(y).max() < 1.0
    with pytest.raises(ConfigError):
        channel.apply_channel(x, np.random.default_rng(3), "nope", channel.DEFAULT_CHANNELS)


def test_corpus_stats_table_and_histogram(tmp_path):
    for name, rows in {"a": [("u1", "en", 2.0), ("u2", "en", 4.0), ("u3", "vi", 3600.0)],
                       "b": [("v1", "vi", 1.5)]}.items():
        d = tmp_path / name
        d.mkdir()
        write_lines(d / "utt2lang", [f"{u} {l}" for u, l, _ in rows])
        write_lines(d / "utt2dur", [f"{u} {x}" for u, _, x in rows])
    md, png = corpus_stats([tmp_path / "a", tmp_path / "b"], tmp_path / "out")
    text = md.read_text()
    assert "| a | en | 2 | 0.002 | 3.00 |" in text and "| a | vi | 1 | 1.000 |" in text
    assert "| **a** | **all** | **3** |" in text and png.stat().st_size > 1000
    write_lines(tmp_path / "b" / "utt2dur", ["v0 1.0"])
    with pytest.raises(DataDirError) as err:
        corpus_stats([tmp_path / "b"], tmp_path / "out2")
    assert "utt2lang:1" in str(err.value) and not (tmp_path / "out2" / "stats.md").exists()


def test_isolated_synthesis_ignores_parent_c_rand_state():
    """espeak-ng's breathy variants draw noise from libc rand(); a parent that used rand()
    must not change what an isolated child synthesises."""
    import ctypes
    import ctypes.util

    import numpy as np

    from lidtool.corpora.synth.isolate import run_isolated

    def speak():
        from lidtool.corpora.synth.espeak import Espeak
        return Espeak.get().synthesize("hello there my friend", "en-us+whisper",
                                       {"rate": 170, "pitch": 50, "range": 50, "wordgap": 0,
                                        "volume": 100}).samples

    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    first = run_isolated(speak)
    libc.srand(987)
    libc.rand()
    second = run_isolated(speak)
    libc.srand(1)
    assert np.array_equal(first, second)


def test_list_voices_has_languages_names_and_file_names(monkeypatch):
    """espeak-ng's French voice is the file 'fr' (language fr-fr, name French_(France)):
    all three spellings are known, so a corpus config may use the file name."""
    import subprocess
    from lidtool.corpora.synth.espeak import list_voices
    out = ("Pty Language       Age/Gender VoiceName          File                 Other Languages\n"
           " 5  fr-fr           --/M      French_(France)    roa/fr               (fr 5)\n"
           " 5  th              --/M      Thai               tai/th\n")
    monkeypatch.setattr(subprocess, "run",
                        lambda *a, **k: subprocess.CompletedProcess(a, 0, stdout=out))
    assert {"fr-fr", "french_(france)", "fr", "th", "thai"} <= list_voices()
