"""egs/synth_sv: the mini recipe (with its language-ID part, --lid true) from a copy of
run.sh + local/ + conf/, corpus to RESULTS_mini.md; its trial lists and its tables."""
import json
import re
import subprocess
import sys

import pytest

from recipes import run_copied_recipe

pytestmark = pytest.mark.slow
CONDS = ("test_sv", "test_sv_channel")


@pytest.fixture(scope="module")
def recipe(tmp_path_factory, repo, pytestconfig):
    return run_copied_recipe(repo, "synth_sv", tmp_path_factory.mktemp("egs"),
                             ["--mini", "true", "--lid", "true"], pytestconfig)


def table(path, name):
    return dict(line.split(maxsplit=1) for line in (path / name).read_text().splitlines())


def test_trial_lists(recipe):
    data = recipe / "data_mini"
    train_spk = set(table(data / "train_sv", "utt2spk").values())
    spk = {c: table(data / c, "utt2spk") for c in CONDS}
    assert set(spk["test_sv"].values()) == set(spk["test_sv_channel"].values())
    assert not train_spk & set(spk["test_sv"].values())          # disjoint speakers
    for c in CONDS:
        trials = [line.split() for line in (data / c / "trials").read_text().splitlines()]
        assert len(trials) == 80 and all(len(t) == 3 for t in trials)
        n_target = sum(t[2] == "target" for t in trials)
        assert n_target == 40
        for a, b, kind in trials:
            assert (kind == "target") == (spk[c][a] == spk[c][b])
        assert (data / c / "feats.scp").is_file()


def test_results_have_eers(recipe):
    text = (recipe / "RESULTS_mini.md").read_text()
    assert text.startswith("# egs/synth_sv results")
    assert "./run.sh --mini true" in text
    for head in ("Softmax", "CosFace (AM)", "SphereFace", "ArcFace (AAM)", "AdaCos"):
        row = next(line for line in text.splitlines() if line.startswith(f"| {head} |"))
        cells = [c.strip() for c in row.strip("|").split("|")][1:]
        assert len(cells) == 8 and all(re.fullmatch(r"\d+\.\d+", c) for c in cells), row
    for sys in ("dropadapt_drop", "dropadapt_combine", "dropadapt_random",
                "dropadapt_data_only", "baseline_more_steps"):
        row = next(line for line in text.splitlines() if line.startswith(f"| {sys} |"))
        cells = [c.strip() for c in row.strip("|").split("|")][1:]
        assert all(re.fullmatch(r"[+-]?\d+\.\d+", c) for c in cells), row
    exp = recipe / "exp_mini"
    for fig in ("eer_vs_P", "eer_vs_D", "dropadapt_kl", "dropadapt_eer"):
        assert (exp / "figures" / f"{fig}.png").stat().st_size > 1000
    assert (exp / "xvector_cosface" / "test_sv_channel" / "sv_cosine" / "det.png").is_file()
    # one model per DropAdapt round (mini: a checkpoint every 5 of 20 steps), each scored
    rounds = exp / "adapt_test_sv" / "dropadapt_drop" / "rounds"
    assert sorted(p.name for p in rounds.iterdir() if p.is_dir()) == \
        ["step10", "step15", "step20", "step5"]
    assert (rounds / "step5" / "test_sv" / "sv_cosine" / "metrics.json").is_file()


