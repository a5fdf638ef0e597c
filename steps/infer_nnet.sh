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
scores=true
layer=""
help_message="usage: $0 [options] <model.pt> <data-dir> <out-dir> [<data-dir> <out-dir> ...]
e.g.: $0 --nj 2 --embeddings true exp/resnet_wadcl/final.pt data/test_3s exp/resnet_wadcl/test_3s
      $0 exp/sys/final.pt data/test_3s exp/sys/test_3s data/test_10s exp/sys/test_10s
Writes <out-dir>/scores ('<utt> <lang> <log-posterior>' for every utterance x language) and,
with --embeddings true, <out-dir>/xvector.scp. Whole utterances, sliding CMN + VAD as in
training. Several data dirs are scored by the same \$nj processes (each job takes its share
of every data dir), so the start-up of a job is paid once; the job logs are in the first
<out-dir> that is not done. Skips an <out-dir> whose .done exists.
options:
  --cmd CMD          job runner (default: $cmd)
  --nj N             parallel jobs (default: $nj)
  --num-threads N    torch threads per job (default: $num_threads)
  --device DEV       auto|cpu|cuda (default: $device)
  --embeddings BOOL  also write xvector.scp (default: $embeddings)
  --scores BOOL      write the class scores (default: $scores; false with --embeddings true:
                     embeddings only, e.g. of a speaker model for verification)
  --layer NAME       embedding layer: pool|fcN|fcN_out (default: the model's)"
. utils/parse_options.sh
[ $# -ge 3 ] && [ $(( ($# - 1) % 2 )) -eq 0 ] || { echo "$help_message" >&2; exit 1; }
require_cmd "$cmd"
$scores || $embeddings || die "--scores false needs --embeddings true (nothing to write)"
model=$1; shift
[ -f "$model" ] || die "$model does not exist (run steps/train_nnet.sh)"

datas=(); dirs=()
while [ $# -gt 0 ]; do
  data=$1; dir=$2; shift 2
  if is_done "$dir/.done"; then log "$dir is done; skipping"; continue; fi
  [ -f "$data/feats.scp" ] || die "$data/feats.scp does not exist (run the feature stage first)"
  datas+=("$data"); dirs+=("$dir")
done
[ ${#dirs[@]} -gt 0 ] || exit 0
n_min=; n_all=0
for i in "${!dirs[@]}"; do
  mkdir -p "${dirs[$i]}/log"
  lock_dir "${dirs[$i]}"
  write_rerun_cmd "${dirs[$i]}" "$0" "${orig_args[@]}"
  n=$(wc -l < "${datas[$i]}/feats.scp")
  n_all=$((n_all + n))
  { [ -z "$n_min" ] || [ "$n" -lt "$n_min" ]; } && n_min=$n
done
[ "$nj" -le "$n_min" ] || nj=$n_min
logdir=${dirs[0]}/log
opts=(--nj "$nj" --job JOB --device "$device" --num-threads "$num_threads")
pairs=(); for i in "${!dirs[@]}"; do pairs+=("${datas[$i]}" "${dirs[$i]}/scores.JOB"); done
if $scores; then
  log "scoring $n_all utterances of ${#dirs[@]} data dir(s) in $nj job(s) with $model;" \
      "logs (with progress and ETA): $logdir/infer.*.log"
  $cmd --num-threads "$num_threads" JOB=1:"$nj" "$logdir/infer.JOB.log" \
    lidtool infer "${opts[@]}" "$model" "${pairs[@]}"
  for i in "${!dirs[@]}"; do
    data=${datas[$i]}; dir=${dirs[$i]}
    n_in=$(wc -l < "$data/feats.scp")
    for j in $(seq "$nj"); do cat "$dir/scores.$j"; done > "$dir/.scores.tmp"
    mv "$dir/.scores.tmp" "$dir/scores"
    rm -f "$dir"/scores.[0-9]*
    n_out=$(cut -d' ' -f1 "$dir/scores" | uniq | wc -l)
    [ "$n_out" -eq "$n_in" ] || die "scored $n_out utterances of $n_in in $data"
  done
fi

if [ "$embeddings" = true ]; then
  lopt=(); [ -n "$layer" ] && lopt=(--layer "$layer")
  pairs=(); for i in "${!dirs[@]}"; do pairs+=("${datas[$i]}" "${dirs[$i]}"); done
  $cmd --num-threads "$num_threads" JOB=1:"$nj" "$logdir/embed.JOB.log" \
    lidtool extract-embeddings "${opts[@]}" "${lopt[@]}" "$model" "${pairs[@]}"
  for i in "${!dirs[@]}"; do
    data=${datas[$i]}; dir=${dirs[$i]}
    n_in=$(wc -l < "$data/feats.scp")
    name=$(basename "$data")
    for j in $(seq "$nj"); do cat "$dir/xvector_$name.$j.scp"; done | LC_ALL=C sort -k1,1 > "$dir/.xvector.scp.tmp"
    [ "$(wc -l < "$dir/.xvector.scp.tmp")" -eq "$n_in" ] || die "embedding count of $dir differs from $n_in"
    mv "$dir/.xvector.scp.tmp" "$dir/xvector.scp"
  done
fi
for i in "${!dirs[@]}"; do
  data=${datas[$i]}; dir=${dirs[$i]}
  [ -f "$data/utt2lang" ] && cp "$data/utt2lang" "$dir/utt2lang"
  mark_done "$dir/.done"
  if $scores; then
    log "wrote $dir/scores ($(cut -d' ' -f1 "$dir/scores" | uniq | wc -l) utterances)"
  else
    log "wrote $dir/xvector.scp ($(wc -l < "$dir/xvector.scp") utterances)"
  fi
done
