#!/usr/bin/env python3
"""Difficulty proxies of the synth_sv corpus (no DNN): EER of two feature-statistics
baselines on a set's trial list, as lidtool/corpora/synth/README.md reports them.

  stats-cosine: per utterance mean and standard deviation of the raw MFCCs over the voiced
                frames (vad.scp), minus the test set's mean vector, cosine score;
  stats-LDA:    the same statistics, LDA to --lda-dim trained on the training set's speakers
                (within-class whitening), length-normalised, cosine score.
Needs features and VAD of both sets (stage 2 of run.sh).

usage: local/proxy_eer.py [--lda-dim 100] <train-data-dir> <test-data-dir> [...]
"""
from __future__ import annotations

import argparse
import json

import numpy as np

from lidtool.data.tables import read_table
from lidtool.features.reader import FeatureReader
from lidtool.metrics.detection import eer
from lidtool.metrics.trials import read_trials


def stats(data_dir: str) -> tuple[list[str], np.ndarray]:
    reader = FeatureReader(data_dir, use_vad=True)
    utts, rows = reader.utts, []
    for utt in utts:
        m = reader.matrix(utt)
        voiced = m[reader.vad(utt) > 0.5]
        voiced = voiced if len(voiced) > 1 else m
        rows.append(np.concatenate([voiced.mean(0), voiced.std(0)]))
    return utts, np.asarray(rows, dtype=np.float64)


def lda(x: np.ndarray, labels: list[str], dim: int) -> tuple[np.ndarray, np.ndarray]:
    mean = x.mean(0)
    xc = x - mean
    classes = sorted(set(labels))
    idx = np.array([classes.index(l) for l in labels])
    means = np.stack([xc[idx == c].mean(0) for c in range(len(classes))])
    within = xc - means[idx]
    sw = within.T @ within / len(x) + 1e-6 * np.eye(x.shape[1])
    sb = means.T @ means / len(classes)
    evals, evecs = np.linalg.eigh(sw)
    white = evecs / np.sqrt(evals)
    b_evals, b_evecs = np.linalg.eigh(white.T @ sb @ white)
    proj = white @ b_evecs[:, ::-1][:, :dim]
    return mean, proj


def cosine_eer(trials_path: str, utts: list[str], vecs: np.ndarray) -> float:
    trials = read_trials(trials_path)
    vecs = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
    pos = {u: i for i, u in enumerate(utts)}
    scores = np.einsum("ij,ij->i", vecs[[pos[u] for u in trials.enrol]],
                       vecs[[pos[u] for u in trials.test]])
    return eer(scores[trials.is_target], scores[~trials.is_target])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lda-dim", type=int, default=100)
    p.add_argument("train_dir")
    p.add_argument("test_dirs", nargs="+")
    args = p.parse_args()
    train_utts, train_x = stats(args.train_dir)
    u2s = read_table(f"{args.train_dir}/utt2spk")
    dim = min(args.lda_dim, train_x.shape[1])
    mean, proj = lda(train_x, [u2s[u] for u in train_utts], dim)
    out = {}
    for d in args.test_dirs:
        utts, x = stats(d)
        out[d] = {"stats-cosine": cosine_eer(f"{d}/trials", utts, x - x.mean(0)),
                  "stats-LDA": cosine_eer(f"{d}/trials", utts, (x - mean) @ proj)}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
