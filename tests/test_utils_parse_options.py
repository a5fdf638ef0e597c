import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def run_script(tmp_path, repo, body, *args):
    script = tmp_path / "s.sh"
    script.write_text(f"""#!/usr/bin/env bash
set -euo pipefail
foo_bar=default
nj=1
mini=false
stage=0
stop_stage=100
min_dur=0
help_message="usage: s.sh [--foo-bar x] [--nj n] [--mini b] [--stage n] <arg>"
. {repo}/utils/parse_options.sh
{body}
""")
    script.chmod(0o755)
    return subprocess.run([str(script), *args], capture_output=True, text=True)


def test_dashes_map_to_underscores(tmp_path, repo):
    r = run_script(tmp_path, repo, 'echo "$foo_bar $nj $*"', "--foo-bar", "x y", "--nj=4", "pos")
    assert r.returncode == 0 and r.stdout == "x y 4 pos\n"


def test_unknown_option_is_an_error(tmp_path, repo):
    r = run_script(tmp_path, repo, "echo ran", "--foo-baz", "1", "pos")
    assert r.returncode == 1
    assert "unknown option --foo-baz" in r.stderr and "ran" not in r.stdout


def test_config_file_then_override(tmp_path, repo):
    (tmp_path / "c.conf").write_text("foo_bar=fromconf\nnj=8\n")
    r = run_script(tmp_path, repo, 'echo "$foo_bar $nj"', "--config", str(tmp_path / "c.conf"),
                   "--nj", "2")
    assert r.stdout == "fromconf 2\n"


def test_help_prints_help_message(tmp_path, repo):
    r = run_script(tmp_path, repo, "echo ran", "--help")
    assert r.returncode == 0 and r.stdout.startswith("usage: s.sh") and "ran" not in r.stdout


def test_missing_value_and_missing_config(tmp_path, repo):
    assert "needs a value" in run_script(tmp_path, repo, "true", "--nj").stderr
    r = run_script(tmp_path, repo, "true", "--config", str(tmp_path / "none.conf"))
    assert r.returncode == 1 and "does not exist" in r.stderr


def test_lib_mark_done(tmp_path, repo):
    r = subprocess.run(["bash", "-c", f". {repo}/utils/lib.sh; is_done {tmp_path}/x/.done || "
                        f"echo notyet; mark_done {tmp_path}/x/.done; is_done {tmp_path}/x/.done "
                        f"&& echo done; log hello"], capture_output=True, text=True)
    assert r.stdout == "notyet\ndone\n"
    assert "hello" in r.stderr and (tmp_path / "x" / ".done").is_file()


@pytest.mark.parametrize("value", ["yes", "1", "True", ""])
@pytest.mark.parametrize("form", ["separate", "equals"])
def test_boolean_option_takes_only_true_or_false(tmp_path, repo, value, form):
    args = ["--mini", value] if form == "separate" else [f"--mini={value}"]
    r = run_script(tmp_path, repo, 'echo "ran $mini"', *args)
    assert r.returncode == 1 and "ran" not in r.stdout
    assert f"option --mini takes true or false, not '{value}'" in r.stderr


def test_boolean_option_accepts_true_and_false(tmp_path, repo):
    r = run_script(tmp_path, repo, 'echo "$mini"', "--mini", "true")
    assert r.returncode == 0 and r.stdout == "true\n"
    r = run_script(tmp_path, repo, 'echo "$mini"', "--mini=false")
    assert r.returncode == 0 and r.stdout == "false\n"


@pytest.mark.parametrize("opt,value", [("--stage", "abc"), ("--stop-stage", "3.5"),
                                       ("--stage", ""), ("--nj", "four")])
def test_stage_and_nj_take_integers(tmp_path, repo, opt, value):
    r = run_script(tmp_path, repo, "echo ran", opt, value)
    assert r.returncode == 1 and "ran" not in r.stdout
    assert f"option {opt} takes an integer, not '{value}'" in r.stderr


def test_integers_and_other_numbers_pass(tmp_path, repo):
    r = run_script(tmp_path, repo, 'echo "$stage $stop_stage $nj $min_dur"', "--stage", "-1",
                   "--stop-stage=7", "--nj", "8", "--min-dur", "0.5")
    assert r.returncode == 0 and r.stdout == "-1 7 8 0.5\n"


