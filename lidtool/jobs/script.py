"""The bash script that runs one task of a JobRequest and writes its Kaldi-style log.

Both runners use it: the local runner starts `bash SCRIPT TASK group` per task (each the
leader of its own process group, to which the script passes on a stop signal), the Slurm
batch script runs `bash SCRIPT` with the task id taken from SLURM_ARRAY_TASK_ID. Each log looks
like run.pl's:

    # <command line>
    # Started at <date>
    # Running on <host>
    #
    <stdout and stderr of the command>
    # Accounting: time=<seconds> threads=<N>
    # Ended (code <exit status>) at <date>, elapsed time <seconds> seconds

With a status directory the script also writes the exit status to STATUS_DIR/<task>
(temp file then rename), which is how the Slurm runner learns each task's result without
relying on Slurm accounting.
"""
from __future__ import annotations

import os
import shlex
from pathlib import Path

from lidtool.fileio import atomic_open
from lidtool.jobs.spec import JobRequest

_BODY = r"""
if [ -n "$threads_env" ]; then
  export OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads
fi
mkdir -p -- "$(dirname -- "$log")" || { echo "$0: cannot create the directory of $log" >&2; exit 1; }
start=$(date +%s)
{
  printf '%s\n' "$cmd" | sed 's/^/# /'
  echo "# Started at $(date)"
  echo "# Running on $(hostname)${SLURM_JOB_ID:+ (Slurm job ${SLURM_ARRAY_JOB_ID:-$SLURM_JOB_ID}${SLURM_ARRAY_TASK_ID:+_$SLURM_ARRAY_TASK_ID})}"
  echo "#"
} > "$log" || { echo "$0: cannot write $log" >&2; exit 1; }
pid=
signal=
# stop_command: SIGTERM to the command; a wrapper that leads its process group (the local
# runner's, which may be signalled alone: by the kernel when the runner dies) sends it to
# the whole group, reaching every process the command started.
stop_command() {
  [ -n "$pid" ] || return 0
  if [ -n "$group" ]; then
    trap '' TERM INT HUP
    kill -TERM -- "-$$" 2>/dev/null
  else
    kill -TERM "$pid" 2>/dev/null
  fi
  return 0
}
trap 'signal=TERM; stop_command' TERM
trap 'signal=INT; stop_command' INT
trap 'signal=HUP; stop_command' HUP
bash -c "$cmd" >> "$log" 2>&1 < /dev/null &
pid=$!
[ -z "$signal" ] || stop_command
wait "$pid"; rc=$?
while kill -0 "$pid" 2>/dev/null; do wait "$pid"; rc=$?; done
end=$(date +%s)
ended="code $rc"
[ -n "$signal" ] && ended="$ended; killed by SIG$signal"
{
  echo "# Accounting: time=$((end - start)) threads=$threads"
  echo "# Ended ($ended) at $(date), elapsed time $((end - start)) seconds"
} >> "$log"
if [ -n "$status_dir" ]; then
  mkdir -p -- "$status_dir" && echo "$rc" > "$status_dir/.$task.tmp" \
    && mv -f -- "$status_dir/.$task.tmp" "$status_dir/$task"
fi
exit "$rc"
"""


def write_task_script(path, req: JobRequest, cwd=None, status_dir=None) -> Path:
    """Write the runnable script for all tasks of `req` to `path` (atomically).

    `cwd` is where the tasks run (default: the current directory); `status_dir`, if given,
    receives one file per task holding its exit status.
    """
    path = Path(path)
    cwd = os.path.abspath(cwd or os.getcwd())
    q = shlex.quote
    lines = [
        "#!/usr/bin/env bash",
        f"# Written by lidtool.jobs: {len(req.tasks)} task(s); "
        f"run as `bash {path.name} TASK [group]`.",
        'task=${1:-${SLURM_ARRAY_TASK_ID:-}}',
        'group=${2:-}',
        f"cd {q(cwd)} || exit 1",
        f"threads={req.num_threads}",
        f"threads_env={'1' if 'num-threads' in req.explicit else ''}",
        f"status_dir={q(os.path.abspath(status_dir)) if status_dir else ''}",
        'case "$task" in',
    ]
    for task in req.tasks:
        lines.append(f"  {task}) log={q(req.log_for(task))}; cmd={q(req.command_for(task))} ;;")
    lines.append(f'  *) echo "$0: no task \'$task\' (this script has tasks '
                 f'{req.start}-{req.end})" >&2; exit 2 ;;')
    lines.append("esac")
    with atomic_open(path) as f:
        f.write("\n".join(lines) + _BODY)
    return path
