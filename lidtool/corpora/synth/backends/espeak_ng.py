"""espeak-ng (every language; phone alignments) and its MBROLA diphone voices (mb-*).

Both speak through libespeak-ng (`espeak.Espeak`) and so keep espeak's phoneme events. The
MBROLA voices need the non-free `mbrola` program and `mbrola-<voice>` data packages
(tools/install.sh --mbrola true); a corpus that does not list `mbrola` never needs them.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from lidtool.corpora.synth.backends.base import Rendering, Synthesizer, base_lang

# language (ISO 639-1) -> espeak-ng mb-* voices (see espeak-ng-data/voices/mb)
MBROLA_VOICES = {
    "en": ["mb-en1", "mb-us1", "mb-us2", "mb-us3"],
    "es": ["mb-es1", "mb-es2", "mb-es3", "mb-es4"],
    "it": ["mb-it3", "mb-it4"],
    "cs": ["mb-cz2"],
    "de": ["mb-de1", "mb-de2", "mb-de4", "mb-de5", "mb-de6", "mb-de7"],
    "fr": ["mb-fr1", "mb-fr2", "mb-fr4"],
    "pt": ["mb-br1", "mb-br3", "mb-br4", "mb-pt1"],
    "pl": ["mb-pl1"],
}
MBROLA_DIR = Path("/usr/share/mbrola")


class EspeakNG(Synthesizer):
    name = "espeak"
    aligned = True

    def voices(self, lang: str) -> list[str]:
        from lidtool.corpora.synth.text import language_spec
        return [language_spec(lang).voice] if lang else []

    def speaks(self, lang: str) -> bool:
        return True

    def missing(self, voice: str) -> str | None:
        return None if shutil.which("espeak-ng") else "espeak-ng libespeak-ng1"

    def render(self, text: str, voice: str, params: dict) -> Rendering:
        from lidtool.corpora.synth.espeak import Espeak
        syn = Espeak.get().synthesize(text, voice, params)
        return Rendering(syn.samples.astype(np.float32) / 32768.0, syn.sample_rate, syn)


class Mbrola(EspeakNG):
    name = "mbrola"

    def voices(self, lang: str) -> list[str]:
        return list(MBROLA_VOICES.get(base_lang(lang), []))

    def speaks(self, lang: str) -> bool:
        return bool(self.voices(lang))

    def missing(self, voice: str) -> str | None:
        data = voice.removeprefix("mb-")
        if shutil.which("mbrola") is None or not (MBROLA_DIR / data / data).is_file():
            return f"mbrola mbrola-{data} (non-free: tools/install.sh --mbrola true)"
        return super().missing(voice)
