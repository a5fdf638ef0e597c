"""Slurm job runner (utils/run_slurm.sh): run.pl's calling convention as one sbatch array job.

    utils/run_slurm.sh [--mem 4G] [--num-threads N] [--max-jobs-run M] [--gpu G] \\
        JOB=1:N exp/log/x.JOB.log command args...

Submits `sbatch --array=1-N%M`, mapping --mem X -> --mem=X, --num-threads N ->
--cpus-per-task=N (and OMP_NUM_THREADS=N in the task), --gpu G -> --gres=gpu:G. Each array
task writes the Kaldi log (JOB = its SLURM_ARRAY_TASK_ID) and its exit status to a file in
<logdir>/q/, so the runner needs no Slurm accounting. The runner waits for the array to leave
the queue, then fails (exit 1) if any task exited non-zero or wrote no status (cancelled,
out of time or memory, node failure), naming how many failed and the log of the first.
Ctrl-C, SIGTERM or SIGHUP (unless ignored, as under nohup) cancels the array job (scancel).

Environment: LIDTOOL_SLURM_OPTS extra sbatch options (e.g. "--partition=cpu --time=4:00:00",
given before the mapped ones, so --mem etc. from the call win); LIDTOOL_SLURM_POLL seconds
between queue checks (default 1); LIDTOOL_SLURM_STATUS_GRACE seconds to wait for a status
file after the job left the queue (default 15, for slow shared file systems); SLURM_CONF as usual for the Slurm commands. Files kept for
debugging in <logdir>/q/: <name>.sh (the tasks), <name>.<task>.out (Slurm's own output of
a task: errors of the wrapper itself), <name>.status/<task>.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from lidtool.jobs.report import failure_detail
from lidtool.jobs.script import write_task_script
from lidtool.jobs.spec import Interrupted, JobError, JobRequest, JobsFailed, runner_main

PROG = "run_slurm.sh"
STATUS_GRACE_S = 15.0  # default; shared file systems may show a status file a little late




class _Terminate(Exception):
    pass


def _raise_terminate(signum, frame):
    raise _Terminate(signum)


def job_name(req: JobRequest) -> str:
    """Short name for the q/ files and the Slurm job: the log name without JOB and .log."""
    name = os.path.basename(req.log_template)
    if name.endswith(".log"):
        name = name[:-4]
    if req.var:
        name = re.sub(r"[._-]*" + re.escape(req.var), "", name).strip("._-")
    return name or "job"


def sbatch_args(req: JobRequest, extra_opts: str | None = None) -> list[str]:
    """The sbatch options for `req` (without the script): extra options first, then mapped ones."""
    if extra_opts is None:
        extra_opts = os.environ.get("LIDTOOL_SLURM_OPTS", "")
    args = shlex.split(extra_opts)
    array = f"{req.start}-{req.end}"
    if req.max_jobs_run:
        array += f"%{req.max_jobs_run}"
    args += [f"--array={array}", f"--job-name={job_name(req)}"]
    if req.mem:
        args.append(f"--mem={req.mem}")
    if "num-threads" in req.explicit:
        args.append(f"--cpus-per-task={req.num_threads}")
    if req.gpu:
        args.append(f"--gres=gpu:{req.gpu}")
    return args


def _tool(name: str) -> str:
    path = shutil.which(name)
    if not path:
        raise JobError(f"{PROG}: `{name}` not found; the Slurm runner needs the Slurm client "
                       "commands (apt-get install slurm-client), or use utils/run_local.sh")
    return path


def submit(req: JobRequest, qdir: Path, name: str) -> str:
    """Write the task script, clear old status files, sbatch the array; return the job id."""
    qdir.mkdir(parents=True, exist_ok=True)
    status_dir = qdir / f"{name}.status"
    for task in req.tasks:  # a stale status from an earlier run must never count
        for stale in (status_dir / str(task), Path(req.log_for(task))):
            if stale.exists():
                stale.unlink()
    script = write_task_script(qdir / f"{name}.sh", req, status_dir=status_dir)
    cmd = [_tool("sbatch"), "--parsable", *sbatch_args(req),
           f"--output={qdir / name}.%a.out", f"--chdir={os.getcwd()}",
           f"--wrap=exec bash {shlex.quote(str(script.resolve()))}"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise JobError(f"{PROG}: sbatch failed (exit {proc.returncode}): "
                       f"{proc.stderr.strip() or proc.stdout.strip()}\n  command: "
                       + shlex.join(cmd))
    job_id = proc.stdout.strip().split(";")[0]
    if not job_id.isdigit():
        raise JobError(f"{PROG}: could not read a job id from sbatch's output {proc.stdout!r}")
    return job_id


def _in_queue(job_id: str) -> bool | None:
    """True while any task of the job is pending/running; None if squeue could not say."""
    proc = subprocess.run([_tool("squeue"), "-h", "-j", job_id, "-o", "%i"],
                          capture_output=True, text=True)
    if proc.returncode == 0:
        return bool(proc.stdout.strip())
    if "Invalid job id" in proc.stderr:
        return False
    return None


def _read_status(status_dir: Path, task: int) -> int | None:
    try:
        return int((status_dir / str(task)).read_text().strip())
    except (OSError, ValueError):
        return None


def wait_for(job_id: str, req: JobRequest, status_dir: Path, poll: float) -> dict[int, int | None]:
    """Wait until every task wrote its status, or the job left the queue; task -> exit status."""
    grace = float(os.environ.get("LIDTOOL_SLURM_STATUS_GRACE", STATUS_GRACE_S))
    gone_since = None
    while True:
        status = {t: _read_status(status_dir, t) for t in req.tasks}
        if all(v is not None for v in status.values()):
            return status
        queued = _in_queue(job_id)
        if queued is False:
            gone_since = gone_since or time.monotonic()
            if time.monotonic() - gone_since > grace:
                return status
        elif queued:
            gone_since = None
        time.sleep(poll)


def run_slurm(req: JobRequest, poll: float | None = None, prog: str = PROG) -> str:
    """Submit `req` as an array job and wait; JobsFailed if any task failed. Returns the job id."""
    if poll is None:
        poll = float(os.environ.get("LIDTOOL_SLURM_POLL", "1"))
    name = job_name(req)
    logdir = Path(os.path.dirname(req.log_template) or ".")
    while req.var and req.var in str(logdir) and logdir != logdir.parent:  # log/JOB/x.log
        logdir = logdir.parent
    qdir = logdir / "q"
    status_dir = qdir / f"{name}.status"
    in_main = threading.current_thread() is threading.main_thread()
    # SIGHUP (a closed terminal) cancels the jobs too, unless it is ignored (nohup).
    stops = [signal.SIGTERM] + ([signal.SIGHUP] if signal.getsignal(signal.SIGHUP)
                                != signal.SIG_IGN else [])
    old = {sig: signal.signal(sig, _raise_terminate) for sig in stops} if in_main else {}
    job_id = None
    try:
        job_id = submit(req, qdir, name)
        status = wait_for(job_id, req, status_dir, poll)
    except (KeyboardInterrupt, _Terminate) as err:
        signum = err.args[0] if isinstance(err, _Terminate) else signal.SIGINT
        if job_id is not None:
            subprocess.run([_tool("scancel"), job_id], capture_output=True)
        raise Interrupted(PROG, signum, f"cancelled Slurm job {job_id or '(not submitted)'}") from None
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
    failed = sorted(t for t, rc in status.items() if rc != 0)
    if failed:
        first = failed[0]
        detail = failure_detail(req.log_for(first), status[first])
        if status[first] is None:
            detail += (f"\n  (Slurm job {job_id}_{first} ended without writing an exit status: "
                       f"cancelled, out of time/memory or node failure; see "
                       f"{qdir / name}.{first}.out)")
        raise JobsFailed(prog, failed, len(req.tasks), req.log_for(first), req.log_pattern,
                         detail)
    return job_id


def main(argv: list[str] | None = None) -> int:
    return runner_main(sys.argv[1:] if argv is None else argv, __doc__, PROG, run_slurm)


if __name__ == "__main__":
    sys.exit(main())
