"""docs/USING.md's walkthrough, run as written (tests/own_data_walkthrough.sh) on two small
generated data dirs: from wav.scp/utt2spk/utt2lang to scores, model-info and identify."""
from __future__ import annotations

import os

from conftest import REPO, make_wav, write_lines
from lidtool.metrics.scores import read_scores

LANGS = {"low": (220.0, 330.0), "high": (1100.0, 1500.0)}


def _data_dir(root, name, per_lang, seed):
    d = root / "data" / name
    d.mkdir(parents=True)
    wav, u2s, u2l = [], [], []
    for lang, (f0, f1) in LANGS.items():
        for i in range(per_lang):
            utt = f"{lang}_s{i % 2}-{name}-{i:02d}"
            path = make_wav(root / "audio" / name / f"{utt}.wav", 1.5,
                            f0 + (f1 - f0) * i / per_lang, seed=seed + i)
            wav.append(f"{utt} {path}")
            u2s.append(f"{utt} {lang}_s{i % 2}")
            u2l.append(f"{utt} {lang}")
    # deliberately unsorted spk order is fine: the walkthrough runs fix_data_dir.sh first
    write_lines(d / "wav.scp", sorted(wav))
    write_lines(d / "utt2spk", sorted(u2s))
    write_lines(d / "utt2lang", sorted(u2l))
    return d


def test_walkthrough_as_documented(tmp_path, run_streamed):
    work = tmp_path / "lid_mydata"
    _data_dir(work, "mytrain", per_lang=6, seed=0)
    test = _data_dir(work, "mytest", per_lang=3, seed=100)
    env = {**os.environ, "nj": "2", "train_opts": "--mini true --overrides train.steps=20"}
    proc = run_streamed([str(REPO / "tests" / "own_data_walkthrough.sh"), str(work)],
                        env=env, timeout=900, label="walkthrough")
    assert proc.returncode == 0, proc.stdout[-4000:]
    exp = work / "exp" / "resnet_wadcl"
    for name in ("final.pt", ".done", "log/train.log"):
        assert (exp / name).is_file(), name
    for name in ("feats.scp", "vad.scp"):
        assert (test / name).is_file(), name      # the test set got features and VAD too
    scores = read_scores(exp / "mytest" / "scores")
    assert len(scores.utts) == 6 and sorted(scores.langs) == ["high", "low"]
    assert "classes:      2 from utt2lang: high low" in proc.stdout
    ident = (exp / "mytest" / "identify.txt").read_text().splitlines()
    assert len(ident) == 6 and all(line.split()[1] in LANGS for line in ident)
    # the terminal saw the training's progress line
    assert "exp/resnet_wadcl: step 20/20 (100%)" in proc.stdout
