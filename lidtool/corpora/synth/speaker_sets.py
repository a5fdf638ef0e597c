"""Speaker mode: sets of many speakers with a fixed number of utterances each (speaker
verification corpora, VoxCeleb-shaped).

A speaker-mode set says `speakers: N` and `utts_per_speaker: K` instead of `utts_per_lang`.
Speaker k speaks language langs[k mod L] (so the speakers are spread evenly over the
languages) and is speaker `speaker_offset + k // L` of that language and role. A speaker is
an espeak-ng speaker (variant, base pitch, pitch range, rate, word gap, volume: speakers.py)
plus a per-speaker transform drawn once from its own stream (seed, language, role, index):
`speaker_transform: spectral` (default; formant scaling, spectral tilt, breathiness, EQ:
spectral_transform.py), `world` (voice_transform.py; ~3x the cost) or `none`. Nothing of a
speaker depends on the set, so two test sets with the same role and offset hold the same
speakers (e.g. one in the training channel, one in the held-out channel), and train and test
roles never share a speaker (separate id ranges; test speakers also take the held-out espeak
variants). A `trials:` mapping makes the corpus stage write a trial list for the set
(lidtool.data.trials).
"""
from __future__ import annotations

import json

import numpy as np

from lidtool.corpora.synth.speakers import ROLE_CODES, make_speaker, stable_int
from lidtool.corpora.synth.spectral_transform import draw_spectral, spectral_knobs
from lidtool.corpora.synth.voice_transform import draw_transform, transform_knobs
from lidtool.errors import ConfigError

TRANSFORMS = ("spectral", "world", "none")
TRIAL_DEFAULTS = {"count": 20000, "target_fraction": 0.5, "same_lang_nontarget": True,
                  "seed": 1}
_EXCLUSIVE = ("utts_per_lang", "proportions", "min_utts", "speakers_per_lang",
              "synthesizers", "voices", "voice_transform", "heldout_synth_of", "skip_missing")


def is_speaker_set(s: dict) -> bool:
    return "speakers" in s


def check_speaker_set(cfg: dict, name: str, where: str) -> None:
    s = cfg["sets"][name]
    for key in ("speakers", "utts_per_speaker"):
        if not isinstance(s.get(key), int) or s[key] < 1:
            raise ConfigError(where, f"set '{name}' (speaker mode) needs {key}: a positive "
                              "integer")
    clash = [k for k in _EXCLUSIVE if k in s]
    if clash:
        raise ConfigError(where, f"set '{name}': speaker mode (speakers:) does not take "
                          f"{clash}", fix="speaker-mode sets are espeak-ng speakers with "
                          "speaker_transform; give speakers and utts_per_speaker only")
    if s.get("mode", "cut") != "cut":
        raise ConfigError(where, f"set '{name}': speaker mode needs mode: cut")
    kind = s.get("speaker_transform", "spectral")
    if kind not in TRANSFORMS:
        raise ConfigError(where, f"set '{name}': speaker_transform must be one of "
                          f"{list(TRANSFORMS)}")
    if kind != "none":                                  # unknown knobs fail at load time
        (spectral_knobs if kind == "spectral" else transform_knobs)(cfg, where)
    trials = s.get("trials")
    if trials is not None:
        if not isinstance(trials, dict) or set(trials) - set(TRIAL_DEFAULTS):
            raise ConfigError(where, f"set '{name}': trials must be a mapping with keys "
                              f"from {sorted(TRIAL_DEFAULTS)}")
        if s.get("role", "train") != "test":
            raise ConfigError(where, f"set '{name}': trials need role: test")


def trial_options(s: dict) -> dict | None:
    """The set's trial options with defaults filled in, or None (no trials)."""
    if s.get("trials") is None:
        return None
    return {**TRIAL_DEFAULTS, **s["trials"]}


def write_set_trials(set_dir, opts: dict) -> None:
    """trials, enroll.list, test.list of a speaker-mode test set (lidtool.data.trials)."""
    from lidtool.data.datadir import DataDir
    from lidtool.data.trials import make_trials, write_trials
    d = DataDir(set_dir)
    trials = make_trials(dict(d.utt2spk), int(opts["count"]), float(opts["target_fraction"]),
                         int(opts["seed"]),
                         utt2group=dict(d.utt2lang) if opts["same_lang_nontarget"] else None,
                         where=set_dir / "utt2spk")
    write_trials(set_dir, trials)


def plan_speaker_set(cfg: dict, name: str) -> list:
    from lidtool.corpora.synth.sets import UttSpec
    s = cfg["sets"][name]
    langs = list(s["langs"])
    role = s.get("role", "train")
    offset = int(s.get("speaker_offset", 0))
    specs = []
    for k in range(int(s["speakers"])):
        lang, spk = langs[k % len(langs)], offset + k // len(langs)
        for _ in range(int(s["utts_per_speaker"])):
            index = len(specs)
            rng = np.random.default_rng([int(cfg["seed"]), stable_int("plan", name), index])
            d = s["speech_s"]
            speech = float(d) if not isinstance(d, list) else float(rng.uniform(*d))
            specs.append(UttSpec(name, index, lang, spk, role, "cut", round(speech, 3), 0,
                                 s.get("channel", "train")))
    return specs


def speaker_transform(cfg: dict, s: dict, lang: str, role: str, index: int) -> dict | None:
    kind = s.get("speaker_transform", "spectral")
    if kind == "none":
        return None
    rng = np.random.default_rng([int(cfg["seed"]), stable_int("sv-transform", lang, role),
                                 index])
    if kind == "world":
        return draw_transform(transform_knobs(cfg), rng)
    return draw_spectral(spectral_knobs(cfg), rng)


def make_sv_speaker(cfg: dict, s: dict, lang: str, voice: str, role: str, index: int,
                    variants: list[str]):
    """The speaker of a speaker-mode set: espeak-ng settings + its transform."""
    from lidtool.corpora.synth.voices import SynthSpeaker
    espeak = make_speaker(lang, voice, role, index, int(cfg["seed"]), cfg["speakers"],
                          variants)
    transform = speaker_transform(cfg, s, lang, role, index)
    tag = stable_int(espeak.to_dict(), json.dumps(transform, sort_keys=True))
    return SynthSpeaker(f"{lang}-{ROLE_CODES[role]}{index:04d}-{tag % 16 ** 6:06x}", lang,
                        "espeak", voice, espeak, {}, transform)


def speaker_set_fingerprint(cfg: dict, s: dict) -> list:
    """What a speaker-mode set's shards depend on beyond their specs."""
    kind = s.get("speaker_transform", "spectral")
    knobs = {"world": transform_knobs, "spectral": spectral_knobs}.get(kind)
    return [{"speaker_transform": kind}, knobs(cfg) if knobs else None]
