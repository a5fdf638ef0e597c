"""The mini setting of egs/synth_lid end to end: every stage, then a re-run that skips."""
import re
import shutil
import subprocess

import pytest

OLR = "olr_xvector_softmax olr_mt_apm_aam"


@pytest.fixture(scope="module")
def recipe(tmp_path_factory, repo):
    """A copy of the recipe directory (links to the repo's steps/utils), run once with --mini."""
    d = tmp_path_factory.mktemp("egs") / "synth_lid"
    d.mkdir()
    src = repo / "egs" / "synth_lid"
    for name in ("run.sh", "path.sh", "cmd.sh"):
        shutil.copy2(src / name, d / name)
    shutil.copytree(src / "conf", d / "conf")
    shutil.copytree(src / "local", d / "local")
    (d / "steps").symlink_to(repo / "steps")
    (d / "utils").symlink_to(repo / "utils")
    run = subprocess.run(["./run.sh", "--mini", "true", "--olr-systems", OLR], cwd=d,
                         capture_output=True, text=True)
    (d / "run1.log").write_text(run.stdout + run.stderr)
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    return d


def test_results_tables_have_every_system(recipe):
    text = (recipe / "RESULTS_mini.md").read_text()
    assert "./run.sh --mini true --olr-systems" in text
    for label in ("i-vector", "RS", "BS", "x-vector (DCL)", "RS-WMA", "BS-WMA", "WADCL",
                  "x-vector softmax", "MT APM-AAM"):
        rows = [line for line in text.splitlines() if line.startswith(f"| {label} |")]
        assert rows, label
        assert all("not run" not in row for row in rows), rows
    # accuracy cells are real numbers
    row = next(line for line in text.splitlines() if line.startswith("| WADCL |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert all(re.fullmatch(r"\d+\.\d+", c) for c in cells[1:]), cells


def test_stage_outputs(recipe):
    exp, data = recipe / "exp_mini", recipe / "data_mini"
    assert (exp / "resnet_wadcl" / "final.pt").is_file()
    assert (exp / "resnet_wadcl" / "test_30s" / "scores").is_file()
    assert (exp / "ivector" / "test_3s" / "scores").is_file()
    assert (exp / "phone_labels" / "train_olr" / "ali.scp").is_file()
    assert (exp / "olr_mt_apm_aam" / "test_openset" / "scores_backend").is_file()
    assert (exp / "corpus_stats" / "durations.png").is_file()
    for s in ("train_lt", "test_3s", "train_olr"):
        assert (data / s / "feats.scp").is_file() and (data / s / "vad.scp").is_file()
    assert "./run.sh --mini true" in (exp / "run.cmd").read_text()


def test_rerun_skips_finished_work(recipe):
    mtime = (recipe / "exp_mini" / "resnet_rs" / "final.pt").stat().st_mtime_ns
    run = subprocess.run(["./run.sh", "--mini", "true", "--olr-systems", OLR, "--stage", "2",
                          "--stop-stage", "6"], cwd=recipe, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    assert (recipe / "exp_mini" / "resnet_rs" / "final.pt").stat().st_mtime_ns == mtime
    systems = ("resnet_rs resnet_bs resnet_xvector resnet_rs_wma resnet_bs_wma resnet_wadcl "
               + OLR).split()
    for sys in systems:
        assert f"exp_mini/{sys} is done; skipping" in run.stderr, sys
    assert "exp_mini/ivector/ubm is done; skipping" in run.stderr
    assert "exp_mini/phone_labels/train_olr is done; skipping" in run.stderr


def test_help(recipe):
    run = subprocess.run(["./run.sh", "--help"], cwd=recipe, capture_output=True, text=True)
    assert run.returncode == 0 and "--stop-stage" in run.stdout
    bad = subprocess.run(["./run.sh", "--bogus", "1"], cwd=recipe, capture_output=True, text=True)
    assert bad.returncode != 0 and "unknown option --bogus" in bad.stderr
