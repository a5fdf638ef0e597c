#!/usr/bin/env bash
# Kaldi-compatible: utils/perturb_data_dir_speed.sh <factor(s)> <src-data-dir> <dest-data-dir>
set -euo pipefail
help_message="usage: $0 <factor> <src-data-dir> <dest-data-dir>
 e.g. $0 0.9 data/train data/train_sp0.9        (utts/speakers/recordings prefixed sp0.9-)
      $0 0.9,1.0,1.1 data/train data/train_sp  (combined 3-way; 1.0 keeps the original ids)
Audio goes through 'sox ... speed <factor>' pipes in wav.scp; segments, utt2dur and reco2dur
are scaled, utt2lang/text copied, utt2uniq written; features must be recomputed."
. utils/parse_options.sh
[ $# -eq 3 ] || { echo "$help_message" >&2; exit 1; }
exec lidtool perturb-data-dir --speed "$1" "$2" "$3"
