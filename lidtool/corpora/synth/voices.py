"""Which synthesizer voices a set may use, and speakers made from them.

A set that names `synthesizers` (or `voices`, `voice_transform`, `heldout_synth_of`) is a
multi-synthesizer set; sets without these keys keep the espeak-only speakers of
`speakers.make_speaker` unchanged. For each language the set's candidates are the
(synthesizer, voice) pairs of its synthesizers, narrowed by `voices: {lang: [patterns]}`
("festival:*", "espeak:en-us", fnmatch style); a held-out-synthesizer set
(`heldout_synth_of: [train sets]`) drops every pair those sets may use. Candidates come from
the tables in `backends`, not from what happens to be installed: a missing one is an error
naming its package, or is dropped (with a warning) only where the set says `skip_missing`.

A speaker is drawn once from its own stream (seed, language, role, index): a candidate pair,
the backend's own settings (espeak: variant, pitch, rate...; festival/flite: a duration
stretch) and, with `voice_transform: true`, a WORLD transform (`voice_transform`). Its id
carries a short hash of all of these, so two different speakers never share an id.
"""
from __future__ import annotations

import dataclasses
import fnmatch
import json
import logging
from dataclasses import dataclass

import numpy as np

from lidtool.corpora.synth.backends import get_synthesizer
from lidtool.corpora.synth.speakers import ROLE_CODES, Speaker, make_speaker, stable_int
from lidtool.corpora.synth.text import language_spec
from lidtool.corpora.synth.voice_transform import draw_transform, transform_knobs
from lidtool.errors import ConfigError

BACKEND_KEYS = ("synthesizers", "voices", "voice_transform", "heldout_synth_of",
                "skip_missing")
log = logging.getLogger(__name__)


def uses_backends(s: dict) -> bool:
    """True for a multi-synthesizer set (any of BACKEND_KEYS given)."""
    return any(k in s for k in BACKEND_KEYS)


@dataclass(frozen=True)
class SynthSpeaker:
    id: str
    lang: str
    synth: str                   # backend name
    voice: str                   # backend voice (espeak: the language voice, no variant)
    espeak: Speaker | None       # espeak-ng settings; None for other backends
    params: dict                 # other backends' settings (duration_stretch; rate, pitch)
    transform: dict | None       # voice_transform parameters, or None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _declared(cfg: dict, name: str, lang: str) -> list[tuple[str, str]]:
    s = cfg["sets"][name]
    pairs = []
    for synth in s.get("synthesizers", ["espeak"]):
        if synth == "espeak":
            pairs.append((synth, language_spec(lang, cfg["languages"]).voice))
        else:
            pairs.extend((synth, v) for v in get_synthesizer(synth, f"sets.{name}").voices(lang))
    patterns = (s.get("voices") or {}).get(lang)
    if patterns:
        pairs = [p for p in pairs if any(fnmatch.fnmatchcase(f"{p[0]}:{p[1]}", pat)
                                         for pat in patterns)]
    return pairs


def candidates(cfg: dict, name: str, lang: str) -> list[tuple[str, str]]:
    """The (synthesizer, voice) pairs set `name` renders language `lang` with, checked."""
    s = cfg["sets"][name]
    pairs = _declared(cfg, name, lang)
    for train in s.get("heldout_synth_of", []):
        if lang in cfg["sets"][train]["langs"]:
            used = set(_declared(cfg, train, lang))
            pairs = [p for p in pairs if p not in used]
    kept = []
    for synth, voice in pairs:
        package = get_synthesizer(synth).missing(voice)
        if package is None:
            kept.append((synth, voice))
        elif s.get("skip_missing", False):
            log.warning("set %s: leaving out %s voice %s for %s (not installed: %s)", name,
                        synth, voice, lang, package)
        else:
            get_synthesizer(synth).require(voice, f"sets.{name} ({lang})")
    if not kept:
        raise ConfigError(f"sets.{name}", f"no synthesizer voice left for language '{lang}'"
                          + (" after removing those of " + ", ".join(s["heldout_synth_of"])
                             if s.get("heldout_synth_of") else ""),
                          fix="allow more synthesizers/voices for it, or drop the language")
    return sorted(kept)


def make_synth_speaker(cfg: dict, name: str, lang: str, role: str, index: int,
                       pairs: list[tuple[str, str]], variants: list[str]) -> SynthSpeaker:
    seed = int(cfg["seed"])
    rng = np.random.default_rng([seed, stable_int("synth-speaker", lang, role), index])
    synth, voice = pairs[int(rng.integers(len(pairs)))]
    backend = get_synthesizer(synth)
    espeak, params = None, {}
    if backend.aligned:
        espeak = make_speaker(lang, voice, role, index, seed, cfg["speakers"], variants)
    else:
        params = backend.draw_params(rng, cfg["speakers"])
    transform = None
    if cfg["sets"][name].get("voice_transform", False):
        t_rng = np.random.default_rng([seed, stable_int("transform", lang, role, synth, voice),
                                       index])
        transform = draw_transform(transform_knobs(cfg), t_rng)
    tag = stable_int(synth, voice, espeak and espeak.to_dict(),
                     json.dumps([params, transform], sort_keys=True))
    return SynthSpeaker(f"{lang}-{ROLE_CODES[role]}{index:04d}-{tag % 16 ** 6:06x}", lang,
                        synth, voice, espeak, params, transform)


def check_set_keys(cfg: dict, name: str, where: str) -> None:
    """Validate a set's multi-synthesizer keys (names, alignment needs, held-out sources)."""
    from lidtool.corpora.synth.backends import SYNTHESIZERS
    s = cfg["sets"][name]
    synths = s.get("synthesizers", ["espeak"])
    if not isinstance(synths, list) or not synths:
        raise ConfigError(where, f"set '{name}': synthesizers must be a non-empty list")
    for synth in synths:
        if synth not in SYNTHESIZERS:
            raise ConfigError(where, f"set '{name}': unknown synthesizer '{synth}'",
                              fix=f"one of {sorted(SYNTHESIZERS)}")
        if s.get("mode", "cut") == "sentence" and not SYNTHESIZERS[synth].aligned:
            raise ConfigError(where, f"set '{name}' (mode sentence) needs phone alignments; "
                              f"'{synth}' gives none", fix="use espeak only")
    if not isinstance(s.get("voices", {}), dict):
        raise ConfigError(where, f"set '{name}': voices must map a language to patterns")
    for train in s.get("heldout_synth_of", []):
        if train not in cfg["sets"] or train == name:
            raise ConfigError(where, f"set '{name}': heldout_synth_of names unknown set "
                              f"'{train}'", fix=f"one of {sorted(cfg['sets'])}")


def manifest_voice(sup: dict) -> tuple[str, str]:
    """(synthesizer, voice) of a supervision dict; espeak for corpora made before backends."""
    custom = sup.get("custom") or {}
    if "synthesizer" in custom:
        return custom["synthesizer"], custom["synth_voice"]
    return "espeak", custom["voice"]["voice"].split("+")[0]
