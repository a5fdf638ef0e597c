"""lidtool.train.progress / `lidtool train-progress`: the terminal's view of a training run."""
from __future__ import annotations

import json

from lidtool.cli import main as cli
from lidtool.train.progress import progress_line, total_steps


def _exp(tmp_path, records, log_text):
    (tmp_path / "log").mkdir(parents=True, exist_ok=True)
    (tmp_path / "log" / "train.log").write_text(log_text)
    (tmp_path / "train_log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return tmp_path


START = ("2026-01-01 INFO lidtool.train.trainer: model resnet32: 5922 parameters; strategy "
         "wadcl; 100 steps; 157 training utterances, 6 languages\n")


def test_progress_line_eta_and_resume(tmp_path):
    assert progress_line(tmp_path) is None
    exp = _exp(tmp_path, [{"step": s, "loss": 2.0 - s / 100, "acc": 0.5, "time": 2.0 * s}
                          for s in range(1, 11)], START)
    assert total_steps(exp / "log" / "train.log") == 100
    # 10 steps in 20 s -> 90 more take 180 s
    assert progress_line(exp) == "step 10/100 (10%), loss 1.9, acc 0.5, 0m20s elapsed, ETA 3m00s"
    # after a resume at step 10 the clock restarts: the rate is that of the new run only
    records = [{"step": s, "loss": 1.0, "time": 2.0 * s} for s in range(1, 11)]
    records += [{"step": 10 + s, "loss": 1.0, "time": 1.0 * s} for s in range(1, 11)]
    _exp(tmp_path, records, START)
    assert progress_line(exp).endswith("0m10s elapsed, ETA 1m20s")


def test_progress_total_from_tqdm_and_partial_line(tmp_path, capsys):
    exp = _exp(tmp_path, [{"step": 1, "loss": 1.5, "time": 1.0}],
               "train:   2%|▎         | 1/40 [00:00<00:01, 24.94step/s]\r")
    with open(exp / "train_log.jsonl", "a") as f:
        f.write('{"step": 2, "lo')          # being written now
    assert progress_line(exp).startswith("step 1/40 (2%), loss 1.5")
    assert cli(["train-progress", str(exp)]) == 0
    assert capsys.readouterr().out.startswith("step 1/40 (2%)")
