"""Synthesizer backends behind one interface (`base.Synthesizer`), looked up by name.

Names used in corpus configs: espeak, mbrola, festival, flite.
"""
from __future__ import annotations

from lidtool.corpora.synth.backends.base import (MissingSynthesizer, Rendering, Synthesizer,
                                                 base_lang)
from lidtool.corpora.synth.backends.espeak_ng import EspeakNG
from lidtool.corpora.synth.backends.external import Festival, Flite
from lidtool.corpora.synth.backends.mbrola import Mbrola
from lidtool.errors import ConfigError

SYNTHESIZERS = {cls.name: cls for cls in (EspeakNG, Mbrola, Festival, Flite)}

__all__ = ["MissingSynthesizer", "Rendering", "Synthesizer", "SYNTHESIZERS", "base_lang",
           "get_synthesizer"]


def get_synthesizer(name: str, where: str = "synthesizers") -> Synthesizer:
    if name not in SYNTHESIZERS:
        raise ConfigError(where, f"unknown synthesizer '{name}'",
                          fix=f"one of {sorted(SYNTHESIZERS)}")
    return SYNTHESIZERS[name]()
