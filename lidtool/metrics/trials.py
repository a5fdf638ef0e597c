"""Speaker-verification trial lists, trial score files and their metrics.

Trial list (Kaldi / WeSpeaker / VoxCeleb1-O style), one trial per line:
    <enrol> <test> target|nontarget
or, for scoring without keys, `<enrol> <test>` on every line. Trial score file:
    <enrol> <test> <score>
in the trial list's order. Metrics (all rates fractions in [0, 1]): EER and the normalised
minDCF (C_miss = C_fa = 1) at each p_target of DCF_P_TARGETS, by lidtool.metrics.detection.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lidtool.errors import InputError
from lidtool.fileio import atomic_open
from lidtool.metrics.detection import eer, min_dcf

DCF_P_TARGETS = (0.05, 0.01, 0.001)
KEYS = {"target": True, "nontarget": False}
VOXCELEB_FIX = ("the original VoxCeleb lists are '<1|0> <enrol> <test>': awk '{print $2, $3, "
                "($1 == 1 ? \"target\" : \"nontarget\")}'")


class TrialsError(InputError):
    """A trial list is malformed or names an enrolment model / test utterance we lack."""


@dataclass
class Trials:
    """`enrol[k]`, `test[k]`, `is_target[k]` (None for a list without keys) and `lines[k]`
    (the line of trial k in `path`)."""
    path: str
    enrol: list[str]
    test: list[str]
    is_target: np.ndarray | None
    lines: list[int]

    def __len__(self) -> int:
        return len(self.enrol)

    def error(self, k: int, message: str, fix: str | None = None) -> TrialsError:
        return TrialsError(self.path, message, line=self.lines[k], fix=fix)

    def require_keys(self, what: str) -> np.ndarray:
        if self.is_target is None:
            raise TrialsError(self.path, f"{what} needs target/nontarget keys; the trial "
                              f"list has only <enrol> <test> columns",
                              fix="give a keyed trial list or drop the metrics options")
        if self.is_target.all() or not self.is_target.any():
            kind = "target" if self.is_target.all() else "nontarget"
            raise TrialsError(self.path, f"{what} needs target and nontarget trials; every "
                              f"trial is {kind}")
        return self.is_target


def read_trials(path) -> Trials:
    """Read a trial list; bad lines, mixed 2/3-column lines, unknown keys and repeated
    trials are TrialsErrors naming the file and line."""
    path = Path(path)
    if not path.is_file():
        raise TrialsError(path, "trial list does not exist")
    enrol, test, keys, lines = [], [], [], []
    seen: dict[tuple[str, str], int] = {}
    columns = None
    with open(path, encoding="utf-8", errors="replace") as f:
        for lineno, raw in enumerate(f, 1):
            parts = raw.split()
            if len(parts) not in (2, 3):
                raise TrialsError(path, f"expected '<enrol> <test> target|nontarget' or "
                                  f"'<enrol> <test>', got {len(parts)} field(s): "
                                  f"{raw.strip()[:80]!r}", line=lineno)
            if columns is None:
                columns = len(parts)
            elif len(parts) != columns:
                raise TrialsError(path, f"{len(parts)} fields, but line 1 has {columns}",
                                  line=lineno, fix="give every trial a key, or none")
            if columns == 3:
                if parts[2] not in KEYS:
                    voxceleb = parts[0] in ("0", "1")
                    raise TrialsError(path, f"key '{parts[2]}' is neither 'target' nor "
                                      f"'nontarget'", line=lineno, fix=VOXCELEB_FIX
                                      if voxceleb else None)
                keys.append(KEYS[parts[2]])
            pair = (parts[0], parts[1])
            if pair in seen:
                raise TrialsError(path, f"trial {parts[0]} {parts[1]} repeats line "
                                  f"{seen[pair]}", line=lineno, fix="remove the duplicate")
            seen[pair] = lineno
            enrol.append(parts[0])
            test.append(parts[1])
            lines.append(lineno)
    if not enrol:
        raise TrialsError(path, "trial list is empty")
    is_target = np.array(keys, dtype=bool) if columns == 3 else None
    return Trials(str(path), enrol, test, is_target, lines)


def write_trial_scores(path, trials: Trials, scores) -> None:
    """`<enrol> <test> <score>` per trial, in trial order, atomically (repr-exact floats)."""
    with atomic_open(path) as f:
        for e, t, s in zip(trials.enrol, trials.test, np.asarray(scores, dtype=np.float64)):
            f.write(f"{e} {t} {float(s)!r}\n")


def verification_metrics(scores, is_target, p_targets=DCF_P_TARGETS) -> dict:
    """EER, minDCF (and its threshold) per p_target, and trial counts."""
    scores = np.asarray(scores, dtype=np.float64)
    is_target = np.asarray(is_target, dtype=bool)
    tar, non = scores[is_target], scores[~is_target]
    dcf = {str(p): min_dcf(tar, non, p) for p in p_targets}
    return {"eer": eer(tar, non),
            "min_dcf": {p: v[0] for p, v in dcf.items()},
            # None: the minimum is reached by rejecting every trial (threshold +inf)
            "min_dcf_threshold": {p: v[1] if np.isfinite(v[1]) else None
                                  for p, v in dcf.items()},
            "c_miss": 1.0, "c_fa": 1.0,
            "n_trials": int(scores.size), "n_target": int(tar.size),
            "n_nontarget": int(non.size)}
