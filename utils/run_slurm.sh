#!/usr/bin/env bash
# Slurm job runner with Kaldi's run.pl calling convention (one sbatch array job, waits for it):
#   utils/run_slurm.sh [--mem 4G] [--num-threads N] [--max-jobs-run M] [--gpu G] \
#       JOB=1:N exp/log/x.JOB.log command args...
# Extra sbatch options: export LIDTOOL_SLURM_OPTS="--partition=cpu --time=4:00:00".
# See `python -m lidtool.jobs.slurm --help` (lidtool/jobs/slurm.py) for the details.
root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
python=${LIDTOOL_PYTHON:-$root/.venv/bin/python}
[ -x "$python" ] || python=python3
PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" exec "$python" -m lidtool.jobs.slurm "$@"
