"""steps/train_nnet.sh and steps/infer_nnet.sh with a recipe config's mini variant."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

from lidtool.metrics.scores import read_scores
from test_train_data import make_feats_dir

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "egs" / "synth_lid" / "conf"


def _run(args, **kw):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(args, cwd=REPO, capture_output=True, text=True, env=env,
                          timeout=240, **kw)


def test_train_and_infer_scripts(tmp_path):
    data = make_feats_dir(tmp_path / "train", counts=(8, 5, 3), frames=(60, 120))
    test = make_feats_dir(tmp_path / "test", counts=(3, 3, 3), seed=5)
    exp = tmp_path / "exp" / "resnet_wadcl"
    train = ["steps/train_nnet.sh", "--mini", "true", "--overrides", "train.steps=12",
             "--progress-every", "1", str(CONF / "resnet_wadcl.yaml"), str(data), str(exp)]
    proc = _run(train)
    assert proc.returncode == 0, proc.stderr[-2000:]
    # the terminal sees the progress, not only log/train.log
    assert f"{exp}: step 12/12 (100%), loss " in proc.stderr
    for name in ("final.pt", "config.yaml", "lang2id", "train_log.jsonl", "train_curves.png",
                 ".done", "log/train.log"):
        assert (exp / name).is_file(), name
    assert "steps/train_nnet.sh --mini true --overrides train.steps=12" in \
        (exp / "run.cmd").read_text().replace("\\ ", " ")
    assert len((exp / "train_log.jsonl").read_text().splitlines()) == 12
    again = _run(train)
    assert again.returncode == 0 and "skipping" in again.stderr
    out = tmp_path / "out"
    proc = _run(["steps/infer_nnet.sh", "--nj", "2", "--embeddings", "true",
                 str(exp / "final.pt"), str(test), str(out)])
    assert proc.returncode == 0, proc.stderr[-2000:]
    scores = read_scores(out / "scores")
    assert len(scores.utts) == 9 and scores.langs == ["lang0", "lang1", "lang2"]
    assert len((out / "xvector.scp").read_text().splitlines()) == 9
    assert not list(out.glob("scores.[0-9]*"))
    # several data dirs in one run: the done one is skipped, the others are scored by the
    # same jobs and give the scores a run of their own gives
    test2 = make_feats_dir(tmp_path / "test2", counts=(2, 2, 2), seed=6)
    out2, single = tmp_path / "out2", tmp_path / "single"
    proc = _run(["steps/infer_nnet.sh", "--nj", "2", "--embeddings", "true",
                 str(exp / "final.pt"), str(test), str(out), str(test2), str(out2)])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"{out} is done; skipping" in proc.stderr
    assert len((out2 / "xvector.scp").read_text().splitlines()) == 6
    assert (out2 / ".done").is_file() and (out2 / "log" / "infer.2.log").is_file()
    assert _run(["steps/infer_nnet.sh", str(exp / "final.pt"), str(test2),
                 str(single)]).returncode == 0
    assert (out2 / "scores").read_text() == (single / "scores").read_text()
    proc = _run(["steps/infer_nnet.sh", str(exp / "final.pt"), str(test2)])
    assert proc.returncode != 0 and "usage:" in proc.stderr
    # embeddings only (speaker verification): the same vectors, no class scores
    emb = tmp_path / "emb"
    proc = _run(["steps/infer_nnet.sh", "--embeddings", "true", "--scores", "false",
                 str(exp / "final.pt"), str(test2), str(emb)])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert not (emb / "scores").exists() and f"wrote {emb}/xvector.scp (6 utterances)" in \
        proc.stderr
    assert [line.split()[0] for line in (emb / "xvector.scp").read_text().splitlines()] == \
        [line.split()[0] for line in (out2 / "xvector.scp").read_text().splitlines()]
    proc = _run(["steps/infer_nnet.sh", "--scores", "false", str(exp / "final.pt"),
                 str(test2), str(tmp_path / "none")])
    assert proc.returncode != 0 and "--scores false needs --embeddings true" in proc.stderr


def test_train_script_errors(tmp_path):
    proc = _run(["steps/train_nnet.sh", str(CONF / "resnet_rs.yaml"), str(tmp_path / "nodata"),
                 str(tmp_path / "exp")])
    assert proc.returncode != 0 and "nodata/feats.scp does not exist" in proc.stderr
    data = make_feats_dir(tmp_path / "train", counts=(3, 3))
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: {name: resnet99}\n")
    proc = _run(["steps/train_nnet.sh", str(bad), str(data), str(tmp_path / "exp")])
    assert proc.returncode != 0
    log = (tmp_path / "exp" / "log" / "train.log").read_text()
    assert f"ERROR: {bad}: model.name: unknown model 'resnet99'" in log
    assert not (tmp_path / "exp" / ".done").exists()
