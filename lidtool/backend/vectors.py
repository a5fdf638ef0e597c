"""Utterance vectors (ivector.scp, xvector.scp, any Kaldi vector scp) and their labels."""
from __future__ import annotations

from pathlib import Path

import kaldiio
import numpy as np

from lidtool.data.tables import read_table
from lidtool.errors import DataDirError, FeatureError
from lidtool.features.io import read_vector


def read_vectors(scp) -> tuple[list[str], np.ndarray]:
    """All vectors of `scp` as (utts, float64 [N, D]); bad entries name the scp line."""
    table = read_table(scp, require_sorted=False)
    if not table:
        raise FeatureError(scp, "no vectors")
    utts, rows, dim = [], [], None
    for utt, spec in table.items():
        line = table.lines[utt]
        v = read_vector(spec, where=(str(scp), line)).astype(np.float64)
        if v.size == 0:
            raise FeatureError(scp, f"entry '{utt}' is an empty vector", line=line)
        if dim is None:
            dim = v.size
        elif v.size != dim:
            raise FeatureError(scp, f"vector of '{utt}' has dimension {v.size}, earlier ones "
                               f"have {dim}", line=line)
        utts.append(utt)
        rows.append(v)
    order = np.argsort(np.array(utts), kind="stable")
    return [utts[i] for i in order], np.stack(rows)[order]


def labels_for(utts, utt2lang, what: str = "language") -> list[str]:
    """Label of each utterance from a Kaldi utt2lang (or utt2spk: `what="speaker"`); an
    utterance missing from the table is a DataDirError."""
    table = read_table(utt2lang)
    missing = [u for u in utts if u not in table]
    if missing:
        raise DataDirError(utt2lang, f"{len(missing)} utterance(s) with vectors have no "
                           f"{what}, e.g. '{missing[0]}'",
                           fix=f"use the {Path(utt2lang).name} of the data dir the vectors "
                           "came from")
    return [table[u] for u in utts]


def write_vectors(ark, scp, items) -> int:
    """Write (utt, float32 vector) pairs to `ark` and `scp` atomically; returns the count.

    The ark is written under a temporary name and renamed first, then the scp, so an
    existing scp always points at a complete ark.
    """
    from lidtool.fileio import atomic_open, atomic_path
    ark, scp = Path(ark), Path(scp)
    entries = []
    with atomic_path(ark) as tmp:
        with open(tmp, "wb") as f:
            for utt, vec in items:
                pos = f.tell()
                kaldiio.save_ark(f, {utt: np.asarray(vec, dtype=np.float32)})
                entries.append((utt, pos + len(utt.encode()) + 1))
    with atomic_open(scp) as f:
        for utt, off in sorted(entries):
            f.write(f"{utt} {ark.resolve()}:{off}\n")
    return len(entries)
