"""The interface every synthesizer backend implements, and what a rendering returns.

A backend knows which voices it has for a language label (`voices`), whether each is
installed (`missing` names the package that provides it), and renders text with one voice
(`render`) inside the caller's isolated child process. A backend that reports phone timings
(espeak-ng) returns them as the `alignment`; the others return None, and sets that need
alignments (sentence mode) may only use aligned ones.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np

from lidtool.errors import ConfigError


@dataclass
class Rendering:
    samples: np.ndarray                 # float32 in [-1, 1)
    sample_rate: int
    alignment: object | None = None     # backend-specific phone timings (espeak: Synthesis)
    info: dict = field(default_factory=dict)


class MissingSynthesizer(ConfigError):
    """A synthesizer or voice the config asks for is not installed."""


class Synthesizer(ABC):
    """Base class: `name`, `aligned`, `voices(lang)`, `speaks(lang)`, `missing(voice)`,
    `render(text, voice, params)`; a backend must implement the three abstract ones."""

    name = ""
    aligned = False             # render() returns phone timings

    @abstractmethod
    def voices(self, lang: str) -> list[str]:
        """Every voice this synthesizer has for language label `lang` (installed or not)."""

    def speaks(self, lang: str) -> bool:
        return bool(self.voices(lang))

    @abstractmethod
    def missing(self, voice: str) -> str | None:
        """None if `voice` is installed, else the package to install."""

    def draw_params(self, rng: np.random.Generator, cfg: dict) -> dict:
        """Per-speaker synthesis settings (drawn once per speaker)."""
        return {}

    @abstractmethod
    def render(self, text: str, voice: str, params: dict) -> Rendering:
        """The audio of `text` in `voice` with the speaker's `params` (draw_params)."""

    def require(self, voice: str, where: str) -> None:
        package = self.missing(voice)
        if package is not None:
            raise MissingSynthesizer(where, f"{self.name} voice '{voice}' is not installed",
                                     fix=f"apt-get install {package} (tools/install.sh), or "
                                         "set skip_missing: [<synthesizer>] in the set to leave "
                                         "it out")


def base_lang(label: str) -> str:
    """'en-us' -> 'en': backends list voices by ISO 639-1 language."""
    return label.split("-")[0].lower()
