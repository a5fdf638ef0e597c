"""Utterances from backends without phone timings (Festival, flite).

Without phone events, speech is measured on the audio: 20 ms frames within 35 dB of the
loudest frame count as speech (clean synthetic speech, before any channel). For `mode: cut`
the text grows until there is enough speech and the audio is cut where the counted speech
reaches the target; the transcript keeps the same share of the words (approximate: these
backends give no word times). Leading and trailing silence of the backend's output is
trimmed so that the padding drawn by `pad_and_channel` is the only silence around speech.
"""
from __future__ import annotations

from math import gcd

import numpy as np
from scipy.signal import resample_poly

from lidtool.corpora.synth.backends import get_synthesizer
from lidtool.corpora.synth.isolate import run_isolated
from lidtool.corpora.synth.sets import UttSpec
from lidtool.corpora.synth.text import SentenceSampler
from lidtool.corpora.synth.utterance import (MAX_TRIES, SR, Rendered, pad_and_channel,
                                             utt_rng)
from lidtool.corpora.synth.voice_transform import apply_transform
from lidtool.errors import AudioError

FRAME = SR // 50
ACTIVE_DB = 35.0


def to_16k(x: np.ndarray, sr: int) -> np.ndarray:
    if sr == SR:
        return np.asarray(x, dtype=np.float64)
    g = gcd(SR, sr)
    return resample_poly(np.asarray(x, dtype=np.float64), SR // g, sr // g)


def active_frames(x: np.ndarray) -> np.ndarray:
    """Boolean speech activity of each 20 ms frame of 16 kHz `x`."""
    n = len(x) // FRAME
    if n == 0:
        return np.zeros(0, dtype=bool)
    e = np.mean(x[:n * FRAME].reshape(n, FRAME) ** 2, axis=1)
    return e > e.max() * 10 ** (-ACTIVE_DB / 10)


def speak_unaligned(spec: UttSpec, speaker, sampler: SentenceSampler, seed: int):
    """Text -> backend audio at 16 kHz (in the isolated child); (audio, words, tries)."""
    backend = get_synthesizer(speaker.synth)
    rng = utt_rng(seed, spec, "text")
    n_words = spec.n_words if spec.mode == "sentence" else int(np.ceil(spec.speech_s * 3)) + 2
    for tries in range(1, MAX_TRIES + 1):
        words = sampler.sample(rng, n_words)
        out = backend.render(" ".join(words), speaker.voice, speaker.params)
        x = to_16k(out.samples, out.sample_rate)
        if spec.mode == "cut" and active_frames(x).sum() * FRAME / SR < spec.speech_s:
            n_words *= 2
            continue
        return x, words, tries
    raise AudioError(f"{speaker.synth} voice '{speaker.voice}'",
                     f"too little speech for {spec.set} #{spec.index} ({spec.lang}) after "
                     f"{MAX_TRIES} tries")


def render_unaligned(spec: UttSpec, speaker, sampler: SentenceSampler, cfg: dict,
                     bank: list[np.ndarray]) -> Rendered:
    x, words, tries = run_isolated(speak_unaligned, spec, speaker, sampler, int(cfg["seed"]))
    act = active_frames(x)
    first, last = int(np.argmax(act)), len(act) - int(np.argmax(act[::-1]))
    end = last * FRAME
    if spec.mode == "cut":
        need = int(np.ceil(spec.speech_s * SR / FRAME))
        reached = np.nonzero(np.cumsum(act) >= need)[0]
        end = (int(reached[0]) + 1) * FRAME if len(reached) else end
        share = act[:end // FRAME].sum() / max(1, act.sum())
        words = words[:max(1, int(round(share * len(words))))]
    speech = x[first * FRAME:end]
    speech_s = float(active_frames(speech).sum() * FRAME / SR)
    if speaker.transform is not None:
        speech = apply_transform(speech, SR, speaker.transform)
    y, info, _, _ = pad_and_channel(speech, spec, cfg, bank)
    return Rendered(y, " ".join(words), None, round(speech_s, 4), info, tries)
