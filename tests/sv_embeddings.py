"""Synthetic speaker embeddings for the verification tests: Gaussian speakers in a space
with a shared offset, written as Kaldi vector scp files like extract-embeddings' output."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from lidtool.backend.vectors import write_vectors

DIM = 24


def speaker_vectors(seed: int, speakers: int, per_speaker: int, prefix: str,
                    noise: float = 0.8, offset: float = 3.0) -> tuple[list[str], np.ndarray, list[str]]:
    """(utterance ids '<prefix>NNN-UU', vectors [N, DIM], speaker ids '<prefix>NNN'):
    identity (std 3 per dimension) in a random 12-dimensional subspace, plus `offset` in
    every dimension, shared by everyone, plus isotropic noise of std `noise`."""
    rng = np.random.default_rng(seed)
    basis = np.random.default_rng(1234).normal(size=(12, DIM)) / np.sqrt(12)
    identity = rng.normal(size=(speakers, 12)) @ basis * 3.0
    utts, rows, spks = [], [], []
    for s in range(speakers):
        for u in range(per_speaker):
            utts.append(f"{prefix}{s:03d}-{u:02d}")
            spks.append(f"{prefix}{s:03d}")
            rows.append(offset + identity[s] + noise * rng.normal(size=DIM))
    return utts, np.array(rows), spks


def write_set(directory: Path, name: str, utts, X, spks=None) -> Path:
    """name.scp (+ name.ark, and name.utt2spk when `spks` is given); returns the scp."""
    directory.mkdir(parents=True, exist_ok=True)
    scp = directory / f"{name}.scp"
    write_vectors(directory / f"{name}.ark", scp, zip(utts, X))
    if spks is not None:
        (directory / f"{name}.utt2spk").write_text(
            "".join(f"{u} {s}\n" for u, s in sorted(zip(utts, spks))))
    return scp


def all_pairs_trials(utts, spks, path: Path | None = None) -> list[tuple[str, str, bool]]:
    """Every unordered pair of distinct utterances, keyed by speaker; written if `path`."""
    trials = [(utts[i], utts[j], spks[i] == spks[j])
              for i in range(len(utts)) for j in range(i + 1, len(utts))]
    if path is not None:
        path.write_text("".join(f"{a} {b} {'target' if t else 'nontarget'}\n"
                                for a, b, t in trials))
    return trials
