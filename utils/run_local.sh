#!/usr/bin/env bash
# Local job runner with Kaldi's run.pl calling convention (parallel processes, bounded):
#   utils/run_local.sh [--max-jobs-run M] [--num-threads N] [--mem X] [--gpu G] \
#       JOB=1:N exp/log/x.JOB.log command args...
#   utils/run_local.sh exp/log/x.log command args...
# See `python -m lidtool.jobs.local --help` (lidtool/jobs/local.py) for the details.
root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
python=${LIDTOOL_PYTHON:-$root/.venv/bin/python}
[ -x "$python" ] || python=python3
PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" exec "$python" -m lidtool.jobs.local "$@"
