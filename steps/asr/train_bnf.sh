#!/usr/bin/env bash
# Bottleneck-feature (bnf) network: a frame-level DNN phone classifier trained on the
# phone recogniser's forced alignments (one pdf-id per frame); its linear bottleneck layer
# gives the bnf features that steps/make_bnf.sh writes.
set -euo pipefail
. utils/lib.sh
orig_args=("$@")

cmd=utils/run_local.sh
bottleneck_dim=40
hidden_dim=256
num_epochs=8
seed=1
device=""
extra_opts=""
help_message="usage: $0 [options] <data-dir> <ali-dir> <out-dir>
e.g.: $0 --bottleneck-dim 40 data/asr_cmn exp/asr/tri1 exp/asr/bnf
<data-dir> holds the feats.scp the alignments were made on; <ali-dir> holds ali.scp and
num_pdfs (steps/asr/train_tri.sh). Trains with the one trainer (lidtool train: strategy
frame_ce, model bnf; the options become <out-dir>/bnf.yaml). Writes <out-dir>/final.pt,
history.json, config.yaml, train_log.jsonl, data/{train,valid} (the held-out split) and
log/train_bnf.log; an interrupted run continues from <out-dir>/checkpoints/. Skips when
<out-dir>/.done exists.
options:
  --cmd CMD               job runner (default: $cmd)
  --bottleneck-dim N      bnf feature dimension (default: $bottleneck_dim)
  --hidden-dim N          hidden layer width (default: $hidden_dim)
  --num-epochs N          passes over the data (default: $num_epochs)
  --seed N                random seed (default: $seed)
  --device DEV            cpu, cuda... (default: cuda if available)
  --extra-opts 'OPTS'     more options for 'lidtool asr-train-bnf' (default: '$extra_opts')"
. utils/parse_options.sh
[ $# -eq 3 ] || { echo "$help_message" >&2; exit 1; }
require_cmd "$cmd"
data=$1; alidir=$2; dir=$3

is_done "$dir/.done" && { log "$dir is done; skipping"; exit 0; }
for f in "$data/feats.scp" "$alidir/ali.scp" "$alidir/num_pdfs"; do
  [ -f "$f" ] || die "$f does not exist"
done
mkdir -p "$dir/log"
lock_dir "$dir"
write_rerun_cmd "$dir" "$0" "${orig_args[@]}"
dev_opt=()
[ -n "$device" ] && dev_opt=(--device "$device")
log "training the bnf network on $data with $alidir/ali.scp; log: $dir/log/train_bnf.log"
# shellcheck disable=SC2086
$cmd "$dir/log/train_bnf.log" \
  lidtool asr-train-bnf --bottleneck-dim "$bottleneck_dim" --hidden-dim "$hidden_dim" \
    --num-epochs "$num_epochs" --seed "$seed" "${dev_opt[@]}" $extra_opts \
    "$data" "$alidir/ali.scp" "$dir" \
  || die "bnf training failed; see $dir/log/train_bnf.log"
[ -f "$dir/final.pt" ] || die "$dir/final.pt was not written; see $dir/log/train_bnf.log"
mark_done "$dir/.done"
log "bnf network: $dir/final.pt"
