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
help_message="usage: $0 [options] <config.yaml> <train-data-dir> <exp-dir>
e.g.: $0 --feat-config conf/mfcc.conf --vad-config conf/vad.conf conf/resnet_wadcl.yaml data/train exp/resnet_wadcl
Runs 'lidtool train' (or torchrun with --nproc > 1; gloo on CPU, nccl on GPU) and logs to
<exp-dir>/log/train.log. An interrupted run resumes from its latest checkpoint. Writes
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
                       (default: $allow_config_change: refused, listing the differences)"
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
log "training $dir with $config ($nproc process(es)); log: $dir/log/train.log"
$cmd --num-threads "$num_threads" "$dir/log/train.log" "${launcher[@]}" "${args[@]}" "$data" "$dir"
[ -f "$dir/final.pt" ] || die "training finished without $dir/final.pt; see $dir/log/train.log"
lidtool plot-training "$dir" 2>> "$dir/log/train.log" || log "WARNING: could not plot $dir/train_log.jsonl"
mark_done "$dir/.done"
log "wrote $dir/final.pt"
