"""One-file model and statistics storage: an .npz archive with a format name and version.

UBMs, i-vector extractors, their accumulated statistics and trained back-ends are all
dictionaries of arrays; they are stored with `np.savez` (no pickle) behind an atomic rename.
A file that is missing, truncated, not an npz, of another kind or of a newer version gives
a `CheckpointError` naming the file.
"""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np

from lidtool.errors import CheckpointError
from lidtool.fileio import atomic_open

FORMAT_VERSION = 1


def save_npz(path, kind: str, arrays: dict, meta: dict | None = None) -> None:
    """Write `arrays` (name -> array) plus `kind`, `version` and json `meta` atomically."""
    payload = {k: np.asarray(v) for k, v in arrays.items()}
    for reserved in ("__kind__", "__version__", "__meta__"):
        if reserved in payload:
            raise ValueError(f"array name {reserved} is reserved")
    payload["__kind__"] = np.array(kind)
    payload["__version__"] = np.array(FORMAT_VERSION)
    payload["__meta__"] = np.array(json.dumps(meta or {}, sort_keys=True))
    buf = io.BytesIO()
    np.savez(buf, **payload)
    with atomic_open(path, "wb") as f:
        f.write(buf.getvalue())


def load_npz(path, kinds: str | tuple[str, ...]) -> tuple[str, dict, dict]:
    """Read a file written by `save_npz`; returns (kind, arrays, meta).

    `kinds` lists the accepted kinds; anything else is a CheckpointError naming the file.
    """
    path = Path(path)
    kinds = (kinds,) if isinstance(kinds, str) else tuple(kinds)
    if not path.is_file():
        raise CheckpointError(path, "model/statistics file does not exist")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, ValueError, EOFError, OSError, KeyError) as err:
        raise CheckpointError(path, f"cannot read (truncated or not a lidtool .npz file: {err})",
                              fix="delete it and re-run the step that makes it") from None
    if "__kind__" not in arrays or "__version__" not in arrays:
        raise CheckpointError(path, "not a lidtool model file (no kind/version key)")
    kind = str(arrays.pop("__kind__"))
    version = int(arrays.pop("__version__"))
    meta = json.loads(str(arrays.pop("__meta__"))) if "__meta__" in arrays else {}
    if kind not in kinds:
        raise CheckpointError(path, f"holds a '{kind}', expected {' or '.join(kinds)}")
    if version > FORMAT_VERSION:
        raise CheckpointError(path, f"format version {version} is newer than this lidtool "
                              f"({FORMAT_VERSION})", fix="upgrade lidtool")
    return kind, arrays, meta


def require(arrays: dict, path, names) -> None:
    missing = [n for n in names if n not in arrays]
    if missing:
        raise CheckpointError(path, f"model file lacks arrays {missing}")


def sum_stats_files(paths, load, shape_of):
    """Sum the statistics files that parallel jobs wrote: `load(path)` reads one (an object
    with `.add(other)`), `shape_of(stats)` gives the shape every job must agree on."""
    total = None
    for p in paths:
        s = load(p)
        if total is None:
            total = s
        elif shape_of(s) != shape_of(total):
            raise CheckpointError(p, f"statistics of shape {tuple(shape_of(s))} do not match "
                                  f"the other jobs' {tuple(shape_of(total))}",
                                  fix="remove stale acc.* files and re-run the iteration")
        else:
            total.add(s)
    if total is None:
        raise ValueError("no statistics files given")
    return total
