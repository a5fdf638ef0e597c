"""Speaker-verification trial lists (VoxCeleb1-O style) for a data dir.

A trial pairs two utterances: `<enrol_utt> <test_utt> target|nontarget` (target: same
speaker). Every utterance may appear on either side, as in VoxCeleb1-O. Target trials are
drawn without replacement from all unordered pairs of different utterances of one speaker;
nontarget trials from pairs of different speakers — within the same group (e.g. language,
`utt2group`) when one is given, so that a nontarget trial is not made easy by the language
alone. The list is a pure function of (utt2spk, count, target fraction, seed, groups); it is
written sorted, with the enrolment side's and the test side's utterances as lists beside it.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from lidtool.errors import DataDirError
from lidtool.fileio import atomic_open

TRIAL_FILES = ("trials", "enroll.list", "test.list")


def _target_pairs(spk2utts: dict[str, list[str]]) -> list[tuple[str, str]]:
    pairs = []
    for spk in sorted(spk2utts):
        utts = spk2utts[spk]
        pairs.extend((a, b) for i, a in enumerate(utts) for b in utts[i + 1:])
    return pairs


def make_trials(utt2spk: dict[str, str], count: int, target_fraction: float = 0.5,
                seed: int = 1, utt2group: dict[str, str] | None = None,
                where="utt2spk") -> list[tuple[str, str, str]]:
    """`count` trials, round(count * target_fraction) of them target, each pair at most once.

    A request the data cannot meet (too few same-speaker pairs, one speaker only, a group
    with one speaker) is a DataDirError naming `where`."""
    if not 0.0 < target_fraction < 1.0:
        raise DataDirError(where, f"target fraction {target_fraction} is not inside (0, 1)")
    spk2utts: dict[str, list[str]] = {}
    for utt in sorted(utt2spk):
        spk2utts.setdefault(utt2spk[utt], []).append(utt)
    n_target = int(round(count * target_fraction))
    n_non = count - n_target
    rng = np.random.default_rng([int(seed), 7001])
    pairs = _target_pairs(spk2utts)
    if n_target > len(pairs):
        raise DataDirError(where, f"{n_target} target trials asked for, but the "
                           f"{len(spk2utts)} speakers have only {len(pairs)} pairs of "
                           "utterances", fix="fewer trials, or more utterances per speaker")
    chosen = rng.choice(len(pairs), size=n_target, replace=False)
    trials = {}
    for i in sorted(chosen):
        a, b = pairs[i]
        trials[(a, b) if rng.random() < 0.5 else (b, a)] = "target"
    groups: dict[str, list[str]] = {}
    for utt in sorted(utt2spk):
        groups.setdefault(utt2group[utt] if utt2group else "", []).append(utt)
    pools = [g for g in sorted(groups) if len({utt2spk[u] for u in groups[g]}) > 1]
    if n_non and not pools:
        raise DataDirError(where, "no nontarget trials possible: every group holds one "
                           "speaker", fix="more speakers, or nontargets across groups")
    weights = np.array([len(groups[g]) for g in pools], dtype=float)
    weights /= weights.sum()
    made, tries = 0, 0
    while made < n_non:
        tries += 1
        if tries > 50 * n_non + 1000:
            raise DataDirError(where, f"could not draw {n_non} distinct nontarget trials",
                               fix="fewer trials")
        utts = groups[pools[int(rng.choice(len(pools), p=weights))]]
        a, b = utts[int(rng.integers(len(utts)))], utts[int(rng.integers(len(utts)))]
        if utt2spk[a] == utt2spk[b] or (a, b) in trials or (b, a) in trials:
            continue
        trials[(a, b)] = "nontarget"
        made += 1
    return sorted((a, b, kind) for (a, b), kind in trials.items())


def write_trials(out_dir, trials: list[tuple[str, str, str]]) -> None:
    """<out_dir>/trials, enroll.list (enrolment-side utterances), test.list (test side)."""
    out_dir = Path(out_dir)
    with atomic_open(out_dir / "trials") as f:
        f.writelines(f"{a} {b} {kind}\n" for a, b, kind in trials)
    for name, side in (("enroll.list", 0), ("test.list", 1)):
        with atomic_open(out_dir / name) as f:
            f.writelines(f"{u}\n" for u in sorted({t[side] for t in trials}))
