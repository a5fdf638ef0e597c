"""Local job runner (utils/run_local.sh): run.pl's calling convention, parallel processes.

    utils/run_local.sh [--max-jobs-run M] [--num-threads N] [--mem X] [--gpu G] \\
        JOB=1:N exp/log/x.JOB.log command args...

At most M tasks run at once (default: the number of CPUs). Every task runs even when
others fail; then a non-zero exit of any task fails the call (exit 1) with a message naming
how many failed and the log of the first. --num-threads N exports OMP_NUM_THREADS=N (and
MKL/OpenBLAS) to each task; --mem and --gpu are accepted for compatibility with the cluster
runner and not enforced. Ctrl-C or SIGTERM kills the running tasks (their logs end with
"killed by SIG...") and starts no new ones.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

from lidtool.jobs.report import failure_detail
from lidtool.jobs.script import write_task_script
from lidtool.jobs.spec import Interrupted, JobRequest, JobsFailed, runner_main

PROG = "run_local.sh"




class _Tasks:
    """Starts tasks on demand and can kill every running one (each in its own process group)."""

    def __init__(self, script: str):
        self.script = script
        self.lock = threading.Lock()
        self.running: dict[int, subprocess.Popen] = {}
        self.stopped = False

    def run(self, task: int) -> int | None:
        with self.lock:
            if self.stopped:
                return None
            proc = subprocess.Popen(["bash", self.script, str(task)], stdin=subprocess.DEVNULL,
                                    start_new_session=True)
            self.running[task] = proc
        rc = proc.wait()
        with self.lock:
            self.running.pop(task, None)
        return rc

    def kill_all(self, grace: float = 3.0) -> int:
        with self.lock:
            self.stopped = True
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

    Must be called from the main thread when it is to react to SIGINT/SIGTERM.
    """
    limit = max_jobs_run or req.max_jobs_run or os.cpu_count() or 1
    # The handlers only record the signal and the main loop polls for it: an exception
    # raised at an arbitrary point (Python's KeyboardInterrupt) can leave a future's lock
    # taken inside concurrent.futures, and the clean-up then waits forever.
    signals: list[int] = []
    in_main = threading.current_thread() is threading.main_thread()
    old = {}
    if in_main:
        for sig in (signal.SIGINT, signal.SIGTERM):
            old[sig] = signal.signal(sig, lambda signum, frame: signals.append(signum))
    try:
        with tempfile.TemporaryDirectory(prefix="lidtool-jobs-") as tmp:
            script = str(write_task_script(os.path.join(tmp, "tasks.sh"), req))
            tasks = _Tasks(script)
            results: dict[int, int | None] = {}
            with ThreadPoolExecutor(max_workers=min(limit, len(req.tasks))) as pool:
                futures = {pool.submit(tasks.run, t): t for t in req.tasks}
                pending = set(futures)
                while pending and not signals:
                    done, pending = wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
                    for fut in done:
                        results[futures[fut]] = fut.result()
                if signals:
                    killed = tasks.kill_all()
                    pool.shutdown(wait=True, cancel_futures=True)
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
    sys.exit(main())
