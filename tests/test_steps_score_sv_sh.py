"""steps/score_sv.sh: its checks before any work (the mini synth_sv recipe runs it end to
end, tests/test_recipe_synth_sv.py)."""
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _run(args):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(["steps/score_sv.sh", *args], cwd=REPO, capture_output=True,
                          text=True, env=env, timeout=60)


@pytest.fixture
def model_and_data(tmp_path):
    model = tmp_path / "final.pt"
    model.write_bytes(b"x")
    data = tmp_path / "test"
    data.mkdir()
    return model, data


@pytest.mark.parametrize("opts, message", [
    ([], "test/trials does not exist"),
    (["--backends", "cosine lda"], "unknown back-end 'lda'"),
    (["--backends", "plda"], "--backends plda needs --train-data"),
    (["--asnorm", "true"], "--asnorm true needs --train-data"),
])
def test_bad_calls_fail_before_work(model_and_data, tmp_path, opts, message):
    model, data = model_and_data
    if "does not exist" not in message:
        (data / "trials").write_text("a b target\n")
    proc = _run([*opts, str(model), str(tmp_path / "exp"), str(data)])
    assert proc.returncode != 0 and message in proc.stderr, proc.stderr
    assert not (tmp_path / "exp").exists()


def test_usage_and_missing_model(tmp_path):
    proc = _run([str(tmp_path / "final.pt"), str(tmp_path / "exp")])
    assert proc.returncode != 0 and "usage:" in proc.stderr
    proc = _run([str(tmp_path / "final.pt"), str(tmp_path / "exp"), str(tmp_path)])
    assert proc.returncode != 0 and "final.pt does not exist" in proc.stderr
