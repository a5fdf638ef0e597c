import subprocess


def run_script(tmp_path, repo, body, *args):
    script = tmp_path / "s.sh"
    script.write_text(f"""#!/usr/bin/env bash
set -euo pipefail
foo_bar=default
nj=1
help_message="usage: s.sh [--foo-bar x] [--nj n] <arg>"
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
