"""The mini setting of egs/synth_lid end to end on the recipe template (egs/TEMPLATE/lid.sh):
every stage, the same numbers as before the template, then a re-run that skips."""
import re
import subprocess
from pathlib import Path

import pytest

from recipes import copy_recipe

pytestmark = pytest.mark.slow

OLR = "olr_xvector_softmax olr_mt_apm_aam"
# RESULTS_mini.md of the same command before the recipe moved onto the template
BASELINE = Path(__file__).resolve().parent / "data" / "synth_lid_RESULTS_mini.md"
# ... and of `--lt-systems "" --olr-perturb false` (OLR systems on the unperturbed train_olr)
BASELINE_UNPERTURBED = BASELINE.with_name("synth_lid_RESULTS_mini_olr_unperturbed.md")


@pytest.fixture(scope="module")
def recipe(tmp_path_factory, repo):
    """A copy of the recipe's own files (run.sh, conf, local) with the links that
    egs/TEMPLATE/setup_recipe.sh makes (steps, utils, lid.sh, path.sh, cmd.sh), run once
    with --mini."""
    d = copy_recipe(repo, "synth_lid", tmp_path_factory.mktemp("egs"))
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


def sections(text: str) -> dict[str, list[str]]:
    """{table title: its rows and ordering lines}: every number of a RESULTS file, none of
    the header's date, commit or command."""
    out: dict[str, list[str]] = {}
    title = None
    for line in text.splitlines():
        if line.startswith("### "):
            title = line[4:]
            out[title] = []
        elif title and (line.startswith("- ") or
                        (line.startswith("|") and not line.startswith("|---"))):
            out[title].append(line)
    return out


def cells(row: str) -> list[str]:
    return [c.strip() for c in row.strip().strip("|").split("|")]


def assert_same_rows(ours: list[str], ref: list[str], where: str):
    assert [cells(r) for r in ours] == [cells(r) for r in ref], \
        f"{where}:\n ours: " + "\n       ".join(ours) + "\n  ref: " + "\n       ".join(ref)


# The cells that depend on the audio of train_olr_sp. Its wav.scp reads the audio through
# `sox ... speed F` and `sox --vol G` pipes (lidtool/features/perturb.py), and sox dithers
# with a fresh random seed unless run with -R: the same command gives other samples on every
# run, so these cells differ between two runs of the pre-template recipe as well (measured:
# all 240 utterances' features of train_olr_sp differ, every other set is bit-identical).
# They are compared exactly in test_olr_numbers_without_perturbation instead.
TABLE1 = "Table 1 (APM paper)"
PHONES = "Phone recogniser behind Table 1"
LABEL_SPREAD = ("labelled utterances decoded by a partial path", "distinct pdf labels used",
                "share of frames of the most frequent phone %")


def test_mini_results_are_the_pre_template_numbers(recipe):
    """Moving the recipe onto the template changed no number: RESULTS_mini.md equals the run
    of the same command made before the move (same seed), cell by cell, apart from the
    cells that sox's dither makes differ between any two runs (above)."""
    ours = sections((recipe / "RESULTS_mini.md").read_text())
    ref = sections(BASELINE.read_text())
    assert list(ours) == list(ref) and len(ref) == 4
    for title, rows in ref.items():
        if title.startswith(TABLE1):
            # same systems and columns, every cell a number; values: see above
            assert [cells(r)[0] for r in ours[title] if r.startswith("|")] == \
                [cells(r)[0] for r in rows if r.startswith("|")]
            for row in ours[title][1:]:
                if row.startswith("|"):
                    assert all(re.fullmatch(r"\d+\.\d+|–", c) for c in cells(row)[1:]), row
            continue
        if title.startswith(PHONES):
            keep = [r for r in rows if cells(r)[0] not in LABEL_SPREAD]
            assert len(keep) == len(rows) - 3
            assert_same_rows([r for r in ours[title] if cells(r)[0] not in LABEL_SPREAD],
                             keep, title)
            continue
        assert_same_rows(ours[title], rows, title)
    # the rest of the text (titles, notes) is the same too, apart from the header
    def body(text):
        return [line for line in text.splitlines()[3:]
                if not line.startswith(("    ", "|", "- ", "Produced by"))]
    assert body((recipe / "RESULTS_mini.md").read_text()) == body(BASELINE.read_text())


@pytest.fixture(scope="module")
def recipe_unperturbed(tmp_path_factory, repo):
    """The OLR systems on train_olr itself (no sox pipes): every number is repeatable."""
    d = copy_recipe(repo, "synth_lid", tmp_path_factory.mktemp("egs"))
    run = subprocess.run(["./run.sh", "--mini", "true", "--lt-systems", "", "--olr-systems", OLR,
                          "--olr-perturb", "false"], cwd=d, capture_output=True, text=True)
    (d / "run1.log").write_text(run.stdout + run.stderr)
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    return d


def test_olr_numbers_without_perturbation(recipe_unperturbed):
    """Table 1 and the phone recogniser's table, every cell, against the pre-template recipe
    run with `--mini true --lt-systems '' --olr-systems '...' --olr-perturb false`."""
    ours = sections((recipe_unperturbed / "RESULTS_mini.md").read_text())
    ref = sections(BASELINE_UNPERTURBED.read_text())
    assert list(ours) == list(ref)
    assert any(t.startswith(TABLE1) for t in ref) and len(ref[next(iter(ref))]) > 0
    for title, rows in ref.items():
        assert_same_rows(ours[title], rows, title)
    assert (recipe_unperturbed / "exp_mini" / "phone_labels" / "train_olr" / "ali.scp").is_file()
    assert not (recipe_unperturbed / "data_mini" / "train_olr_sp").exists()


