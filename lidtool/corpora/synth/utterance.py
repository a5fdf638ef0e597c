"""One utterance: text -> espeak-ng (in a fresh child) -> cut -> 16 kHz -> channel, with its
phone alignment.

Speech duration is measured on espeak's own timing: the summed length of all non-pause
phones (names starting with '_' are pauses). This stands in for "duration after VAD": an
energy VAD on clean synthetic speech keeps essentially these regions.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy.signal import resample_poly

from lidtool.corpora.synth.channel import apply_channel
from lidtool.corpora.synth.espeak import SAMPLE_RATE as ESPEAK_SR
from lidtool.corpora.synth.espeak import EspeakError
from lidtool.corpora.synth.isolate import IsolatedCrash, run_isolated
from lidtool.corpora.synth.sets import UttSpec
from lidtool.corpora.synth.speakers import Speaker, stable_int
from lidtool.corpora.synth.text import SentenceSampler
from lidtool.corpora.synth.spectral_transform import apply_spectral
from lidtool.corpora.synth.voice_transform import apply_transform

SR = 16000
SIL = "sil"
MAX_TRIES = 20
CRASH_RETRIES = 4
log = logging.getLogger(__name__)


@dataclass
class Rendered:
    audio: np.ndarray                          # float32 at 16 kHz
    text: str
    alignment: list[tuple[str, float, float]] | None  # (phone, start s, dur s), tiles
    #                                                   the audio; None: backend gives none
    speech_s: float
    channel: dict
    tries: int
    word_starts: list[float] | None = None     # sentence mode: start of each word (s)


def utt_rng(seed: int, spec: UttSpec, what: str) -> np.random.Generator:
    return np.random.default_rng([seed, stable_int("utt", spec.set, what), spec.index])


def _speech_of(phones: list[tuple[int, str]], n: int) -> float:
    ends = [s for s, _ in phones[1:]] + [n]
    return sum(e - s for (s, name), e in zip(phones, ends) if not name.startswith("_")) \
        / ESPEAK_SR


def speak(spec: UttSpec, speaker: Speaker, sampler: SentenceSampler, seed: int,
          rate_jitter: float, attempt: int = 0):
    """Choose the text and synthesise it; runs inside `run_isolated` (fresh engine).

    Returns (Synthesis, words list, tries). For mode 'cut' the text grows until espeak's
    speech reaches the target; a sentence in which espeak switches language is redrawn."""
    from lidtool.corpora.synth.espeak import Espeak
    engine = Espeak.get()
    rng = utt_rng(seed, spec, "text" if attempt == 0 else f"text{attempt}")
    params = speaker.params()
    params["rate"] = int(round(params["rate"] * (1 + rng.uniform(-rate_jitter, rate_jitter))))
    lang_voice = speaker.voice.split("+")[0]
    n_words = spec.n_words if spec.mode == "sentence" else int(np.ceil(spec.speech_s * 3)) + 2
    for tries in range(1, MAX_TRIES + 1):
        words = sampler.sample(rng, n_words)
        text = " ".join(words)
        if engine.switches_language(text, lang_voice) is not None:
            continue
        syn = engine.synthesize(text, speaker.voice, params, what=f"{spec.set} #{spec.index}")
        if spec.mode == "cut" and _speech_of(syn.phones, len(syn.samples)) < spec.speech_s:
            n_words = n_words * 2
            continue
        return syn, words, tries, params
    raise EspeakError(f"espeak-ng voice '{speaker.voice}'",
                      f"no usable sentence for {spec.set} #{spec.index} ({spec.lang}) after "
                      f"{MAX_TRIES} tries (language switches or too little speech)",
                      fix="check the language's vocabulary and text kind")


def _cut_point(phones, n: int, target_s: float) -> int:
    """Sample (espeak rate) where the accumulated non-pause phone time reaches target_s."""
    need = target_s * ESPEAK_SR
    ends = [s for s, _ in phones[1:]] + [n]
    acc = 0.0
    for (start, name), end in zip(phones, ends):
        if name.startswith("_"):
            continue
        if acc + (end - start) >= need:
            return int(round(start + need - acc))
        acc += end - start
    return n


def _word_first_sample(text_words: list[str], words_ev) -> list[int | None]:
    """For each text word, the sample of the first espeak WORD event inside it (espeak's
    text positions are 1-based character offsets) or None."""
    first: list[int | None] = [None] * len(text_words)
    pos = 1
    spans = []
    for w in text_words:
        spans.append((pos, pos + len(w)))
        pos += len(w) + 1
    for sample, p, _ in words_ev:
        for i, (a, b) in enumerate(spans):
            if a <= p < b and first[i] is None:
                first[i] = sample
    return first


def _words_before(text_words: list[str], words_ev, cut: int) -> list[str]:
    """The words whose start lies before sample `cut`."""
    first = _word_first_sample(text_words, words_ev)
    keep = [w for w, s in zip(text_words, first) if s is not None and s < cut]
    return keep or text_words[:1]


def _alignment(phones, cut: int, lead: int, total: int) -> list[tuple[str, float, float]]:
    """Phones (espeak samples) -> contiguous (phone, start, dur) items at 16 kHz covering
    [0, total) samples, pauses and padding as 'sil'."""
    bounds = [(0, SIL)]
    for start, name in phones:
        if start >= cut:
            break
        b = lead + int(round(start * SR / ESPEAK_SR))
        bounds.append((b, SIL if name.startswith("_") else name))
    bounds.append((lead + int(round(cut * SR / ESPEAK_SR)), SIL))
    items: list[list] = []
    for (b, name), (b_next, _) in zip(bounds, bounds[1:] + [(total, SIL)]):
        b, b_next = min(b, total), min(max(b_next, b), total)
        if b_next <= b:
            continue
        if items and items[-1][0] == SIL and name == SIL:
            items[-1][2] = b_next
        else:
            items.append([name, b, b_next])
    return [(name, round(a / SR, 6), round((e - a) / SR, 6)) for name, a, e in items]


def pad_and_channel(speech: np.ndarray, spec: UttSpec, cfg: dict, bank: list[np.ndarray]
                    ) -> tuple[np.ndarray, dict, int, int]:
    """Random silence before/after the 16 kHz speech, then the set's channel; returns
    (audio, channel settings, lead samples, total samples)."""
    rng = utt_rng(int(cfg["seed"]), spec, "channel")
    lo, hi = cfg["pad_s"]
    lead = int(round(rng.uniform(lo, hi) * SR))
    tail = int(round(rng.uniform(lo, hi) * SR))
    audio = np.concatenate([np.zeros(lead), speech, np.zeros(tail)])
    y, info = apply_channel(audio, rng, spec.channel, cfg["channels"], bank)
    return y, info, lead, len(audio)


def render(spec: UttSpec, speaker: Speaker, sampler: SentenceSampler, cfg: dict,
           bank: list[np.ndarray], transform: dict | None = None) -> Rendered:
    """An espeak-ng utterance, optionally passed through a
    speaker's voice transform before padding and channel."""
    seed = int(cfg["seed"])
    for k in range(CRASH_RETRIES + 1):
        attempt = max(0, k - 1)       # retry the same text once (crashes seen were
        try:                          # transient), then draw other texts
            syn, words, tries, params = run_isolated(
                speak, spec, speaker, sampler, seed,
                float(cfg["speakers"].get("rate_jitter", 0.0)), attempt)
            break
        except IsolatedCrash as err:
            # libespeak-ng rarely segfaults; the same text again, or another draw of it
            # (from the utterance's own seeded stream, so still deterministic), avoids it
            log.warning("espeak-ng crashed on %s #%d (%s, voice %s), attempt %d: %s",
                        spec.set, spec.index, spec.lang, speaker.voice, attempt, err)
    else:
        raise EspeakError(f"espeak-ng voice '{speaker.voice}'",
                          f"libespeak-ng crashed {CRASH_RETRIES + 1} times on {spec.set} "
                          f"#{spec.index} ({spec.lang}) with different texts")
    n = len(syn.samples)
    if spec.mode == "cut":
        cut = _cut_point(syn.phones, n, spec.speech_s)
        text_words = _words_before(words, syn.words, cut)
    else:
        cut, text_words = n, words
        first = _word_first_sample(words, syn.words)
        if any(f is None for f in first):
            raise EspeakError(f"espeak-ng voice '{speaker.voice}'",
                              f"no word event for some words of {words!r} ({spec.set} "
                              f"#{spec.index}); cannot build the lexicon")
    speech = resample_poly(syn.samples[:cut].astype(np.float64) / 32768.0, 320, 441)
    if transform is not None:
        spectral = transform.get("kind") == "spectral"
        speech = (apply_spectral if spectral else apply_transform)(speech, SR, transform)
    y, info, lead, total = pad_and_channel(speech, spec, cfg, bank)
    align = _alignment(syn.phones, cut, lead, total)
    speech_s = sum(d for name, _, d in align if name != SIL)
    info["rate_used"] = params["rate"]
    starts = None
    if spec.mode == "sentence":
        starts = [round((lead + int(round(f * SR / ESPEAK_SR))) / SR, 6) for f in first]
    return Rendered(y, " ".join(text_words), align, round(speech_s, 4), info, tries, starts)
