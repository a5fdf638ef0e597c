"""egs/synth_mini: a recipe made only of run.sh + local/data.sh + conf/ runs on the template,
corpus to RESULTS_mini.md, from a copy of just those files."""
import re
import subprocess

import pytest

from recipes import run_copied_recipe

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def recipe(tmp_path_factory, repo, pytestconfig):
    return run_copied_recipe(repo, "synth_mini", tmp_path_factory.mktemp("egs"),
                             ["--mini", "true"], pytestconfig)


def test_every_system_has_numbers(recipe):
    text = (recipe / "RESULTS_mini.md").read_text()
    assert text.startswith("# egs/synth_mini results")
    assert "    ./run.sh --mini true" in text
    for label in ("i-vector", "TDNN softmax", "TDNN balanced"):
        row = next(line for line in text.splitlines() if line.startswith(f"| {label} |"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert len(cells) == 7 and all(re.fullmatch(r"\d+\.\d+", c) for c in cells[1:]), cells


def test_stage_outputs(recipe):
    data, exp = recipe / "data", recipe / "exp_mini"
    for s in ("train", "test_2s", "test_5s"):
        assert (data / s / "feats.scp").is_file() and (data / s / "vad.scp").is_file()
    # its own feature config (30 MFCCs from conf_templates), not synth_lid's MFCC+pitch
    assert "mfcc.conf" in (exp / "tdnn_softmax" / "run.cmd").read_text()
    assert (exp / "ivector" / "test_5s" / "scores").is_file()
    assert (exp / "tdnn_balanced" / "test_2s" / "scores").is_file()
    assert (exp / "corpus_stats" / ".done").is_file()
    assert "--train-set train" in (exp / "lid" / "train" / "run.cmd").read_text()
    assert sorted(p.name for p in (exp / "results.json").parent.glob("results.*")) == \
        ["results.json", "results.txt"]


def test_rerun_skips_and_one_system_can_be_rerun(recipe):
    mtime = (recipe / "exp_mini" / "tdnn_softmax" / "final.pt").stat().st_mtime_ns
    rows = [line for line in (recipe / "RESULTS_mini.md").read_text().splitlines()
            if line.startswith("|")]
    run = subprocess.run(["./run.sh", "--mini", "true", "--stage", "1"], cwd=recipe,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "exp_mini/tdnn_softmax is done; skipping" in run.stderr
    assert (recipe / "exp_mini" / "tdnn_softmax" / "final.pt").stat().st_mtime_ns == mtime
    # stage 7 ran again on the same score files: the same table
    assert "stage 7: scoring" in run.stderr
    assert [line for line in (recipe / "RESULTS_mini.md").read_text().splitlines()
            if line.startswith("|")] == rows


def test_a_failing_system_stops_the_run_naming_it(recipe):
    (recipe / "conf" / "tdnn_broken.yaml").write_text(
        "base: tdnn_softmax.yaml\nsampler:\n  name: no_such_sampler\n")
    run = subprocess.run(["./run.sh", "--mini", "true", "--stage", "5", "--stop-stage", "5",
                          "--systems", "tdnn_softmax tdnn_broken"], cwd=recipe,
                         capture_output=True, text=True)
    assert run.returncode != 0
    assert "training exp_mini/tdnn_broken (see exp_mini/tdnn_broken/log/) failed" in run.stderr
    assert not (recipe / "exp_mini" / "tdnn_broken" / "final.pt").exists()


def test_help(recipe):
    run = subprocess.run(["./run.sh", "--help"], cwd=recipe, capture_output=True, text=True)
    assert run.returncode == 0 and "--systems" in run.stdout
