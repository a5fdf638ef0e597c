"""Which synthesizer voices a set may use, and speakers made from them.

A set that names `synthesizers` (or `voices`, `voice_transform`, `heldout_synth_of`) is a
multi-synthesizer set; sets without these keys keep the espeak-only speakers of
`speakers.make_speaker` unchanged. For each language the set's candidates are the
(synthesizer, voice) pairs of its synthesizers, narrowed by `voices: {lang: [patterns]}`
("festival:*", "espeak:en-us", fnmatch style); a held-out-synthesizer set
(`heldout_synth_of: [train sets]`) drops every pair those sets may use. Candidates come from
the tables in `backends`, not from what happens to be installed: a missing one is an error
naming its package, or is dropped (with a warning) only where the set says `skip_missing:
true` (any synthesizer) or `skip_missing: [mbrola, ...]` (those named).

Speaker k of a language takes candidate (start + k) mod n (start drawn per set, language and
role), so the voices are used in turn; the rest is drawn once from the speaker's own stream
(seed, language, role, index): the backend's own settings (espeak: variant, pitch, rate...; festival/flite: a duration
stretch) and, with `voice_transform: true`, a WORLD transform (`voice_transform`). Its id
carries a short hash of all of these, so two different speakers never share an id.
"""
from __future__ import annotations

import dataclasses
import fnmatch
import gzip
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lidtool.corpora.synth.backends import get_synthesizer
from lidtool.corpora.synth.speakers import ROLE_CODES, Speaker, make_speaker, stable_int
from lidtool.corpora.synth.text import language_spec
from lidtool.corpora.synth.voice_transform import draw_transform, transform_knobs
from lidtool.errors import ConfigError, DataDirError

BACKEND_KEYS = ("synthesizers", "voices", "voice_transform", "heldout_synth_of",
                "skip_missing")
log = logging.getLogger(__name__)
_WARNED: set[tuple[str, str, str]] = set()       # skipped voices already reported


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


def _may_skip(s: dict, synth: str) -> bool:
    skip = s.get("skip_missing", False)
    return skip is True or (isinstance(skip, list) and synth in skip)


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
        elif _may_skip(s, synth):
            if (name, synth, voice) in _WARNED:
                continue
            _WARNED.add((name, synth, voice))
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
    # speakers take the voices in turn from a seeded starting point, so every voice family
    # gets speakers as soon as there are as many speakers as voices
    start = np.random.default_rng([seed, stable_int("synth-start", name, lang, role)])
    synth, voice = pairs[(int(start.integers(len(pairs))) + index) % len(pairs)]
    rng = np.random.default_rng([seed, stable_int("synth-speaker", lang, role), index])
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


def set_fingerprint(cfg: dict, name: str) -> list:
    """What a multi-synthesizer set's shards depend on beyond their specs: its keys and the
    voices actually used (skip_missing makes these depend on what is installed)."""
    s = cfg["sets"][name]
    if not uses_backends(s):
        return []
    return [{k: s[k] for k in BACKEND_KEYS if k in s},
            {lang: candidates(cfg, name, lang) for lang in s["langs"]}]


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
    if s.get("voice_transform", False):
        transform_knobs(cfg, where)               # unknown knobs fail at load time
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


def _manifest_voices(manifest_dir: Path, name: str) -> dict[str, set[tuple[str, str]]]:
    """language -> {(synthesizer, voice)} used in set `name`, read from its manifest."""
    path = manifest_dir / f"synth_supervisions_{name}.jsonl.gz"
    if not path.is_file():
        raise DataDirError(path, f"no manifest for set '{name}'",
                           fix=f"generate it too (lidtool make-corpus --sets '{name} ...')")
    out: dict[str, set[tuple[str, str]]] = {}
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            sup = json.loads(line)
            out.setdefault(sup["language"], set()).add(manifest_voice(sup))
    return out


def check_heldout_synth(cfg: dict, manifest_dir, name: str) -> None:
    """Fail unless held-out-synthesizer set `name` shares no (synthesizer, voice) of a
    language with the training sets it names (from the manifests)."""
    manifest_dir = Path(manifest_dir)
    held = _manifest_voices(manifest_dir, name)
    for train in cfg["sets"][name]["heldout_synth_of"]:
        used = _manifest_voices(manifest_dir, train)
        for lang, pairs in held.items():
            shared = pairs & used.get(lang, set())
            if shared:
                raise DataDirError(manifest_dir / f"synth_supervisions_{name}.jsonl.gz",
                                   f"held-out-synthesizer set '{name}' shares "
                                   f"{sorted(shared)} ({lang}) with training set '{train}'")
