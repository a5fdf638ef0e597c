# Sourced by run.sh: the lidtool virtualenv first on PATH, C locale for Kaldi sorting.
LIDTOOL_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export LIDTOOL_ROOT
export PATH="$LIDTOOL_ROOT/.venv/bin:$PWD/utils:$PATH"
export LC_ALL=C
export PYTHONUNBUFFERED=1
# Two cores: one intra-op thread per job unless the job asks for more (--num-threads).
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
