"""Corpus configuration (YAML) and the plan: which utterances each data set holds.

A set is a list of utterance specs, each fully determined by (corpus seed, set name, index):
language, speaker, and either a target amount of speech (`mode: cut`, LID sets: the audio is
cut where the speech — the non-pause phones of espeak's own timing — reaches the target) or
a number of words (`mode: sentence`, ASR sets: whole sentences so that transcripts match).
The plan never depends on --nj or on how far an earlier run got, so shards are stable.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from lidtool.corpora.synth.channel import DEFAULT_CHANNELS
from lidtool.corpora.synth.speaker_sets import (check_speaker_set, is_speaker_set,
                                                plan_speaker_set)
from lidtool.corpora.synth.speakers import DEFAULT_VARIANTS, stable_int
from lidtool.corpora.synth.voices import check_set_keys
from lidtool.errors import ConfigError

DEFAULTS = {
    "seed": 1,
    "sample_rate": 16000,
    "audio_format": "flac",
    "shard_size": 20,
    "vocab_size": 3000,
    "sentence_power": 0.6,
    "pad_s": [0.1, 0.6],
    "babble_clips": 12,
    "speakers": {"heldout_variant_fraction": 0.25, "variants": DEFAULT_VARIANTS,
                 "rate": [130, 230], "pitch": [20, 80], "range": [20, 90],
                 "wordgap": [0, 3], "volume": [80, 120], "rate_jitter": 0.05},
    "channels": DEFAULT_CHANNELS,
    "languages": {},
    "sets": {},
}
SET_KEYS = {"langs", "proportions", "min_utts", "utts_per_lang", "speakers_per_lang", "role",
            "mode", "speech_s", "words", "channel", "speaker_offset",
            # multi-synthesizer sets (voices.py)
            "synthesizers", "voices", "voice_transform", "heldout_synth_of", "skip_missing",
            # speaker mode (speaker_sets.py)
            "speakers", "utts_per_speaker", "speaker_transform", "trials"}


@dataclass(frozen=True)
class UttSpec:
    set: str
    index: int
    lang: str
    speaker_index: int
    role: str
    mode: str                 # 'cut' (target speech seconds) or 'sentence' (n words)
    speech_s: float           # target speech for 'cut'
    n_words: int              # words for 'sentence'
    channel: str


def _merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key != "sets":
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _set_override(cfg: dict, key: str, value: str, path: str) -> None:
    node = cfg
    parts = key.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(path, f"override '{key}': '{part}' is not a mapping")
    node[parts[-1]] = yaml.safe_load(value)


def load_config(path=None, overrides: list[str] | None = None) -> dict:
    """The corpus config: DEFAULTS, then the YAML file at `path`, then `key.sub=value`s."""
    user = {}
    where = str(path) if path else "<defaults>"
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(p, "corpus config does not exist")
        try:
            user = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as err:
            line = getattr(getattr(err, "problem_mark", None), "line", None)
            raise ConfigError(p, f"not valid YAML: {err}",
                              line=None if line is None else line + 1) from None
        if not isinstance(user, dict):
            raise ConfigError(p, "corpus config must be a YAML mapping")
    cfg = _merge(DEFAULTS, user)
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(where, f"override '{item}' is not key=value")
        key, value = item.split("=", 1)
        _set_override(cfg, key.strip(), value, where)
    check_config(cfg, where)
    return cfg


def check_config(cfg: dict, where: str) -> None:
    if not cfg["sets"]:
        raise ConfigError(where, "no data sets defined under 'sets:'")
    for name, s in cfg["sets"].items():
        unknown = set(s) - SET_KEYS
        if unknown:
            raise ConfigError(where, f"set '{name}' has unknown keys {sorted(unknown)}",
                              fix=f"allowed: {sorted(SET_KEYS)}")
        if not s.get("langs"):
            raise ConfigError(where, f"set '{name}' lists no languages ('langs')")
        if s.get("role", "train") not in ("train", "test", "asr"):
            raise ConfigError(where, f"set '{name}': role must be train, test or asr")
        mode = s.get("mode", "cut")
        if mode not in ("cut", "sentence"):
            raise ConfigError(where, f"set '{name}': mode must be cut or sentence")
        if mode == "cut" and "speech_s" not in s:
            raise ConfigError(where, f"set '{name}' (mode cut) needs speech_s")
        if mode == "sentence" and "words" not in s:
            raise ConfigError(where, f"set '{name}' (mode sentence) needs words: [min, max]")
        if is_speaker_set(s):
            check_speaker_set(cfg, name, where)
        elif "proportions" in s:
            if len(s["proportions"]) != len(s["langs"]) or "min_utts" not in s:
                raise ConfigError(where, f"set '{name}': proportions need one value per "
                                  "language and min_utts")
            if any(float(p) <= 0 for p in s["proportions"]):
                raise ConfigError(where, f"set '{name}': proportions must be positive")
        elif "utts_per_lang" not in s:
            raise ConfigError(where, f"set '{name}' needs utts_per_lang (or proportions "
                              "with min_utts)")
        if s.get("channel", "train") not in cfg["channels"]:
            raise ConfigError(where, f"set '{name}': unknown channel family "
                              f"'{s.get('channel')}'", fix=f"one of {sorted(cfg['channels'])}")
        check_set_keys(cfg, name, where)


def lang_counts(s: dict) -> list[tuple[str, int]]:
    """Utterances per language: equal, or in the given proportions with the smallest class
    at `min_utts` (N_c = min_utts * p_c / p_min, rounded)."""
    langs = list(s["langs"])
    if "proportions" in s:
        props = [float(p) for p in s["proportions"]]
        pmin = min(props)
        return [(l, int(round(int(s["min_utts"]) * p / pmin))) for l, p in zip(langs, props)]
    return [(l, int(s["utts_per_lang"])) for l in langs]


def all_languages(cfg: dict) -> list[str]:
    return sorted({l for s in cfg["sets"].values() for l in s["langs"]})


def plan_set(cfg: dict, name: str) -> list[UttSpec]:
    s = cfg["sets"][name]
    if is_speaker_set(s):
        return plan_speaker_set(cfg, name)
    role = s.get("role", "train")
    mode = s.get("mode", "cut")
    n_spk = int(s.get("speakers_per_lang", 10))
    offset = int(s.get("speaker_offset", 0))
    specs, index = [], 0
    for lang, count in lang_counts(s):
        for k in range(count):
            rng = np.random.default_rng([int(cfg["seed"]), stable_int("plan", name), index])
            speech, words = 0.0, 0
            if mode == "cut":
                d = s["speech_s"]
                speech = float(d) if not isinstance(d, list) else float(rng.uniform(*d))
            else:
                words = int(rng.integers(int(s["words"][0]), int(s["words"][1]) + 1))
            specs.append(UttSpec(name, index, lang, offset + k % n_spk, role, mode,
                                 round(speech, 3), words, s.get("channel", "train")))
            index += 1
    return specs


def shards_of(specs: list[UttSpec], shard_size: int) -> list[list[UttSpec]]:
    return [specs[i:i + shard_size] for i in range(0, len(specs), shard_size)]
