"""Scoring the recogniser: frame accuracy of alignments against true phone timings and
phone error rate of phone-loop output.

True timings come from a CTM (`utt channel start duration phone`, times from the start
of the utterance) or a lhotse supervision/cut manifest whose supervisions carry
`alignment["phone"]` items (timed from the recording start; made relative to the
supervision here). A frame
belongs to the phone whose interval holds the frame's centre (t * shift + length / 2);
frames that no interval covers count as silence.
"""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import kaldialign
import numpy as np

from lidtool.errors import DataDirError


def read_timings(path) -> dict[str, list[tuple[float, float, str]]]:
    """{utt: [(start, duration, phone), ...]} sorted by start."""
    path = Path(path)
    if not path.is_file():
        raise DataDirError(path, "timing file does not exist")
    out: dict[str, list] = {}
    if path.name.endswith((".jsonl", ".jsonl.gz")):
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as err:
                    raise DataDirError(path, f"bad JSON: {err}", line=lineno) from None
                sups = rec.get("supervisions", [rec])
                for sup in sups:
                    ali = (sup.get("alignment") or {}).get("phone")
                    if ali is None:
                        continue
                    # alignment items are timed from the recording start; features
                    # start at the supervision (inside a cut: cut start + its offset)
                    off = float(sup.get("start", 0.0))
                    if "supervisions" in rec:
                        off += float(rec.get("start", 0.0))
                    out.setdefault(sup["id"], []).extend(
                        (round((float(a[1]) if isinstance(a, list) else float(a["start"]))
                               - off, 6),
                         float(a[2]) if isinstance(a, list) else float(a["duration"]),
                         a[0] if isinstance(a, list) else a["symbol"]) for a in ali)
    else:
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                parts = line.split()
                if not parts:
                    continue
                if len(parts) < 5:
                    raise DataDirError(path, "expected 'utt channel start duration phone'",
                                       line=lineno)
                try:
                    start, dur = float(parts[2]), float(parts[3])
                except ValueError:
                    raise DataDirError(path, "start/duration are not numbers",
                                       line=lineno) from None
                out.setdefault(parts[0], []).append((start, dur, parts[4]))
    if not out:
        raise DataDirError(path, "no phone timings found")
    return {u: sorted(v) for u, v in out.items()}


def timings_to_frames(items, num_frames: int, silence: str, *, frame_shift: float = 0.01,
                      frame_length: float = 0.025) -> list[str]:
    centres = np.arange(num_frames) * frame_shift + frame_length / 2
    labels = [silence] * num_frames
    for start, dur, phone in items:
        lo = int(np.searchsorted(centres, start, side="left"))
        hi = int(np.searchsorted(centres, start + dur, side="left"))
        for t in range(lo, min(hi, num_frames)):
            labels[t] = phone
    return labels


def frame_accuracy(hyp: dict[str, list[str]], ref: dict[str, list[str]]) -> tuple[float, int]:
    """Fraction of frames whose phone agrees, over utterances present in both."""
    correct = total = 0
    for utt, h in hyp.items():
        if utt not in ref:
            continue
        r = ref[utt]
        n = min(len(h), len(r))
        correct += sum(a == b for a, b in zip(h[:n], r[:n]))
        total += max(len(h), len(r))
    return (correct / total if total else 0.0), total


def frame_accuracy_detail(hyp: dict[str, list[str]], ref: dict[str, list[str]],
                          silence: str, tolerance: int = 1) -> dict[str, float]:
    """Frame accuracy on the reference's non-silence frames, and the accuracy when a
    frame also counts as right if its label occurs in the reference within
    +-`tolerance` frames (boundary placement off by up to tolerance * frame shift)."""
    speech_ok = speech = tol_ok = total = 0
    for utt, h in hyp.items():
        if utt not in ref:
            continue
        r = ref[utt]
        n = min(len(h), len(r))
        total += max(len(h), len(r))
        for t in range(n):
            if r[t] != silence:
                speech += 1
                speech_ok += h[t] == r[t]
            tol_ok += h[t] in r[max(0, t - tolerance):t + tolerance + 1]
    return {"speech_frame_accuracy": speech_ok / speech if speech else 0.0,
            f"frame_accuracy_within_{tolerance}": tol_ok / total if total else 0.0}


def phone_error_rate(hyp: dict[str, list[str]], ref: dict[str, list[str]],
                     ignore: set[str] = frozenset()) -> tuple[float, int, int]:
    """(PER, errors, reference length); phones in `ignore` (silence) are dropped first."""
    errors = length = 0
    for utt, r in ref.items():
        if utt not in hyp:
            continue
        rr = [p for p in r if p not in ignore]
        hh = [p for p in hyp[utt] if p not in ignore]
        errors += kaldialign.edit_distance(rr, hh)["total"]
        length += len(rr)
    return (errors / length if length else 0.0), errors, length

