# Sourced by a recipe's run.sh and by lid.sh (recipes link it: egs/TEMPLATE/setup_recipe.sh):
# the lidtool virtualenv first on PATH, C locale for Kaldi sorting.
# The repository root is found through the recipe's utils link, so a copy of a recipe
# directory elsewhere (with its steps/utils links) still finds lidtool.
LIDTOOL_ROOT=$(cd -P "$(dirname "${BASH_SOURCE[0]}")/utils" && cd .. && pwd)
export LIDTOOL_ROOT
export PATH="$LIDTOOL_ROOT/.venv/bin:$PWD/utils:$PATH"
# the lidtool of this checkout, whichever checkout the .venv's editable install points to
export PYTHONPATH="$LIDTOOL_ROOT${PYTHONPATH:+:$PYTHONPATH}"
export LC_ALL=C
export PYTHONUNBUFFERED=1
# Two cores: one intra-op thread per job unless the job asks for more (--num-threads).
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
# OpenMP threads sleep instead of spinning when idle (utils/env.sh says why); lib.sh
# sources it too, this makes it hold for commands typed after `. ./path.sh`.
. "$LIDTOOL_ROOT/utils/env.sh"
