#!/usr/bin/env bash
# Train a LID back-end on training vectors (once) and score test vectors with it.
set -euo pipefail
. utils/lib.sh
orig_args=("$@")

cmd=utils/run_local.sh
backend_config=""
help_message="usage: $0 [options] <train-vectors.scp> <train-utt2lang> <backend-dir> <test-vectors.scp> <scores-file>
e.g.: $0 --backend-config conf/ivector.yaml exp/ivectors_train_lt/ivector.scp \\
        data/train_lt/utt2lang exp/ivector/backend exp/ivectors_test_3s/ivector.scp \\
        exp/ivector/scores_test_3s
Trains <backend-dir>/backend.npz from the 'backend' section of the YAML (skipped when
<backend-dir>/.done exists) and writes '<utt> <lang> <score>' lines for every test
utterance x training language. Works for i-vectors and DNN embeddings alike.
options:
  --cmd CMD                job runner (default: $cmd)
  --backend-config FILE    YAML with a 'backend' section; empty = defaults (default: '$backend_config')"
. utils/parse_options.sh
[ $# -eq 5 ] || { echo "$help_message" >&2; exit 1; }
require_cmd "$cmd"
train=$1; utt2lang=$2; dir=$3; test=$4; scores=$5

for f in "$train" "$utt2lang" "$test"; do [ -f "$f" ] || die "$f does not exist"; done
mkdir -p "$dir/log"
lock_dir "$dir"
if ! is_done "$dir/.done"; then
  write_rerun_cmd "$dir" "$0" "${orig_args[@]}"
  cfg=(); [ -n "$backend_config" ] && cfg=(--config "$backend_config")
  $cmd "$dir/log/train.log" lidtool backend-train "${cfg[@]}" --vectors "$train" \
    --utt2lang "$utt2lang" --out "$dir/backend.npz"
  mark_done "$dir/.done"
fi
name=$(basename "$scores")
$cmd "$dir/log/score.$name.log" lidtool backend-score --backend "$dir/backend.npz" \
  --vectors "$test" --out "$scores"
log "scores: $scores"
