"""utils/lib.sh helpers: option-keyed .done markers and bounded background jobs."""
import os
import signal
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def sh(script: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", f"set -euo pipefail; . {ROOT}/utils/lib.sh\n{script}"],
                          cwd=cwd, capture_output=True, text=True)


def test_marker_with_other_options_is_not_done(tmp_path):
    r = sh("is_done_with m 'a=1' && echo before\n"
           "mark_done_with m 'a=1 b=2'\n"
           "is_done_with m 'a=1 b=2' && echo same\n"
           "is_done_with m 'a=1 b=3' || echo other\n", tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["same", "other"]
    assert (tmp_path / "m").read_text() == "a=1 b=2\n"
    assert not list(tmp_path.glob("m.tmp.*"))


def test_bg_start_runs_at_most_n_at_once_and_waits_for_all(tmp_path):
    # each job records how many jobs were running when it started (a file per running job)
    # (counted by the glob alone: `ls run.*` fails when a file goes between glob and ls)
    job = ("job() { touch run.$1; local r=(run.*); echo ${#r[@]} > seen.$1; sleep 0.3; "
           "rm run.$1; echo $1 >> finished; }\n")
    r = sh(job + "for i in 1 2 3 4 5; do bg_start 2 job$i job $i; done\nbg_wait_all\n"
           "sort -n finished | tr '\\n' ' '", tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["1", "2", "3", "4", "5"]
    seen = [int((tmp_path / f"seen.{i}").read_text()) for i in range(1, 6)]
    assert max(seen) == 2


def test_bg_failure_stops_the_caller_naming_the_job(tmp_path):
    r = sh("bg_start 2 'grid P100 (see exp/grid_P100/log)' false\n"
           "bg_start 2 ok true\nbg_wait_all\necho not-reached", tmp_path)
    assert r.returncode != 0
    assert "not-reached" not in r.stdout
    assert "grid P100 (see exp/grid_P100/log) failed" in r.stderr


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by its parent) is not running
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def _start_and_stop(tmp_path, before: str = "") -> tuple[subprocess.CompletedProcess, list]:
    """Run a caller with two background jobs, each a script that runs another script in the
    foreground (as lid.sh runs train_nnet.sh), TERM the caller, and return its result and
    the pids of the innermost processes (sleeps)."""
    (tmp_path / "inner.sh").write_text("sleep 60 & echo $! > inner.$1; wait\n")
    (tmp_path / "outer.sh").write_text("bash inner.sh $1\n")
    script = (f"set -euo pipefail; . {ROOT}/utils/lib.sh\n{before}"
              "for i in 1 2; do bg_start 2 job$i bash outer.sh $i; done\nbg_wait_all\n"
              "echo not-reached\n")
    caller = subprocess.Popen(["bash", "-c", script], cwd=tmp_path, stdout=subprocess.PIPE,
                              text=True)
    inner = []
    try:
        deadline = time.time() + 20
        while time.time() < deadline and not all(
                (tmp_path / f"inner.{i}").exists() and (tmp_path / f"inner.{i}").read_text()
                for i in (1, 2)):
            time.sleep(0.05)
        inner = [int((tmp_path / f"inner.{i}").read_text()) for i in (1, 2)]
        assert all(_alive(p) for p in inner)
        caller.send_signal(signal.SIGTERM)
        out, _ = caller.communicate(timeout=20)
        deadline = time.time() + 10
        while time.time() < deadline and any(_alive(p) for p in inner):
            time.sleep(0.05)
        alive = [p for p in inner if _alive(p)]
    finally:
        caller.kill()
        for p in inner:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
    return subprocess.CompletedProcess(caller.args, caller.returncode, out), alive


def test_a_stopped_caller_takes_its_background_jobs_with_it(tmp_path):
    r, alive = _start_and_stop(tmp_path)
    assert r.returncode == -signal.SIGTERM and "not-reached" not in r.stdout
    assert alive == []


def test_the_callers_own_trap_runs_after_the_jobs_are_stopped_and_is_put_back(tmp_path):
    r, alive = _start_and_stop(tmp_path, "trap 'echo own-trap; exit 7' TERM\n")
    assert alive == [] and r.returncode == 7 and "own-trap" in r.stdout
    # after bg_wait_all the caller's trap is in place again
    r = sh("trap 'echo own' TERM\nbg_start 1 j true\ntrap -p TERM\nbg_wait_all\n"
           "trap -p TERM", tmp_path)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "_bg_stop TERM" in lines[0] and lines[1] == "trap -- 'echo own' SIGTERM"


def test_children_are_found_without_pgrep(tmp_path):
    # the /proc walk that replaces pgrep where procps is missing (PATH without it)
    r = sh("sleep 30 & a=$!; sleep 30 & b=$!\n"
           "kids=$(PATH=/nonexistent _bg_children $$)\nkill $a $b\n"
           "for p in $a $b; do grep -qx $p <<< \"$kids\" && echo found; done", tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["found", "found"]
