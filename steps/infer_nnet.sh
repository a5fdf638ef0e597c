#!/usr/bin/env bash
# Score a data dir with a trained DNN (and optionally extract embeddings) in $nj jobs.
set -euo pipefail
. utils/lib.sh
orig_args=("$@")

cmd=utils/run_local.sh
nj=2
num_threads=1
device=auto
embeddings=false
layer=""
help_message="usage: $0 [options] <model.pt> <data-dir> <out-dir>
e.g.: $0 --nj 2 --embeddings true exp/resnet_wadcl/final.pt data/test_3s exp/resnet_wadcl/test_3s
Writes <out-dir>/scores ('<utt> <lang> <log-posterior>' for every utterance x language) and,
with --embeddings true, <out-dir>/xvector.scp. Whole utterances, sliding CMN + VAD as in
training. Skips if <out-dir>/.done exists.
options:
  --cmd CMD          job runner (default: $cmd)
  --nj N             parallel jobs (default: $nj)
  --num-threads N    torch threads per job (default: $num_threads)
  --device DEV       auto|cpu|cuda (default: $device)
  --embeddings BOOL  also write xvector.scp (default: $embeddings)
  --layer NAME       embedding layer: pool|fcN|fcN_out (default: the model's)"
. utils/parse_options.sh
[ $# -eq 3 ] || { echo "$help_message" >&2; exit 1; }
require_cmd "$cmd"
model=$1; data=$2; dir=$3

is_done "$dir/.done" && { log "$dir is done; skipping"; exit 0; }
[ -f "$model" ] || die "$model does not exist (run steps/train_nnet.sh)"
[ -f "$data/feats.scp" ] || die "$data/feats.scp does not exist (run the feature stage first)"
mkdir -p "$dir/log"
lock_dir "$dir"
write_rerun_cmd "$dir" "$0" "${orig_args[@]}"
n_in=$(wc -l < "$data/feats.scp")
[ "$nj" -le "$n_in" ] || nj=$n_in
opts=(--nj "$nj" --job JOB --device "$device" --num-threads "$num_threads")

$cmd --num-threads "$num_threads" JOB=1:"$nj" "$dir/log/infer.JOB.log" \
  lidtool infer "${opts[@]}" "$model" "$data" "$dir/scores.JOB"
for j in $(seq "$nj"); do cat "$dir/scores.$j"; done > "$dir/.scores.tmp"
mv "$dir/.scores.tmp" "$dir/scores"
rm -f "$dir"/scores.[0-9]*
n_out=$(cut -d' ' -f1 "$dir/scores" | uniq | wc -l)
[ "$n_out" -eq "$n_in" ] || die "scored $n_out utterances of $n_in in $data"

if [ "$embeddings" = true ]; then
  lopt=(); [ -n "$layer" ] && lopt=(--layer "$layer")
  $cmd --num-threads "$num_threads" JOB=1:"$nj" "$dir/log/embed.JOB.log" \
    lidtool extract-embeddings "${opts[@]}" "${lopt[@]}" "$model" "$data" "$dir"
  name=$(basename "$data")
  for j in $(seq "$nj"); do cat "$dir/xvector_$name.$j.scp"; done | LC_ALL=C sort -k1,1 > "$dir/.xvector.scp.tmp"
  [ "$(wc -l < "$dir/.xvector.scp.tmp")" -eq "$n_in" ] || die "embedding count differs from $n_in"
  mv "$dir/.xvector.scp.tmp" "$dir/xvector.scp"
fi
[ -f "$data/utt2lang" ] && cp "$data/utt2lang" "$dir/utt2lang"
mark_done "$dir/.done"
log "wrote $dir/scores ($n_out utterances)"
