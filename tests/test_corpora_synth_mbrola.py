"""MBROLA voices render the same bytes every time: espeak-ng writes the phoneme file and the
mbrola program renders it (no racing pipe), again and again and from parallel processes;
and the result is the level espeak-ng itself gives (its `-w` output of a one-clause text)."""
from __future__ import annotations

import multiprocessing as mp
import subprocess

import numpy as np
import pytest
import soundfile as sf

from lidtool.corpora.synth.backends.mbrola import Mbrola, espeak_level, voice_settings

TEXTS = {"en": "the house is very old and nobody wants to live there any more",
         "it": "fuori come diritto di essere del grazie cui credo quando visto fa legge",
         "cs": "dům je velmi starý a nikdo v něm nechce bydlet"}
PARAMS = [{"rate": 226, "pitch": 37}, {"rate": 130, "pitch": 80}]


def installed_voices(n_per_lang: int = 1) -> list[tuple[str, str]]:
    m = Mbrola()
    out = []
    for lang in TEXTS:
        out += [(lang, v) for v in m.voices(lang) if m.missing(v) is None][:n_per_lang]
    return out


VOICES = installed_voices()
pytestmark = pytest.mark.skipif(not VOICES, reason="no MBROLA voice installed "
                                "(tools/install.sh --mbrola true)")


def render_bytes(jobs: list[tuple[str, str, dict]]) -> list[bytes]:
    m = Mbrola()
    return [m.render(text, voice, params).samples.tobytes() for text, voice, params in jobs]


def test_espeak_level_truncates_toward_zero_and_clips():
    pcm = np.array([0, 1, -1, 39, -39, 41, -41, 32767, -32768], dtype=np.int16)
    assert espeak_level(pcm, 40).tolist() == pcm.tolist()
    assert espeak_level(pcm, 35).tolist() == [0, 0, 0, 34, -34, 35, -35, 28671, -28672]
    assert espeak_level(pcm, 82).tolist()[-2:] == [32767, -32768]


def test_same_utterance_same_bytes_repeated_and_in_parallel():
    jobs = [(TEXTS[lang], voice, p) for lang, voice in VOICES for p in PARAMS]
    first = render_bytes(jobs)
    assert all(len(b) > 16000 for b in first)
    for _ in range(3):
        assert render_bytes(jobs) == first
    # two processes rendering the same list at the same time (the old pipe raced here)
    with mp.get_context("spawn").Pool(2) as pool:
        for out in pool.map(render_bytes, [jobs, jobs, jobs, jobs]):
            assert out == first
    # the per-speaker settings reach the audio
    assert first[0] != first[1]


def test_gives_espeak_ng_own_output_for_one_clause(tmp_path):
    """espeak-ng -w with the same voice and settings gives these samples (it is racy under
    load, so one of three of its renderings must match)."""
    lang, voice = VOICES[0]
    params = PARAMS[0]
    new = Mbrola().render(TEXTS[lang], voice, params)
    pcm = np.round(new.samples * 32768).astype(np.int16)
    (tmp_path / "t.txt").write_text(TEXTS[lang], encoding="utf-8")
    matches = []
    for k in range(3):
        wav = tmp_path / f"{k}.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(params["rate"]), "-p",
                        str(params["pitch"]), "-w", str(wav), "-f", str(tmp_path / "t.txt")],
                       capture_output=True, check=True)
        ref, sr = sf.read(wav, dtype="int16")
        matches.append(sr == new.sample_rate and np.array_equal(ref, pcm))
    assert any(matches)
    database, ratio, amplitude = voice_settings(voice)
    assert database.is_file() and 0 < ratio < 16 and 0 < amplitude < 200
