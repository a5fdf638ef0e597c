"""The mini setting of egs/synth_lid on its former espeak-only corpus (--corpus espeak) end to
end on the recipe template (egs/TEMPLATE/lid.sh): every stage, the same numbers as before the
template and before the multi-synthesizer default corpus, then a re-run that skips. The
default corpus is tested in test_recipe_synth_lid_multisynth.py."""
import re
import subprocess
from pathlib import Path

import pytest

from conftest import stream_run
from recipes import run_copied_recipe

pytestmark = pytest.mark.slow

OLR = "olr_xvector_softmax olr_mt_apm_aam"
# the espeak-only variant's own names (data_mini/, exp_mini/, RESULTS_mini.md are the default
# corpus's)
DATA, EXP, RESULTS = "data_mini_espeak", "exp_mini_espeak", "RESULTS_mini_espeak.md"
# RESULTS_mini.md of the same command before the recipe moved onto the template (the
# pre-template code with sox -R in the perturbation pipes, which made train_olr_sp's audio
# repeatable; two such runs give identical files)
BASELINE = Path(__file__).resolve().parent / "data" / "synth_lid_RESULTS_mini.md"


@pytest.fixture(scope="module")
def recipe(tmp_path_factory, repo, pytestconfig):
    """A copy of the recipe's own files (run.sh, conf, local) with the links that
    egs/TEMPLATE/setup_recipe.sh makes (steps, utils, lid.sh, path.sh, cmd.sh), run once
    with --mini."""
    return run_copied_recipe(repo, "synth_lid", tmp_path_factory.mktemp("egs"),
                             ["--mini", "true", "--corpus", "espeak", "--olr-systems", OLR],
                             pytestconfig)


def test_results_tables_have_every_system(recipe):
    text = (recipe / RESULTS).read_text()
    assert "./run.sh --mini true --corpus espeak --olr-systems" in text
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


def test_mini_results_are_the_pre_template_numbers(recipe):
    """Moving the recipe onto the template and the default onto the multi-synthesizer corpus
    changed no number of the espeak-only corpus: its mini RESULTS equal the run of the same
    command made before the move (same seed), every cell of every table."""
    ours = sections((recipe / RESULTS).read_text())
    ref = sections(BASELINE.read_text())
    assert list(ours) == list(ref) and len(ref) == 4
    for title, rows in ref.items():
        assert_same_rows(ours[title], rows, title)
    # the rest of the text (titles, notes) is the same too, apart from the header and the
    # exp dir's name (exp_mini/ when the espeak corpus was the default)
    def body(text):
        return [line for line in text.splitlines()[3:]
                if not line.startswith(("    ", "|", "- ", "Produced by"))]
    ours_text = (recipe / RESULTS).read_text().replace(f"`{EXP}/", "`exp_mini/")
    assert body(ours_text) == body(BASELINE.read_text())


def test_template_records_each_call(recipe):
    """run.sh's invocation in <exp>/run.cmd (the command RESULTS shows); each template
    call's own re-run command in <exp>/lid/<tag>/run.cmd."""
    exp = recipe / EXP
    for tag, words in (("lt", "--train-set train_lt"), ("olr", "--phone-labels true"),
                       ("results", "--results-spec conf/results_espeak.yaml")):
        cmd = (exp / "lid" / tag / "run.cmd").read_text()
        assert "./lid.sh" in cmd and words in cmd, (tag, cmd)
    assert "./lid.sh" not in (recipe / RESULTS).read_text()


def test_stage_outputs(recipe):
    exp, data = recipe / EXP, recipe / DATA
    assert (exp / "resnet_wadcl" / "final.pt").is_file()
    assert (exp / "resnet_wadcl" / "test_30s" / "scores").is_file()
    assert (exp / "ivector" / "test_3s" / "scores").is_file()
    assert (exp / "phone_labels" / "train_olr_sp" / "ali.scp").is_file()
    assert (exp / "olr_mt_apm_aam" / "test_openset" / "scores_backend").is_file()
    assert (exp / "corpus_stats" / "durations.png").is_file()
    for s in ("train_lt", "test_3s", "train_olr", "train_olr_sp"):
        assert (data / s / "feats.scp").is_file() and (data / s / "vad.scp").is_file()
    assert "./run.sh --mini true --corpus espeak" in (exp / "run.cmd").read_text()
    assert (data / "corpus_config.yaml").read_text() == \
        (recipe / "conf" / "corpus_espeak_mini.yaml").read_text()


def test_olr_systems_train_on_perturbed_copies(recipe):
    """train_olr_sp holds train_olr at speeds 0.9/1.0/1.1 (volume-perturbed); the OLR systems
    train on it with labels decoded from its own features; the back-end uses train_olr."""
    data, exp = recipe / DATA, recipe / EXP
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
    assert f"{DATA}/train_olr_sp" in cmd and "phone_labels/train_olr_sp/ali.scp" in cmd
    assert (exp / "olr_mt_apm_aam" / "train_olr" / "xvector.scp").is_file()


def test_rerun_skips_finished_work(recipe):
    mtime = (recipe / EXP / "resnet_rs" / "final.pt").stat().st_mtime_ns
    run = subprocess.run(["./run.sh", "--mini", "true", "--corpus", "espeak", "--olr-systems",
                          OLR, "--stage", "2", "--stop-stage", "6"], cwd=recipe,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    assert (recipe / EXP / "resnet_rs" / "final.pt").stat().st_mtime_ns == mtime
    systems = ("resnet_rs resnet_bs resnet_xvector resnet_rs_wma resnet_bs_wma resnet_wadcl "
               + OLR).split()
    for sys in systems:
        assert f"{EXP}/{sys} is done; skipping" in run.stderr, sys
    assert f"{EXP}/ivector/ubm is done; skipping" in run.stderr
    assert f"{EXP}/phone_labels/train_olr_sp is done; skipping" in run.stderr


def test_bnf_features_for_the_long_tailed_systems(recipe, pytestconfig):
    """--lt-feats bnf: a bottleneck network on the stage-3 alignments, <set>_bnf data dirs,
    and the i-vector and DNN systems trained and scored on them under <exp>/bnf."""
    run = stream_run(["./run.sh", "--mini", "true", "--corpus", "espeak", "--lt-feats", "bnf",
                      "--olr-systems", "",
                      "--lt-systems", "resnet_wadcl", "--stage", "3"], cwd=recipe,
                     config=pytestconfig, timeout=1800, label="synth_lid bnf")
    assert run.returncode == 0, run.stdout[-4000:]
    data, exp = recipe / DATA, recipe / EXP
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
    text = (recipe / "RESULTS_mini_espeak_bnf.md").read_text()
    for label in ("i-vector", "WADCL"):
        row = next(line for line in text.splitlines() if line.startswith(f"| {label} |"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert all(re.fullmatch(r"\d+\.\d+", c) for c in cells[1:]), cells
    # the MFCC systems' results are untouched
    assert "| WADCL |" in (recipe / RESULTS).read_text()


def test_help(recipe):
    run = subprocess.run(["./run.sh", "--help"], cwd=recipe, capture_output=True, text=True)
    assert run.returncode == 0 and "--stop-stage" in run.stdout
    bad = subprocess.run(["./run.sh", "--bogus", "1"], cwd=recipe, capture_output=True, text=True)
    assert bad.returncode != 0 and "unknown option --bogus" in bad.stderr
