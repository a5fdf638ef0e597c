"""espeak-ng through libespeak-ng (`espeak.Espeak`): every language, with phone timings."""
from __future__ import annotations

import shutil

import numpy as np

from lidtool.corpora.synth.backends.base import Rendering, Synthesizer


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
