#!/usr/bin/env bash
# Kaldi-compatible: utils/perturb_data_dir_volume.sh [--scale-low 0.125] [--scale-high 2] <data-dir>
set -euo pipefail
scale_low=0.125
scale_high=2
seed=0
help_message="usage: $0 [--scale-low $scale_low] [--scale-high $scale_high] [--seed $seed] <data-dir>
Adds a random gain in [scale-low, scale-high] per recording as a 'sox --vol G' pipe to
<data-dir>/wav.scp, in place (gains in reco2vol). A dir already perturbed is left alone."
. utils/parse_options.sh
[ $# -eq 1 ] || { echo "$help_message" >&2; exit 1; }
exec lidtool perturb-data-dir --volume --scale-low "$scale_low" --scale-high "$scale_high" \
  --seed "$seed" "$1"
