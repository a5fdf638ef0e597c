"""utils/run_local.sh: run.pl's calling convention with bounded parallel local processes."""
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUN_LOCAL = str(ROOT / "utils" / "run_local.sh")


def default_sighup() -> None:
    """preexec_fn: SIGHUP at its default in the runner, also when the tests themselves run
    under nohup (an ignored SIGHUP is inherited, and the runner then keeps its tasks going
    on purpose: see test_an_ignored_sighup_stays_ignored)."""
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


def run(cwd, *args, env=None):
    return subprocess.run([RUN_LOCAL, *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=60)


def body(log: Path) -> list[str]:
    """The command's output lines in a Kaldi log (without the # header and footer)."""
    return [ln for ln in log.read_text().splitlines() if not ln.startswith("#")]


def max_overlap(times_dir: Path) -> int:
    """Most jobs running at one moment, from the `start end` each job wrote to times/JOB."""
    events = []
    for f in times_dir.iterdir():
        start, end = map(float, f.read_text().split())
        events += [(start, 1), (end, -1)]
    running = best = 0
    for _, step in sorted(events, key=lambda e: (e[0], e[1])):
        running += step
        best = max(best, running)
    return best


def test_job_substitution_in_args_and_log_names_and_kaldi_log_format(tmp_path):
    r = run(tmp_path, "JOB=1:3", "exp/deep/log/x.JOB.log", "echo", "task", "JOB", "of", "in.JOB.ark")
    assert r.returncode == 0, r.stderr
    for j in (1, 2, 3):
        lines = (tmp_path / f"exp/deep/log/x.{j}.log").read_text().splitlines()
        assert lines[0] == f"# echo task {j} of in.{j}.ark"
        assert lines[1].startswith("# Started at ")
        assert f"task {j} of in.{j}.ark" in lines
        assert re.fullmatch(r"# Accounting: time=\d+ threads=1", lines[-2])
        assert re.fullmatch(r"# Ended \(code 0\) at .+, elapsed time \d+ seconds", lines[-1])


def test_max_jobs_run_bounds_parallelism(tmp_path):
    (tmp_path / "times").mkdir()
    job = 's=$(date +%s.%N); sleep 1; echo "$s $(date +%s.%N)" > times/JOB'
    r = run(tmp_path, "--max-jobs-run", "2", "JOB=1:4", "log/b.JOB.log", job)
    assert r.returncode == 0, r.stderr
    assert len(list((tmp_path / "times").iterdir())) == 4
    assert max_overlap(tmp_path / "times") == 2


def test_a_failing_job_fails_the_call_and_names_its_log(tmp_path):
    r = run(tmp_path, "JOB=1:4", "log/f.JOB.log", 'echo "about to fail JOB" >&2; exit $(( JOB >= 3 ? 7 : 0 ))')
    assert r.returncode == 1
    assert "2 / 4 jobs failed" in r.stderr and "log/f.*.log" in r.stderr
    assert "first failed: log/f.3.log" in r.stderr
    assert "about to fail 3" in r.stderr  # the tail of the failed log is shown
    assert (tmp_path / "log/f.3.log").read_text().splitlines()[-1].startswith("# Ended (code 7)")
    # the other jobs still ran to the end
    assert (tmp_path / "log/f.1.log").read_text().splitlines()[-1].startswith("# Ended (code 0)")


def test_single_job_form_and_its_failure(tmp_path):
    r = run(tmp_path, "log/one.log", "echo", "only")
    assert r.returncode == 0 and body(tmp_path / "log/one.log") == ["only"]
    r = run(tmp_path, "log/bad.log", "ls", "/no/such/file")
    assert r.returncode == 1
    assert r.stderr.startswith("run_local.sh: job failed, log is in log/bad.log")


def test_quoting_pipes_and_redirections(tmp_path):
    r = run(tmp_path, "JOB=1:2", "log/q.JOB.log", "printf", "%s/", "a  b JOB", "it's", "$HOME",
            "|", "tr", "a-z", "A-Z", ">", "out.JOB.txt")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out.2.txt").read_text() == "A  B 2/IT'S/$HOME/"
    # a quoted one-argument command is a shell command line, with JOB substituted
    r = run(tmp_path, "JOB=1:2", "log/p.JOB.log", "echo JOB-abc | tr a-z A-Z; echo second >&2")
    assert r.returncode == 0, r.stderr
    assert body(tmp_path / "log/p.2.log") == ["2-ABC", "second"]


def test_num_threads_is_exported_and_recorded(tmp_path):
    r = run(tmp_path, "--num-threads", "3", "--mem", "1G", "--gpu", "0", "log/t.log",
            "echo threads=$OMP_NUM_THREADS")
    assert r.returncode == 0, r.stderr
    lines = (tmp_path / "log/t.log").read_text().splitlines()
    assert "threads=3" in lines and lines[-2].endswith("threads=3")


def test_usage_errors(tmp_path):
    r = run(tmp_path, "--bogus", "1", "log/x.log", "true")
    assert r.returncode == 1 and "unknown option --bogus" in r.stderr
    r = run(tmp_path, "JOB=1:2", "log/x.log", "true")
    assert r.returncode == 1 and "put JOB in its name" in r.stderr
    assert not (tmp_path / "log").exists()


def test_job_killed_by_a_signal_counts_as_failed(tmp_path):
    r = run(tmp_path, "log/k.log", "kill -KILL $PPID")  # kills the wrapper: no footer written
    assert r.returncode == 1 and "job failed, log is in log/k.log" in r.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_signal_kills_running_jobs_and_starts_no_more(tmp_path, sig):
    (tmp_path / "pids").mkdir()
    proc = subprocess.Popen([RUN_LOCAL, "--max-jobs-run", "2", "JOB=1:3", "log/s.JOB.log",
                             "echo $$ > pids/JOB; sleep 30 | cat"],
                            cwd=tmp_path, stderr=subprocess.PIPE, text=True,
                            preexec_fn=default_sighup)
    deadline = time.monotonic() + 20
    while len(list((tmp_path / "pids").iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig and "killed 2 running job(s)" in err
    for f in (tmp_path / "pids").iterdir():
        pid = int(f.read_text())
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert not (tmp_path / "log/s.3.log").exists()
    assert "killed by SIGTERM" in (tmp_path / "log/s.1.log").read_text().splitlines()[-1]


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie that no one has reaped yet counts as dead)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def started_pids(pid_dir: Path, n: int) -> list[int]:
    """The pids that n tasks wrote (`$$ $!`: the task's shell and its background sleep)."""
    deadline = time.monotonic() + 20
    while len([f for f in pid_dir.iterdir() if f.read_text().endswith("\n")]) < n:
        assert time.monotonic() < deadline, "the tasks did not start"
        time.sleep(0.05)
    pids = [int(p) for f in pid_dir.iterdir() for p in f.read_text().split()]
    assert len(pids) == 2 * n and all(alive(p) for p in pids)
    return pids


def wait_all_dead(pids: list[int], timeout: float = 60) -> list[int]:
    deadline = time.monotonic() + timeout
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return [p for p in pids if alive(p)]


TASK = 'sleep 60 & echo "$$ $!" > pids/JOB; wait'


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs Linux (/proc, prctl)")
def test_tasks_die_when_the_runner_is_killed_with_sigkill(tmp_path):
    (tmp_path / "pids").mkdir()
    proc = subprocess.Popen([RUN_LOCAL, "JOB=1:2", "log/k.JOB.log", TASK], cwd=tmp_path,
                            stderr=subprocess.DEVNULL)
    try:
        pids = started_pids(tmp_path / "pids", 2)
        proc.kill()
        proc.wait(timeout=10)
        assert wait_all_dead(pids) == []
        # the task wrappers saw the kernel's signal and ended their logs as for a SIGTERM
        logs = [tmp_path / f"log/k.{j}.log" for j in (1, 2)]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and \
                not all("killed by SIGTERM" in log.read_text() for log in logs):
            time.sleep(0.1)
        for log in logs:
            assert "killed by SIGTERM" in log.read_text().splitlines()[-1]
    finally:
        proc.kill()


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs Linux (/proc, prctl)")
def test_runner_stops_its_tasks_when_its_caller_is_killed_with_sigkill(tmp_path):
    (tmp_path / "pids").mkdir()
    caller = tmp_path / "stage.sh"
    caller.write_text(f"#!/usr/bin/env bash\n{RUN_LOCAL} JOB=1:2 log/c.JOB.log '{TASK}'\n"
                      "echo not reached\n")
    caller.chmod(0o755)
    proc = subprocess.Popen([str(caller)], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, preexec_fn=default_sighup)
    try:
        pids = started_pids(tmp_path / "pids", 2)
        proc.kill()
        proc.wait(timeout=10)
        assert wait_all_dead(pids) == []
    finally:
        proc.kill()


def test_an_ignored_sighup_stays_ignored(tmp_path):
    """Under nohup the tasks are to survive a closed terminal."""
    (tmp_path / "pids").mkdir()
    proc = subprocess.Popen(["nohup", RUN_LOCAL, "JOB=1:1", "log/n.JOB.log",
                             'echo "$$ $$" > pids/JOB; sleep 1'], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    started_pids(tmp_path / "pids", 1)
    proc.send_signal(signal.SIGHUP)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "Ended (code 0)" in (tmp_path / "log/n.1.log").read_text()