def test_results_epilogue(recipe, tmp_path):
    """The hand-written reading goes after the tables of the default run only: the mini
    RESULTS never carries it, make_results.py --epilogue appends the file as written; the
    figures go where --fig-dir says and the markdown links them there."""
    reading = recipe / "conf" / "results_reading.md"
    if reading.is_file():
        assert reading.read_text().strip().splitlines()[0] not in \
            (recipe / "RESULTS_mini.md").read_text()
    note = tmp_path / "reading.md"
    note.write_text("## Reading\n\nDropClass line one.\n")
    out = tmp_path / "R.md"
    run = subprocess.run([sys.executable, "local/make_results.py", "--exp", "exp_mini", "--data", "data_mini",
                          "--heads", "softmax cosface", "--adapt", "dropadapt_drop",
                          "--epilogue", str(note), "--fig-dir", "figs", str(out)],
                         cwd=recipe, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    text = out.read_text()
    assert text.endswith("\n## Reading\n\nDropClass line one.\n")
    assert text.index("| CosFace (AM) |") < text.index("## Reading")
    assert "![eer_vs_P](figs/eer_vs_P.png)" in text
    # run.sh cites the invocations recorded in exp_mini/run.cmd
    assert "\n    ./run.sh --mini true --lid true\n" in (recipe / "RESULTS_mini.md").read_text()
    assert (recipe / "figs" / "eer_vs_P.png").stat().st_size > 1000


def test_rerun_skips(recipe):
    models = [recipe / "exp_mini" / d / "final.pt" for d in
              ("xvector_cosface", "langid/lid_xvector", "langid/adapt/lid_dropadapt_drop")]
    mtimes = [m.stat().st_mtime_ns for m in models]
    run = subprocess.run(["./run.sh", "--mini", "true", "--lid", "true", "--stage", "5"],
                         cwd=recipe, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "is done; skipping" in run.stderr
    assert [m.stat().st_mtime_ns for m in models] == mtimes


def test_score_sv_redoes_a_result_made_with_other_options(recipe):
    sysdir = recipe / "exp_mini" / "xvector_cosface"

    def score(*opts):
        run = subprocess.run(["steps/score_sv.sh", "--train-data", "data_mini/train_sv_backend",
                              *opts, str(sysdir / "final.pt"), str(sysdir), "data_mini/test_sv"],
                             cwd=recipe, capture_output=True, text=True)
        assert run.returncode == 0, run.stderr[-3000:]
        return run.stderr

    cosine = sysdir / "test_sv" / "sv_cosine" / "metrics.json"
    before = cosine.stat().st_mtime_ns
    assert "sv_cosine is done; skipping" in score("--backends", "cosine")
    assert cosine.stat().st_mtime_ns == before
    plda = sysdir / "test_sv" / "sv_plda" / "metrics.json"
    score("--backends", "plda", "--lda-dim", "8")
    first = plda.stat().st_mtime_ns
    assert "sv_plda is done; skipping" in score("--backends", "plda", "--lda-dim", "8")
    assert plda.stat().st_mtime_ns == first
    log = score("--backends", "plda", "--lda-dim", "6")
    assert "made with other options or trials; redoing it" in log
    assert plda.stat().st_mtime_ns != first
    assert "lda_dim=6" in (sysdir / ".sv_plda.done").read_text()


def test_help(recipe):
    run = subprocess.run(["./run.sh", "--help"], cwd=recipe, capture_output=True, text=True)
    assert run.returncode == 0 and "--grid-p" in run.stdout and "--lid true|false" in run.stdout


def test_lid_dropadapt(recipe):
    """Table 3 has numbers for every system; DropAdapt kept min_classes (3) of the 6
    training languages after its four rounds. Which 3 it keeps depends on a 30-step model,
    so only that they are training languages is asserted (the full run's RESULTS.md shows
    whether they are test_lid's)."""
    data, exp = recipe / "data_mini" / "langid", recipe / "exp_mini" / "langid"
    train_langs = set(table(data / "train_lid", "utt2lang").values())
    test_langs = set(table(data / "test_lid", "utt2lang").values())
    assert len(train_langs) == 6 and test_langs < train_langs and len(test_langs) == 3
    assert not set(table(data / "train_lid", "utt2spk").values()) & \
        set(table(data / "test_lid", "utt2spk").values())            # unseen speakers
    rounds = json.loads((exp / "adapt" / "lid_dropadapt_drop" / "dropadapt_rounds.json")
                        .read_text())["rounds"]
    assert [r["rows"] for r in rounds] == [6, 5, 4, 3]
    kept = rounds[-1]["kept"]
    assert len(kept) == 3 and set(kept) < train_langs
    text = (recipe / "RESULTS_mini.md").read_text()
    assert "## Table 3 (beyond the paper): DropAdapt for language ID" in text
    assert f"DropAdapt kept ({', '.join(kept)})" in text
    for name in ("LID x-vector (not adapted)", "DropAdapt (drop)", "baseline-more-steps"):
        row = next(line for line in text.splitlines() if line.startswith(f"| {name} |"))
        cells = [c.strip() for c in row.strip("|").split("|")][1:]
        # the 'kept' accuracy has no utterance to count if DropAdapt kept no test language
        numeric = cells if set(kept) & test_langs else cells[:2]
        assert len(cells) == 4 and all(re.fullmatch(r"\d+\.\d+", c) for c in numeric), row
        acc, cavg = float(cells[0]), float(cells[1])
        assert 0 <= acc <= 100 and 0 <= cavg <= 1
    for sys in ("lid_xvector", "adapt/lid_dropadapt_drop", "adapt/lid_baseline_more_steps"):
        scores = (exp / sys / "test_lid" / "scores").read_text().splitlines()
        assert {line.split()[1] for line in scores} == train_langs   # every row scored