def test_template_records_each_call(recipe):
    """run.sh's invocation in exp_mini/run.cmd (the command RESULTS shows); each template
    call's own re-run command in exp_mini/lid/<tag>/run.cmd."""
    exp = recipe / "exp_mini"
    for tag, words in (("lt", "--train-set train_lt"), ("olr", "--phone-labels true"),
                       ("results", "--results-spec conf/results.yaml")):
        cmd = (exp / "lid" / tag / "run.cmd").read_text()
        assert "./lid.sh" in cmd and words in cmd, (tag, cmd)
    assert "./lid.sh" not in (recipe / "RESULTS_mini.md").read_text()


def test_stage_outputs(recipe):
    exp, data = recipe / "exp_mini", recipe / "data_mini"
    assert (exp / "resnet_wadcl" / "final.pt").is_file()
    assert (exp / "resnet_wadcl" / "test_30s" / "scores").is_file()
    assert (exp / "ivector" / "test_3s" / "scores").is_file()
    assert (exp / "phone_labels" / "train_olr_sp" / "ali.scp").is_file()
    assert (exp / "olr_mt_apm_aam" / "test_openset" / "scores_backend").is_file()
    assert (exp / "corpus_stats" / "durations.png").is_file()
    for s in ("train_lt", "test_3s", "train_olr", "train_olr_sp"):
        assert (data / s / "feats.scp").is_file() and (data / s / "vad.scp").is_file()
    assert "./run.sh --mini true" in (exp / "run.cmd").read_text()


def test_olr_systems_train_on_perturbed_copies(recipe):
    """train_olr_sp holds train_olr at speeds 0.9/1.0/1.1 (volume-perturbed); the OLR systems
    train on it with labels decoded from its own features; the back-end uses train_olr."""
    data, exp = recipe / "data_mini", recipe / "exp_mini"
    orig = (data / "train_olr" / "utt2spk").read_text().split("\n")
    sp = [line.split()[0] for line in (data / "train_olr_sp" / "utt2spk").read_text().splitlines()]
    orig = [line.split()[0] for line in orig if line]
    assert len(sp) == 3 * len(orig)
    assert {u for u in sp if u.startswith("sp0.9-")} == {f"sp0.9-{u}" for u in orig}
    assert "speed 1.1" in (data / "train_olr_sp" / "wav.scp").read_text()
    assert (data / "train_olr_sp" / "reco2vol").is_file()
    nframes = dict(line.split() for line in
                   (data / "train_olr_sp" / "utt2num_frames").read_text().splitlines())
    u = orig[0]
    assert int(nframes[f"sp0.9-{u}"]) > int(nframes[u]) > int(nframes[f"sp1.1-{u}"])
    labelled = [line.split()[0] for line in
                (exp / "phone_labels" / "train_olr_sp" / "ali.scp").read_text().splitlines()]
    assert sorted(labelled) == sorted(sp)
    cmd = (exp / "olr_mt_apm_aam" / "run.cmd").read_text()
    assert "data_mini/train_olr_sp" in cmd and "phone_labels/train_olr_sp/ali.scp" in cmd
    assert (exp / "olr_mt_apm_aam" / "train_olr" / "xvector.scp").is_file()


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
    assert "exp_mini/phone_labels/train_olr_sp is done; skipping" in run.stderr


def test_bnf_features_for_the_long_tailed_systems(recipe):
    """--lt-feats bnf: a bottleneck network on the stage-3 alignments, <set>_bnf data dirs,
    and the i-vector and DNN systems trained and scored on them under exp_mini/bnf."""
    run = subprocess.run(["./run.sh", "--mini", "true", "--lt-feats", "bnf", "--olr-systems", "",
                          "--lt-systems", "resnet_wadcl", "--stage", "3"],
                         cwd=recipe, capture_output=True, text=True)
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    data, exp = recipe / "data_mini", recipe / "exp_mini"
    assert (exp / "asr" / "bnf" / "final.pt").is_file()
    dims = {}
    for s in ("train_lt_bnf", "test_3s_bnf"):
        feats = (data / s / "feats.scp").read_text().splitlines()
        assert len(feats) == len((data / s[:-4] / "feats.scp").read_text().splitlines())
        assert (data / s / "vad.scp").read_text() == (data / s[:-4] / "vad.scp").read_text()
        dims[s] = feats[0]
    import kaldiio
    assert kaldiio.load_mat(dims["train_lt_bnf"].split(None, 1)[1]).shape[1] == 40
    assert "train_lt_bnf" in (exp / "bnf" / "resnet_wadcl" / "run.cmd").read_text()
    assert (exp / "bnf" / "ivector" / "test_30s" / "scores").is_file()
    text = (recipe / "RESULTS_mini_bnf.md").read_text()
    for label in ("i-vector", "WADCL"):
        row = next(line for line in text.splitlines() if line.startswith(f"| {label} |"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert all(re.fullmatch(r"\d+\.\d+", c) for c in cells[1:]), cells
    # the MFCC systems' results are untouched
    assert "| WADCL |" in (recipe / "RESULTS_mini.md").read_text()


def test_help(recipe):
    run = subprocess.run(["./run.sh", "--help"], cwd=recipe, capture_output=True, text=True)
    assert run.returncode == 0 and "--stop-stage" in run.stdout
    bad = subprocess.run(["./run.sh", "--bogus", "1"], cwd=recipe, capture_output=True, text=True)
    assert bad.returncode != 0 and "unknown option --bogus" in bad.stderr
