"""Two-process data-parallel training on CPU (torchrun, gloo): it trains and ranks agree."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from lidtool.train.checkpoint import load_model
from lidtool.inference.jobs import prepared_utterances
from lidtool.inference.scoring import score_utterances
from test_train_data import make_feats_dir, write_tiny_config

REPO = Path(__file__).resolve().parents[1]


# the options of lidtool.train.update / init / validation / averaging under DDP
NEW_OPTIONS = ["train.accum_steps=2", "model.freeze=[backbone]", "model.freeze_steps=4",
               "optim.lr_scales={classifier: 2.0}", "train.average_last=2",
               "train.keep_checkpoints=2", "train.valid_every=20"]


def torchrun_train(tmp_path, data_dir, exp, overrides):
    """`lidtool train` of the tiny config on 2 CPU processes; checks that it succeeded and
    that the ranks ended with the same weights. Returns the finished process."""
    conf = write_tiny_config(tmp_path / "c.yaml")
    torchrun = Path(sys.executable).parent / "torchrun"
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    cmd = [str(torchrun), "--standalone", "--nproc_per_node", "2", "-m", "lidtool.bin.train",
           "--config", str(conf), "--num-threads", "1", "--device", "cpu",
           *(a for o in overrides for a in ("--override", o)), str(data_dir), str(exp)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, cwd=tmp_path,
                          env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "DDP: all 2 ranks hold the same weights (max difference 0)" in proc.stderr
    return proc


@pytest.mark.parametrize("extra", [[], NEW_OPTIONS], ids=["default", "new_options"])
def test_torchrun_two_processes(tmp_path, extra):
    data_dir = make_feats_dir(tmp_path / "train", counts=(10, 6, 4))
    if extra:
        extra = extra + [f"data.valid_dir={data_dir}"]
    exp = tmp_path / "exp"
    proc = torchrun_train(tmp_path, data_dir, exp, [
        "train.strategy=wadcl", "wma.enabled=true", "train.steps=40", "train.ckpt_every=20",
        *extra])
    rows = [json.loads(x) for x in (exp / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, 41))        # rank 0 alone writes
    if extra:
        # (no accuracy check: final.pt is the mean of the WMA models of steps 20 and 40,
        # and the WMA model of step 20 of so short a run is still poor)
        assert [r["step"] for r in rows if "valid_acc" in r] == [20, 40]
        assert "step 4: unfroze backbone" in proc.stderr
        assert "mean of the checkpoints at steps 20, 40" in proc.stderr
        return
    assert rows[-1]["loss"] < rows[0]["loss"]
    assert sorted(p.name for p in (exp / "checkpoints").iterdir()) == \
        ["ckpt-00000020.pt", "ckpt-00000040.pt"]
    torch.set_num_threads(1)
    model, info = load_model(exp / "final.pt")
    utts, scores = score_utterances(model, prepared_utterances(data_dir, 50), "cpu")
    truth = np.array([info["langs"].index(u.split("-")[0]) for u in utts])
    assert np.mean(scores.argmax(1) == truth) >= 0.9
