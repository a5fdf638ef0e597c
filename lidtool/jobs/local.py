"""Local job runner (utils/run_local.sh): run.pl's calling convention, parallel processes.

    utils/run_local.sh [--max-jobs-run M] [--num-threads N] [--mem X] [--gpu G] \\
        JOB=1:N exp/log/x.JOB.log command args...

At most M tasks run at once (default: the number of CPUs). Every task runs even when
others fail; then a non-zero exit of any task fails the call (exit 1) with a message naming
how many failed and the log of the first. --num-threads N exports OMP_NUM_THREADS=N (and
MKL/OpenBLAS) to each task; --mem and --gpu are accepted for compatibility with the cluster
runner and not enforced. Ctrl-C, SIGTERM or SIGHUP (a closed terminal) kills the running
tasks (their logs end with "killed by SIG...") and starts no new ones. The tasks never
outlive the runner: on Linux each gets SIGTERM when the runner dies, even by SIGKILL, and
the runner itself stops its tasks when the script that called it dies (except under nohup).
"""
from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

from lidtool.jobs.report import failure_detail
from lidtool.jobs.script import write_task_script
from lidtool.jobs.spec import Interrupted, JobRequest, JobsFailed, runner_main

PROG = "run_local.sh"


# Linux prctl(PR_SET_PDEATHSIG): the kernel signals a process when its parent dies, which is
# the only way that children learn of a parent killed with SIGKILL. Absent elsewhere.
_PR_SET_PDEATHSIG = 1
try:
    _prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") \
        else None
except (OSError, AttributeError):
    _prctl = None

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def die_with_parent(sig: int = signal.SIGTERM, parent: int | None = None) -> None:
    """Ask the kernel to send `sig` to this process when its parent dies (no-op off Linux).
    With `parent` given (the pid that forked us), a parent that died already counts too."""
    if _prctl is None:
        return
    _prctl(_PR_SET_PDEATHSIG, int(sig))
    if parent is not None and os.getppid() != parent:
        os.kill(os.getpid(), sig)


class _Tasks:
    """Starts tasks, each in its own process group (so that kill_all reaches everything a
    task started) and tied to the runner's life; polled from the runner's one thread, since
    a child's prctl must run between fork and exec, which is unsafe beside other threads."""

    def __init__(self, script: str):
        self.script = script
        self.running: dict[int, subprocess.Popen] = {}

    def start(self, task: int) -> None:
        runner = os.getpid()
        # "group": the wrapper leads its process group and passes signals on to all of it
        self.running[task] = subprocess.Popen(
            ["bash", self.script, str(task), "group"], stdin=subprocess.DEVNULL,
            start_new_session=True, preexec_fn=lambda: die_with_parent(signal.SIGTERM, runner))

    def reap(self) -> dict[int, int]:
        """Exit statuses of the tasks that ended since the last call."""
        ended = {t: p.returncode for t, p in self.running.items() if p.poll() is not None}
        for task in ended:
            del self.running[task]
        return ended

    def kill_all(self, grace: float = 3.0) -> int:
        procs = list(self.running.values())
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for proc in procs:
                if proc.poll() is None:
                    try:
                        os.killpg(proc.pid, sig)
                    except ProcessLookupError:
                        pass
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline and any(p.poll() is None for p in procs):
                time.sleep(0.05)
        return len(procs)


def run_local(req: JobRequest, max_jobs_run: int | None = None, prog: str = PROG) -> None:
    """Run every task of `req`; raise JobsFailed if any exits non-zero, Interrupted on a signal.

    Must be called from the main thread when it is to react to SIGINT/SIGTERM/SIGHUP.
    """
    limit = max_jobs_run or req.max_jobs_run or os.cpu_count() or 1
    # The handlers only record the signal and the loop polls for it: an exception raised at
    # an arbitrary point (Python's KeyboardInterrupt) could leave a task started but unseen.
    signals: list[int] = []
    in_main = threading.current_thread() is threading.main_thread()
    old = {}
    if in_main:
        for sig in STOP_SIGNALS:
            # An ignored SIGHUP (nohup) stays ignored: the tasks are to survive the terminal.
            if sig == signal.SIGHUP and signal.getsignal(sig) == signal.SIG_IGN:
                continue
            old[sig] = signal.signal(sig, lambda signum, frame: signals.append(signum))
    results: dict[int, int] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="lidtool-jobs-") as tmp:
            script = str(write_task_script(os.path.join(tmp, "tasks.sh"), req))
            tasks = _Tasks(script)
            queue = list(req.tasks)
            while (queue or tasks.running) and not signals:
                while queue and len(tasks.running) < limit and not signals:
                    tasks.start(queue.pop(0))
                results.update(tasks.reap())
                time.sleep(0.05)
            if signals:
                killed = tasks.kill_all()
                raise Interrupted(PROG, signals[0], f"killed {killed} running job(s)")
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
    failed = sorted(t for t, rc in results.items() if rc != 0)
    if failed:
        first = req.log_for(failed[0])
        raise JobsFailed(prog, failed, len(req.tasks), first, req.log_pattern,
                         failure_detail(first, results[failed[0]]))


def main(argv: list[str] | None = None) -> int:
    return runner_main(sys.argv[1:] if argv is None else argv, __doc__, PROG, run_local)


if __name__ == "__main__":
    # As a program, the runner stops its tasks (SIGTERM handler) when its caller dies,
    # unless started under nohup (SIGHUP ignored): then it is meant to outlive its shell.
    if signal.getsignal(signal.SIGHUP) != signal.SIG_IGN:
        die_with_parent(signal.SIGTERM, os.getppid())
    sys.exit(main())
