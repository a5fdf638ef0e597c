#!/usr/bin/env bash
# Train one DNN LID system from a YAML config -> <exp-dir>/final.pt (+ checkpoints, logs).
set -euo pipefail
. utils/lib.sh
orig_args=("$@")

cmd=utils/run_local.sh
nproc=1
device=auto
resume=auto
mini=false
overrides=""
feat_config=""
vad_config=""
lang2id=""
num_threads=1
allow_config_change=false
progress_every=30
help_message="usage: $0 [options] <config.yaml> <train-data-dir> <exp-dir>
e.g. (in egs/synth_lid): $0 --feat-config conf/mfcc_pitch.conf --vad-config conf/vad.conf \\
        conf/resnet_wadcl.yaml data/train_lt exp/resnet_wadcl
Runs 'lidtool train' (or torchrun with --nproc > 1; gloo on CPU, nccl on GPU) and logs to
<exp-dir>/log/train.log, printing a progress line (step k/N, loss, elapsed, ETA) here every
--progress-every seconds. An interrupted run resumes from its latest checkpoint. Writes
<exp-dir>/run.cmd (this command), config.yaml, lang2id, train_log.jsonl, final.pt,
train_curves.png; skips if <exp-dir>/.done exists.
options:
  --cmd CMD            job runner (default: $cmd)
  --nproc N            processes (DDP through torchrun) (default: $nproc)
  --device DEV         auto|cpu|cuda (default: $device)
  --resume R           auto|none|<checkpoint> (default: $resume)
  --mini BOOL          apply the config's mini section (default: $mini)
  --overrides 'K=V ..' config overrides, e.g. 'train.steps=500 optim.lr=0.01'; multi-task
                       systems (train.strategy: multitask) take their frame labels here:
                       'data.frame_labels=exp/phone_labels/train/ali.scp'
  --feat-config FILE   feature config used for the features (saved in final.pt for identify)
  --vad-config FILE    VAD config used for vad.scp (saved in final.pt)
  --lang2id FILE       fixed class map '<class> <id>' (default: the sorted classes of the
                       config's data.label_table, utt2lang unless it says otherwise)
  --num-threads N      torch threads per process (default: $num_threads)
  --allow-config-change BOOL  resume although the config differs from the checkpoint's
                       (default: $allow_config_change: refused, listing the differences)
  --progress-every S   print training progress every S seconds; 0: never (default: $progress_every)"
. utils/parse_options.sh
[ $# -eq 3 ] || { echo "$help_message" >&2; exit 1; }
require_cmd "$cmd"
config=$1; data=$2; dir=$3

is_done "$dir/.done" && { log "$dir is done; skipping"; exit 0; }
[ -f "$config" ] || die "config $config does not exist"
[ -f "$data/feats.scp" ] || die "$data/feats.scp does not exist (run the feature stage first)"
# the label table (data.label_table of the config) is checked by lidtool train
mkdir -p "$dir/log"
lock_dir "$dir"
write_rerun_cmd "$dir" "$0" "${orig_args[@]}"

args=(--config "$config" --resume "$resume" --device "$device" --num-threads "$num_threads")
[ "$mini" = true ] && args+=(--mini)
[ "$allow_config_change" = true ] && args+=(--allow-config-change)
for o in $overrides; do args+=(--override "$o"); done
[ -n "$feat_config" ] && args+=(--feat-config "$feat_config")
[ -n "$vad_config" ] && args+=(--vad-config "$vad_config")
[ -n "$lang2id" ] && args+=(--lang2id "$lang2id")
if [ "$nproc" -gt 1 ]; then
  launcher=(python -m torch.distributed.run --standalone --nproc_per_node "$nproc" -m lidtool.bin.train)
else
  launcher=(lidtool train)
fi
[[ "$progress_every" =~ ^[0-9]+$ ]] || die "--progress-every takes whole seconds, got '$progress_every'"
log "training $dir with $config on $(wc -l < "$data/feats.scp") utterances of $data" \
    "($nproc process(es)); log: $dir/log/train.log"
watcher=
if [ "$progress_every" -gt 0 ]; then
  # the watcher must not keep the exp dir's lock (an inherited fd) after this script ends
  # nor a sleep that holds the terminal (or a caller's pipe) open after it
  ( exec {_lock_fd}>&-
    trap 'kill "$nap" 2>/dev/null; exit 0' TERM
    while :; do
      sleep "$progress_every" & nap=$!
      wait "$nap"
      line=$(lidtool train-progress "$dir" 2>/dev/null) || true
      [ -n "$line" ] && [ "$line" != "${shown:-}" ] && log "$dir: $line"
      shown=$line
    done ) &
  watcher=$!
  trap '[ -n "$watcher" ] && kill "$watcher" 2>/dev/null; true' EXIT
fi
$cmd --num-threads "$num_threads" "$dir/log/train.log" "${launcher[@]}" "${args[@]}" "$data" "$dir"
if [ -n "$watcher" ]; then kill "$watcher" 2>/dev/null || true; watcher=; fi
line=$(lidtool train-progress "$dir" 2>/dev/null) || true
[ -n "$line" ] && log "$dir: $line"
[ -f "$dir/final.pt" ] || die "training finished without $dir/final.pt; see $dir/log/train.log"
lidtool plot-training "$dir" 2>> "$dir/log/train.log" || log "WARNING: could not plot $dir/train_log.jsonl"
mark_done "$dir/.done"
log "wrote $dir/final.pt"