def lib(repo, body):
    return subprocess.run(["bash", "-c", f"set -euo pipefail; . {repo}/utils/lib.sh; {body}"],
                          capture_output=True, text=True, cwd=repo)


@pytest.mark.parametrize("args,ok", [("0 100 7", True), ("5 7 7", True), ("7 7 7", True),
                                     ("3 3 7", True), ("-1 0 7", True), ("9 100 7", False),
                                     ("5 3 7", False), ("0 -1 7", False), ("2 4 7 3", True),
                                     ("0 2 7 3", False)])
def test_check_stage_range(repo, args, ok):
    r = lib(repo, f"check_stage_range {args}; echo ran")
    assert (r.returncode == 0 and r.stdout == "ran\n") == ok, r.stderr
    if not ok:
        assert "selects no stage" in r.stderr


def test_check_stage_range_messages(repo):
    r = lib(repo, "check_stage_range 9 100 7")
    assert "--stage 9 --stop-stage 100 selects no stage: this recipe's stages are 0..7" in r.stderr
    r = lib(repo, "check_stage_range 5 3 7")
    assert "--stop-stage is before --stage" in r.stderr
    r = lib(repo, "check_stage_range x 3 7")
    assert r.returncode == 1 and "must be integers, got 'x'" in r.stderr


def test_require_cmd(repo):
    r = lib(repo, 'require_cmd ""; echo ran')
    assert r.returncode == 1 and "ran" not in r.stdout
    assert "--cmd is empty" in r.stderr and "--cmd utils/run_local.sh" in r.stderr
    assert "cmd.sh" in r.stderr
    r = lib(repo, 'require_cmd "no_such_runner.pl --mem 4G"; echo ran')
    assert r.returncode == 1 and "'no_such_runner.pl' is not a command" in r.stderr
    r = lib(repo, 'require_cmd "utils/run_local.sh --mem 4G"; echo ran')
    assert r.returncode == 0 and r.stdout == "ran\n"


STEPS_WITH_CMD = sorted(str(p.relative_to(REPO)) for p in (REPO / "steps").rglob("*.sh")
                        if "--cmd" in p.read_text())


def required_args(repo, step) -> int:
    """How many positional arguments the usage line of `step --help` requires."""
    usage = subprocess.run([step, "--help"], cwd=repo, capture_output=True,
                           text=True).stdout.splitlines()[0]
    return len(re.findall(r"<[^>]+>", re.sub(r"\[.*\]", "", usage.split("[options]", 1)[1])))


@pytest.mark.parametrize("step", STEPS_WITH_CMD)
def test_every_step_with_cmd_refuses_an_empty_one(tmp_path, repo, step):
    n_args = required_args(repo, step)
    assert n_args >= 1
    args = [str(tmp_path / f"arg{i}") for i in range(n_args)]
    r = subprocess.run([step, "--cmd", "", *args], cwd=repo, capture_output=True, text=True)
    assert r.returncode == 1 and "--cmd is empty" in r.stderr, (step, r.stderr)
    assert not any((tmp_path / f"arg{i}").exists() for i in range(n_args))


def test_make_feats_with_empty_cmd_names_the_fix(tiny_data_dir, repo):
    r = subprocess.run(["steps/make_feats.sh", "--cmd", "", str(tiny_data_dir)], cwd=repo,
                       capture_output=True, text=True)
    assert r.returncode == 1
    assert "--cmd is empty" in r.stderr and "command not found" not in r.stderr
    assert not (tiny_data_dir / "feats.scp").exists() and not (tiny_data_dir / "log").exists()


@pytest.mark.parametrize("step", STEPS_WITH_CMD)
def test_every_step_with_cmd_checks_it_and_locks_what_it_writes(repo, step):
    text = (repo / step).read_text()
    # lock_dir "$dir", or (a step that writes several dirs) lock_dir "${dirs[$i]}" in a loop
    assert 'require_cmd "$cmd"' in text and \
        re.search(r'^\s*lock_dir "\$(\w+|\{\w+\[\$\w+\]\})"$', text, re.M), step
