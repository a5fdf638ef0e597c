"""utils/run_slurm.sh against a real one-node Slurm started on localhost for this session."""
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUN_SLURM = str(ROOT / "utils" / "run_slurm.sh")
CLUSTER = str(ROOT / "utils" / "slurm_localhost.sh")
NEEDED = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "scontrol", "scancel")


def _free_port_pair() -> int:
    for _ in range(200):
        port = random.randrange(20000, 40000)
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 1))
            return port
        except OSError:
            continue
    raise RuntimeError("no two free adjacent TCP ports for slurmctld/slurmd")


@pytest.fixture(scope="session")
def slurm_env():
    missing = [t for t in NEEDED if shutil.which(t) is None]
    if missing:
        pytest.skip("slurm-wlm/munge not installed (missing " + ", ".join(missing)
                    + "); apt-get install slurm-wlm munge")
    state = tempfile.mkdtemp(prefix="lidtool-slurm-test.", dir="/tmp")
    os.chmod(state, 0o755)  # munged wants a socket path that everyone can traverse
    env = {**os.environ, "LIDTOOL_SLURM_DIR": state, "LIDTOOL_SLURM_PORT": str(_free_port_pair())}
    up = subprocess.run([CLUSTER, "start"], env=env, capture_output=True, text=True, timeout=90)
    try:
        assert up.returncode == 0, f"could not start the localhost Slurm:\n{up.stderr}"
        conf = re.search(r"export SLURM_CONF=(\S+)", up.stdout).group(1)
        yield {**env, "SLURM_CONF": conf, "LIDTOOL_SLURM_POLL": "0.2",
               "LIDTOOL_SLURM_STATUS_GRACE": "1"}
    finally:
        subprocess.run([CLUSTER, "stop"], env=env, capture_output=True, timeout=60)
        shutil.rmtree(state, ignore_errors=True)


def run(env, cwd, *args, extra_env=None):
    return subprocess.run([RUN_SLURM, *args], cwd=cwd, capture_output=True, text=True,
                          env={**env, **(extra_env or {})}, timeout=120)


def body(log: Path) -> list[str]:
    return [ln for ln in log.read_text().splitlines() if not ln.startswith("#")]


def max_overlap(times_dir: Path) -> int:
    events = []
    for f in times_dir.iterdir():
        start, end = map(float, f.read_text().split())
        events += [(start, 1), (end, -1)]
    running = best = 0
    for _, step in sorted(events):
        running += step
        best = max(best, running)
    return best


def test_cluster_start_is_idempotent(slurm_env):
    r = subprocess.run([CLUSTER, "start"], env=slurm_env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "already running" in r.stderr
    r = subprocess.run([CLUSTER, "status"], env=slurm_env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "idle" in r.stdout


def test_array_job_substitution_resources_and_log_format(slurm_env, tmp_path):
    r = run(slurm_env, tmp_path, "--mem", "100M", "--num-threads", "1", "JOB=1:3",
            "exp/log/x.JOB.log", "echo", "task JOB", "in.JOB.ark",
            "cpus=$SLURM_CPUS_PER_TASK mem=$SLURM_MEM_PER_NODE omp=$OMP_NUM_THREADS", "|", "cat")
    assert r.returncode == 0, r.stderr
    for j in (1, 2, 3):
        log = tmp_path / f"exp/log/x.{j}.log"
        lines = log.read_text().splitlines()
        assert lines[0].startswith(f"# echo 'task {j}' in.{j}.ark")
        assert re.search(r"Slurm job \d+_%d" % j, log.read_text())
        # --mem / --num-threads reached Slurm; spaced args with $ stay literal
        assert body(log) == [f"task {j} in.{j}.ark cpus=$SLURM_CPUS_PER_TASK "
                             "mem=$SLURM_MEM_PER_NODE omp=$OMP_NUM_THREADS"]
        assert lines[-1].startswith("# Ended (code 0)")
    r = run(slurm_env, tmp_path, "--mem", "100M", "--num-threads", "2", "JOB=4:4",
            "exp/log/x.JOB.log", "echo cpus=$SLURM_CPUS_PER_TASK mem=$SLURM_MEM_PER_NODE"
            " omp=$OMP_NUM_THREADS task=$SLURM_ARRAY_TASK_ID")
    assert r.returncode == 0, r.stderr
    assert body(tmp_path / "exp/log/x.4.log") == ["cpus=2 mem=100 omp=2 task=4"]


def test_max_jobs_run_throttles_the_array(slurm_env, tmp_path):
    (tmp_path / "times").mkdir()
    job = 's=$(date +%s.%N); sleep 0.3; echo "$s $(date +%s.%N)" > times/JOB'
    r = run(slurm_env, tmp_path, "--max-jobs-run", "1", "--mem", "10M", "JOB=1:3",
            "log/b.JOB.log", job)
    assert r.returncode == 0, r.stderr
    assert len(list((tmp_path / "times").iterdir())) == 3
    assert max_overlap(tmp_path / "times") == 1  # the node has room for 2; %1 allows one


def test_failures_are_counted_and_the_first_log_named(slurm_env, tmp_path):
    r = run(slurm_env, tmp_path, "JOB=1:3", "log/f.JOB.log",
            'echo "failing JOB"; exit $(( JOB >= 2 ? 3 : 0 ))')
    assert r.returncode == 1
    assert "2 / 3 jobs failed, log is in log/f.*.log (first failed: log/f.2.log)" in r.stderr
    assert "failing 2" in r.stderr
    assert (tmp_path / "log/f.3.log").read_text().splitlines()[-1].startswith("# Ended (code 3)")


def test_single_job_form_and_pipes(slurm_env, tmp_path):
    r = run(slurm_env, tmp_path, "log/one.log", "echo", "abc", "|", "tr", "a-z", "A-Z", ">", "o.txt")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "o.txt").read_text() == "ABC\n"
    r = run(slurm_env, tmp_path, "log/two.log", "false")
    assert r.returncode == 1 and "job failed, log is in log/two.log" in r.stderr


def test_a_task_that_dies_without_a_status_fails_the_call(slurm_env, tmp_path):
    r = run(slurm_env, tmp_path, "log/k.log", "kill -KILL $PPID")  # kills the task wrapper
    assert r.returncode == 1
    assert "job failed, log is in log/k.log" in r.stderr
    assert "ended without writing an exit status" in r.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_cancels_the_array_job(slurm_env, tmp_path, sig):
    # SIGHUP at its default even when the tests run under nohup (it would be inherited)
    proc = subprocess.Popen([RUN_SLURM, "JOB=1:2", "log/c.JOB.log", "echo started; sleep 60"],
                            cwd=tmp_path, env=slurm_env, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL))
    log = tmp_path / "log/c.1.log"
    deadline = time.monotonic() + 90
    while not (log.exists() and "started" in log.read_text()) and time.monotonic() < deadline:
        time.sleep(0.1)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=90)
    assert proc.returncode == 128 + sig
    job_id = re.search(r"cancelled Slurm job (\d+)", err).group(1)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        q = subprocess.run(["squeue", "-h", "-j", job_id], env=slurm_env, capture_output=True,
                           text=True)
        if not q.stdout.strip():
            break
        time.sleep(0.2)
    assert not q.stdout.strip(), f"job {job_id} still queued after scancel:\n{q.stdout}"
