"""eSpeak NG through libespeak-ng (ctypes): speech to memory with phoneme timings.

One `Espeak` object per process (the library keeps global state). `synthesize()` returns the
22050 Hz int16 samples produced by the synthesis callback together with the phoneme and word
events that espeak-ng reports while speaking (`espeakINITIALIZE_PHONEME_EVENTS`), so every
phone has an exact start sample. `phonemes()` wraps `espeak_TextToPhonemes`, whose output
shows a language switch as `(en)`-style markers; `switches_language()` tests for them.

Everything that comes back from the library is checked: no audio, silent audio, no phoneme
events or events outside the audio raise `EspeakError` naming the voice and text.
"""
from __future__ import annotations

import ctypes
import re
import threading
from dataclasses import dataclass

import numpy as np

from lidtool.errors import AudioError, ConfigError

LIBRARY = "libespeak-ng.so.1"
SAMPLE_RATE = 22050

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INIT_PHONEME_EVENTS = 0x0001
_INIT_DONT_EXIT = 0x8000
_CHARS_UTF8 = 1
_POS_CHARACTER = 1
_EV_END, _EV_WORD, _EV_PHONEME = 0, 1, 7
PARAMETERS = {"rate": 1, "volume": 2, "pitch": 3, "range": 4, "wordgap": 7}
_SWITCH = re.compile(r"\(([a-z][a-z0-9-]*)\)")


class EspeakError(AudioError):
    """espeak-ng produced no, empty or inconsistent output for a text."""


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p),
                ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint),
                ("text_position", ctypes.c_int), ("length", ctypes.c_int),
                ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", _EventId)]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                             ctypes.POINTER(_Event))


@dataclass
class Synthesis:
    """One utterance as espeak-ng spoke it (times are sample indices at `sample_rate`)."""
    samples: np.ndarray                      # int16
    sample_rate: int
    phones: list[tuple[int, str]]            # (start sample, espeak phoneme mnemonic)
    words: list[tuple[int, int, int]]        # (start sample, char offset, char length)


class Espeak:
    """The process-wide libespeak-ng engine (use `Espeak.get()`)."""

    _instance: "Espeak | None" = None
    _lock = threading.Lock()

    @classmethod
    def get(cls) -> "Espeak":
        with cls._lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def __init__(self):
        try:
            lib = ctypes.CDLL(LIBRARY)
        except OSError as err:
            raise ConfigError(LIBRARY, f"cannot load libespeak-ng: {err}",
                              fix="apt-get install espeak-ng libespeak-ng1") from None
        sr = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, None,
                                   _INIT_PHONEME_EVENTS | _INIT_DONT_EXIT)
        if sr != SAMPLE_RATE:
            raise ConfigError(LIBRARY, f"espeak_Initialize returned {sr}, expected "
                              f"{SAMPLE_RATE} Hz", fix="check the espeak-ng-data install")
        lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_char_p), ctypes.c_int,
                                              ctypes.c_int]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint,
                                     ctypes.c_int, ctypes.c_uint, ctypes.c_uint,
                                     ctypes.c_void_p, ctypes.c_void_p]
        self._lib = lib
        self._chunks: list[np.ndarray] = []
        self._events: list[tuple[int, int, int, int, str]] = []
        self._callback = _CALLBACK(self._on_audio)   # keep a reference: C holds the pointer
        lib.espeak_SetSynthCallback(self._callback)
        self._voice = None

    def _on_audio(self, wav, numsamples, events):
        if wav and numsamples > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(numsamples,)).copy())
        i = 0
        while events[i].type != _EV_END:
            ev = events[i]
            if ev.type == _EV_PHONEME:
                name = ev.id.string.decode("utf-8", errors="replace")
                self._events.append((ev.type, ev.sample, ev.text_position, ev.length, name))
            elif ev.type == _EV_WORD:
                self._events.append((ev.type, ev.sample, ev.text_position, ev.length, ""))
            i += 1
        return 0

    def set_voice(self, voice: str) -> None:
        if voice == self._voice:
            return
        rc = self._lib.espeak_SetVoiceByName(voice.encode())
        if rc != 0:
            raise ConfigError("espeak-ng", f"unknown voice '{voice}' (espeak_SetVoiceByName "
                              f"returned {rc})", fix="see `espeak-ng --voices` and "
                              "`espeak-ng --voices=variant`")
        self._voice = voice

    def set_parameters(self, params: dict[str, int]) -> None:
        for name, value in params.items():
            if name not in PARAMETERS:
                raise ConfigError("espeak-ng", f"unknown espeak parameter '{name}'",
                                  fix=f"use one of {sorted(PARAMETERS)}")
            self._lib.espeak_SetParameter(PARAMETERS[name], int(value), 0)

    def phonemes(self, text: str, voice: str) -> str:
        """espeak-ng's phoneme string for `text` (clauses joined by spaces)."""
        self.set_voice(voice)
        buf = ctypes.c_char_p(text.encode("utf-8"))
        parts = []
        while buf.value:
            before = buf.value
            out = self._lib.espeak_TextToPhonemes(ctypes.byref(buf), _CHARS_UTF8, 0)
            parts.append((out or b"").decode("utf-8", errors="replace"))
            if buf.value == before:      # no progress: stop rather than loop forever
                break
        return " ".join(p for p in parts if p)

    def switches_language(self, text: str, voice: str) -> str | None:
        """The language espeak-ng switches to inside `text`, or None."""
        found = _SWITCH.search(self.phonemes(text, voice))
        return found.group(1) if found else None

    def synthesize(self, text: str, voice: str, params: dict[str, int] | None = None,
                   what: str = "utterance") -> Synthesis:
        """Speak `text` with `voice` (e.g. 'en-us+f3') and espeak `params`; checked output."""
        self.set_voice(voice)
        self.set_parameters(params or {})
        self._chunks, self._events = [], []
        data = text.encode("utf-8") + b"\0"
        rc = self._lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8,
                                    None, None)
        where = f"espeak-ng voice '{voice}' ({what})"
        if rc != 0:
            raise EspeakError(where, f"espeak_Synth failed with code {rc} for text "
                              f"{text[:60]!r}")
        samples = (np.concatenate(self._chunks) if self._chunks
                   else np.zeros(0, dtype=np.int16)).astype(np.int16)
        phones = [(s, n) for t, s, _, _, n in self._events if t == _EV_PHONEME]
        words = [(s, p, n) for t, s, p, n, _ in self._events if t == _EV_WORD]
        result = Synthesis(samples, SAMPLE_RATE, phones, words)
        check_synthesis(result, where, text)
        return result


