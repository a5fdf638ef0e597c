#!/usr/bin/env bash
# utils/longtail_subset.sh [--beta 40] [--order l1,l2,..] [--proportions a,b,..] [--by utts|hours] [--seed 0] <src> <dst>
set -euo pipefail
beta=40; order=""; proportions=""; by=utts; seed=0
help_message="usage: $0 [--beta 40] [--order l1,l2,...] [--proportions a,b,...] [--by utts|hours] [--seed 0] <src> <dst>
Keeps N_c = N_0 * mu^c of each language (largest first), imbalance factor beta = N_0 / N_min."
. "$(dirname "$0")/parse_options.sh"
[ $# -eq 2 ] || { echo "$help_message" >&2; exit 1; }
exec lidtool longtail-subset --beta "$beta" --order "$order" --proportions "$proportions" \
  --by "$by" --seed "$seed" "$1" "$2"
