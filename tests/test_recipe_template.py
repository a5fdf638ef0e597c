"""egs/TEMPLATE: the links setup_recipe.sh makes, lid.sh's --help and its checks of options
(quick: nothing here trains or synthesises)."""
import subprocess

import pytest


@pytest.fixture
def bare_recipe(tmp_path, repo):
    """A directory made a recipe by setup_recipe.sh, with no run.sh/local/conf yet."""
    d = tmp_path / "myrecipe"
    d.mkdir()
    run = subprocess.run([repo / "egs" / "TEMPLATE" / "setup_recipe.sh", d],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return d


def lid(recipe, *args):
    return subprocess.run(["./lid.sh", *args], cwd=recipe, capture_output=True, text=True)


def test_setup_recipe_links_the_template_and_keeps_own_files(tmp_path, repo):
    d = tmp_path / "r"
    d.mkdir()
    (d / "cmd.sh").write_text("export train_cmd=utils/run_slurm.sh\n")
    run = subprocess.run([repo / "egs" / "TEMPLATE" / "setup_recipe.sh", d],
                         capture_output=True, text=True)
    assert run.returncode == 0 and "keeping" in run.stderr
    for name, target in (("steps", repo / "steps"), ("utils", repo / "utils"),
                         ("lid.sh", repo / "egs/TEMPLATE/lid.sh"),
                         ("path.sh", repo / "egs/TEMPLATE/path.sh")):
        assert (d / name).is_symlink() and (d / name).resolve() == target.resolve(), name
    assert not (d / "cmd.sh").is_symlink()
    bad = subprocess.run([repo / "egs" / "TEMPLATE" / "setup_recipe.sh", d / "absent"],
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "is not a directory" in bad.stderr


def test_lid_help_lists_stages_and_options(bare_recipe):
    run = lid(bare_recipe, "--help")
    assert run.returncode == 0
    for word in ("--stop-stage", "--train-set", "--test-sets", "--systems", "--feat-config",
                 "--label-table", "--backend", "--speed-perturb", "--results-spec",
                 "0 data (local/data.sh)", "7 RESULTS"):
        assert word in run.stdout, word


def test_lid_rejects_bad_options(bare_recipe):
    run = lid(bare_recipe, "--bogus", "1")
    assert run.returncode != 0 and "unknown option --bogus" in run.stderr
    run = lid(bare_recipe, "--stage", "1")
    assert run.returncode != 0 and "--train-set is required for stages 1-6" in run.stderr
    run = lid(bare_recipe, "--train-set", "train", "--systems", "nope")
    assert run.returncode != 0 and "conf/nope.yaml does not exist" in run.stderr
    run = lid(bare_recipe, "--train-set", "train", "--bnf", "yes")
    assert run.returncode != 0 and "option --bnf takes true or false" in run.stderr
    run = lid(bare_recipe, "--train-set", "train", "--phone-labels", "true")
    assert run.returncode != 0 and "need --asr-set and --lexicon" in run.stderr
    run = lid(bare_recipe, "--stop-stage", "0")
    assert run.returncode != 0 and "local/data.sh" in run.stderr and "missing" in run.stderr
    # nothing ran, so no data or experiment dirs beyond the re-run record
    assert not (bare_recipe / "data").exists()


def test_lid_outside_a_recipe_says_so(tmp_path, repo):
    run = subprocess.run([repo / "egs" / "TEMPLATE" / "lid.sh", "--help"], cwd=tmp_path,
                         capture_output=True, text=True)
    assert run.returncode != 0 and "run me from a recipe directory" in run.stderr


def test_recipes_hold_only_their_own_files(repo):
    """A recipe is run.sh + local/data.sh + conf/ (+ README/RESULTS); everything else is a
    link into the repository."""
    for name in ("synth_lid", "synth_mini"):
        d = repo / "egs" / name
        links = sorted(p.name for p in d.iterdir() if p.is_symlink())
        assert links == ["cmd.sh", "lid.sh", "path.sh", "steps", "utils"], (name, links)
        assert (d / "run.sh").is_file() and (d / "local" / "data.sh").is_file()
    assert sorted(p.name for p in (repo / "egs" / "synth_mini" / "local").iterdir()) == \
        ["data.sh"]


def test_library_knows_no_recipe_directory(repo):
    text = (repo / "lidtool" / "metrics" / "results.py").read_text()
    for word in ("olr_exp", "exp_mini", "synth_lid"):
        assert word not in text, word


def test_moved_steps_take_the_recipe_names_as_options(repo, tmp_path):
    """steps/run_phone_labels.sh and steps/make_bnf_sets.sh (were egs/synth_lid/local/) know
    no set names of one recipe: the recogniser's sets and lexicon are options."""
    def run(*args):
        return subprocess.run(list(args), cwd=repo, capture_output=True, text=True)
    r = run("steps/run_phone_labels.sh", "--help")
    assert r.returncode == 0 and "--asr-set NAME" in r.stdout and "--timings FILE" in r.stdout
    r = run("steps/run_phone_labels.sh", tmp_path, tmp_path / "exp")
    assert r.returncode != 0 and "--asr-set is required" in r.stderr
    (tmp_path / "lexicon.txt").write_text("a a\n")
    r = run("steps/run_phone_labels.sh", "--asr-set", "asr", "--lexicon",
            tmp_path / "missing.txt", tmp_path, tmp_path / "exp")
    assert r.returncode != 0 and "missing.txt does not exist" in r.stderr
    r = run("steps/run_phone_labels.sh", "--asr-set", "asr", "--lexicon",
            tmp_path / "lexicon.txt", "--dev-set", "dev", tmp_path, tmp_path / "exp")
    assert r.returncode != 0 and "--dev-set dev needs --timings" in r.stderr
    r = run("steps/make_bnf_sets.sh", tmp_path, tmp_path / "exp", "train")
    assert r.returncode != 0 and "--asr-set is required" in r.stderr
    for script in ("steps/run_phone_labels.sh", "steps/make_bnf_sets.sh"):
        assert "asr_cmn\"" not in (repo / script).read_text()
    assert not (tmp_path / "exp").exists()