def check_synthesis(syn: Synthesis, where: str, text: str) -> None:
    """Raise EspeakError unless `syn` has audible audio and phone events inside it."""
    n = len(syn.samples)
    if n == 0:
        raise EspeakError(where, f"no audio for text {text[:60]!r}",
                          fix="check that the voice reads this script")
    if not np.any(syn.samples):
        raise EspeakError(where, f"all-zero audio for text {text[:60]!r}")
    if not syn.phones:
        raise EspeakError(where, f"no phoneme events for text {text[:60]!r}")
    starts = [s for s, _ in syn.phones]
    if any(b < a for a, b in zip(starts, starts[1:])) or starts[0] < 0 or starts[-1] > n:
        raise EspeakError(where, f"phoneme events out of order or beyond the {n} samples of "
                          f"audio for text {text[:60]!r}")
    if any(not name for _, name in syn.phones):
        raise EspeakError(where, f"empty phoneme name in events for text {text[:60]!r}")


def list_voices() -> set[str]:
    """Names accepted by espeak_SetVoiceByName: language voices (from `espeak-ng --voices`)."""
    import subprocess
    try:
        out = subprocess.run(["espeak-ng", "--voices"], capture_output=True, text=True,
                             check=True).stdout
    except (OSError, subprocess.CalledProcessError) as err:
        raise ConfigError("espeak-ng", f"cannot list voices: {err}",
                          fix="apt-get install espeak-ng") from None
    names = set()
    for line in out.splitlines()[1:]:
        cols = line.split()
        # columns: Pty Language Age/Gender VoiceName File [Other languages]; the voice
        # name and the file name (e.g. 'fr' of roa/fr, whose language is fr-fr) both work
        if len(cols) >= 4:
            names.add(cols[1])
            names.add(cols[3].split("/")[-1].lower())
        if len(cols) >= 5:
            names.add(cols[4].split("/")[-1].lower())
    return names


def list_variants() -> set[str]:
    """Voice variant file names (the part after '+'), from `espeak-ng --voices=variant`."""
    import subprocess
    out = subprocess.run(["espeak-ng", "--voices=variant"], capture_output=True, text=True,
                         check=True).stdout
    names = set()
    for line in out.splitlines()[1:]:
        cols = line.split(None, 4)
        if len(cols) >= 5:
            names.add(cols[4].strip().split()[0].split("/")[-1])
    return names
