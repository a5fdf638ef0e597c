"""Kaldi ark/scp feature I/O: checked readers and an atomic per-job ark/scp writer.

Readers wrap kaldiio and turn unreadable or non-finite matrices into FeatureError naming
the rxspecifier (and the scp file/line when the caller gives it).

`ArkScpWriter` writes `<dir>/<prefix>_<name>.<job>.ark` and `.scp` (Kaldi's
`raw_mfcc_train.1.ark` naming). The ark goes to a temp file that is renamed at the end, and
the scp (which names the ark by its *final* absolute path) is written last, so a failing
job leaves neither file under its final name.
"""
from __future__ import annotations

import os
from pathlib import Path

import kaldiio
import numpy as np
from kaldiio import matio

from lidtool.errors import FeatureError
from lidtool.fileio import atomic_open, atomic_path


def _load(rxspec: str, where, what: str) -> np.ndarray:
    path, line = where if where else (rxspec, None)
    try:
        value = kaldiio.load_mat(rxspec)
    except FileNotFoundError:
        raise FeatureError(path, f"{what} '{rxspec}' does not exist", line=line,
                           fix="re-run the feature step that wrote it") from None
    except Exception as err:  # kaldiio raises assorted errors on truncated/garbled arks
        raise FeatureError(path, f"cannot read {what} '{rxspec}': {err}", line=line) from None
    if isinstance(value, tuple):  # wav-type entries come back as (rate, samples)
        raise FeatureError(path, f"'{rxspec}' holds audio, not a {what}", line=line)
    value = np.asarray(value)
    if not np.all(np.isfinite(value)):
        bad = int(np.count_nonzero(~np.isfinite(value)))
        raise FeatureError(path, f"{what} '{rxspec}' contains {bad} NaN/Inf values",
                           line=line, fix="recompute it (check the audio and the config)")
    return value


def read_matrix(rxspec: str, where: tuple[str, int | None] | None = None) -> np.ndarray:
    """A float32 [T, D] matrix from an rxspecifier (`file.ark:offset`, a pipe...).
    `where` = (scp file, line) of the entry, named in errors."""
    mat = _load(str(rxspec), where, "matrix")
    if mat.ndim != 2:
        path, line = where if where else (rxspec, None)
        raise FeatureError(path, f"'{rxspec}' is not a matrix (shape {mat.shape})", line=line)
    return mat.astype(np.float32, copy=False)


def read_vector(rxspec: str, where: tuple[str, int | None] | None = None) -> np.ndarray:
    """A float32 [T] vector (vad.scp, ivector.scp...) from an rxspecifier."""
    vec = _load(str(rxspec), where, "vector")
    if vec.ndim == 2 and 1 in vec.shape:
        vec = vec.reshape(-1)
    if vec.ndim != 1:
        path, line = where if where else (rxspec, None)
        raise FeatureError(path, f"'{rxspec}' is not a vector (shape {vec.shape})", line=line)
    return vec.astype(np.float32, copy=False)


def ark_scp_paths(ark_dir, name: str, job: int | str, prefix: str = "raw") -> tuple[Path, Path]:
    base = Path(ark_dir).resolve() / f"{prefix}_{name}.{job}"
    return base.with_name(base.name + ".ark"), base.with_name(base.name + ".scp")


class ArkScpWriter:
    """`with ArkScpWriter(dir, name, job) as w: w.write(key, array)`.

    Keys must come in sorted order (they do when iterating a data dir) and be unique.
    On an exception inside the block nothing is left under the final names.
    """

    def __init__(self, ark_dir, name: str, job: int | str = 1, prefix: str = "raw"):
        self.ark, self.scp = ark_scp_paths(ark_dir, name, job, prefix)
        self.entries: list[tuple[str, int]] = []
        self._ark_ctx = None
        self._f = None

    def __enter__(self):
        self.ark.parent.mkdir(parents=True, exist_ok=True)
        self._ark_ctx = atomic_path(self.ark)
        tmp = self._ark_ctx.__enter__()
        self._f = open(tmp, "wb")
        return self

    def write(self, key: str, array: np.ndarray) -> None:
        if not key or any(c.isspace() for c in key):
            raise ValueError(f"bad ark key {key!r}")
        if self.entries and key <= self.entries[-1][0]:
            raise ValueError(f"keys must be written sorted and unique: '{key}' after "
                             f"'{self.entries[-1][0]}'")
        array = np.asarray(array, dtype=np.float32)
        self._f.write(key.encode("utf-8") + b" ")
        offset = self._f.tell()
        matio.write_array(self._f, array)
        self.entries.append((key, offset))

    def __exit__(self, exc_type, exc, tb):
        self._f.close()
        if exc_type is not None:
            self._ark_ctx.__exit__(exc_type, exc, tb)
            return False
        # Remove a stale scp first so that an scp never points into a different ark.
        if self.scp.exists():
            os.unlink(self.scp)
        self._ark_ctx.__exit__(None, None, None)
        with atomic_open(self.scp) as f:
            for key, offset in self.entries:
                f.write(f"{key} {self.ark}:{offset}\n")
        return False


def split_job(data_dir) -> tuple[str, int]:
    """(data name, job number) of a data dir: `data/train/split4/3` -> ("train", 3);
    a dir that is not a split part -> (its name, 1)."""
    p = Path(data_dir).resolve()
    parent = p.parent.name
    if p.name.isdigit() and parent.startswith("split") and \
            parent[5:].replace("spk", "").replace("utt", "").isdigit():
        return p.parent.parent.name, int(p.name)
    return p.name, 1
