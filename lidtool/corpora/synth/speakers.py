"""Synthetic speakers: an espeak-ng voice variant with its own pitch, range, speed and gaps.

A speaker is drawn once from its own random stream (corpus seed, language, role, index) and
then fixed: every utterance it says uses the same variant (formants, voicing source) and the
same base pitch, pitch range, speaking rate, word gap and volume; utterances only jitter the
rate a little. Roles (`train`, `test`, `asr`) use separate id ranges, and a share of the
variants is held apart for test speakers, so test voices are unseen in training.
"""
from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass

import numpy as np

from lidtool.errors import ConfigError

# variants that sound like (synthetic) people; robots, whisper and effect voices are left out
DEFAULT_VARIANTS = [
    "Alex", "Alicia", "Andrea", "Andy", "Annie", "AnxiousAndy", "Denis", "Diogo", "Gene",
    "Gene2", "Henrique", "Hugo", "Jacky", "Lee", "Marco", "Mario", "Michael", "Mike",
    "Nguyen", "RicishayMax", "Storm", "adam", "anika", "antonio", "aunty", "belinda",
    "benjamin", "boris", "caleb", "croak", "david", "ed", "edward", "edward2", "f1", "f2",
    "f3", "f4", "f5", "grandma", "grandpa", "gustave", "iven", "iven2", "iven3", "iven4",
    "john", "kaukovalta", "klatt", "klatt2", "klatt3", "klatt4", "klatt5", "klatt6", "linda",
    "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "marcelo", "max", "michel", "miguel",
    "norbert", "pablo", "paul", "pedro", "quincy", "rob", "robert", "sandro", "shelby",
    "steph", "steph2", "steph3", "travis", "victor", "zac"]

ROLE_CODES = {"train": "tr", "test": "te", "asr": "as"}


@dataclass(frozen=True)
class Speaker:
    id: str
    lang: str
    voice: str          # espeak voice name with variant, e.g. 'en-us+f3'
    variant: str
    rate: int           # words per minute (espeak 80..450)
    pitch: int          # 0..100
    range: int          # 0..100
    wordgap: int        # units of 10 ms
    volume: int         # 0..200

    def params(self) -> dict[str, int]:
        return {"rate": self.rate, "pitch": self.pitch, "range": self.range,
                "wordgap": self.wordgap, "volume": self.volume}

    def to_dict(self) -> dict:
        return asdict(self)


def stable_int(*parts) -> int:
    """A platform-independent 32-bit hash of `parts` (Python's hash() is salted)."""
    return zlib.crc32("\x1f".join(str(p) for p in parts).encode("utf-8"))


def split_variants(variants: list[str], heldout_fraction: float, seed: int
                   ) -> tuple[list[str], list[str]]:
    """(variants for train/asr speakers, variants only test speakers use)."""
    if not variants:
        raise ConfigError("speakers.variants", "no voice variants given")
    order = sorted(variants)
    perm = np.random.default_rng([seed, stable_int("variants")]).permutation(len(order))
    n_held = int(round(heldout_fraction * len(order)))
    if n_held >= len(order):
        raise ConfigError("speakers.heldout_variant_fraction",
                          f"holding out {n_held} of {len(order)} variants leaves none for "
                          "training", fix="use a fraction below 1")
    held = sorted(order[i] for i in perm[:n_held])
    return sorted(order[i] for i in perm[n_held:]), held


def make_speaker(lang: str, voice: str, role: str, index: int, seed: int, cfg: dict,
                 variants: list[str]) -> Speaker:
    """Speaker `index` of `role` for language `lang`, from the ranges in `cfg`."""
    if role not in ROLE_CODES:
        raise ConfigError("speakers", f"unknown speaker role '{role}'")
    rng = np.random.default_rng([seed, stable_int("speaker", lang, role), index])

    def draw(key, default):
        lo, hi = cfg.get(key, default)
        return int(round(rng.uniform(lo, hi)))

    variant = variants[int(rng.integers(len(variants)))]
    return Speaker(
        id=f"{lang}-{ROLE_CODES[role]}{index:04d}", lang=lang, voice=f"{voice}+{variant}",
        variant=variant, rate=draw("rate", (130, 230)), pitch=draw("pitch", (20, 80)),
        range=draw("range", (20, 90)), wordgap=draw("wordgap", (0, 3)),
        volume=draw("volume", (80, 120)))
