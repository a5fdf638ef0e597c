#!/usr/bin/env bash
# Full-covariance GMM-UBM, Kaldi style: split-initialised diagonal UBM, diagonal EM, then
# full-covariance EM with Gaussian selection. Every EM iteration accumulates statistics in
# $nj parallel jobs (lidtool ubm-acc-stats) which the update step sums (lidtool ubm-update).
set -euo pipefail
. utils/lib.sh
orig_args=("$@")

cmd=utils/run_local.sh
nj=4
ivector_config=""
num_threads=1
cleanup=true
help_message="usage: $0 [options] <data-dir> <ubm-dir>
e.g.: $0 --nj 2 --cmd \"\$train_cmd\" --ivector-config conf/ivector.yaml data/train_lt exp/ubm
Writes <ubm-dir>/final.ubm (full covariance), N.dubm / N.fubm per iteration, config.yaml
(the resolved config), log/. Resumes from the last finished iteration; skips if .done.
Frames: <data-dir>/feats.scp with sliding CMN and vad.scp (section 'features' of the YAML);
sizes and iteration counts: section 'ubm' (num_components, num_iters_diag, num_iters_full...).
options:
  --cmd CMD               job runner (default: $cmd)
  --nj N                  parallel statistics jobs (default: $nj)
  --ivector-config FILE   i-vector system YAML; empty = built-in defaults (default: '$ivector_config')
  --num-threads N         threads per job (default: $num_threads)
  --cleanup true|false    remove intermediate models at the end (default: $cleanup)"
. utils/parse_options.sh
[ $# -eq 2 ] || { echo "$help_message" >&2; exit 1; }
require_cmd "$cmd"
data=$1; dir=$2

is_done "$dir/.done" && { log "$dir is done; skipping"; exit 0; }
[ -f "$data/feats.scp" ] || die "$data/feats.scp does not exist (run the feature stage first)"
mkdir -p "$dir/log"
lock_dir "$dir"
write_rerun_cmd "$dir" "$0" "${orig_args[@]}"

cfg_in=(); [ -n "$ivector_config" ] && cfg_in=(--config "$ivector_config")
lidtool ivector-config "${cfg_in[@]}" --write "$dir/config.yaml"
cfg=(--config "$dir/config.yaml" --num-threads "$num_threads")
get() { lidtool ivector-config --config "$dir/config.yaml" --get "$1"; }
iters_diag=$(get ubm.num_iters_diag)
iters_full=$(get ubm.num_iters_full)
[ "$iters_full" -ge 1 ] || die "ubm.num_iters_full must be >= 1 (the UBM must be full-covariance)"

utils/split_data.sh "$data" "$nj"
sdata=$data/split$nj
stats_of() { for j in $(seq "$nj"); do echo "$1.$j"; done; }

if [ ! -f "$dir/0.dubm" ]; then
  log "initialising the diagonal UBM"
  $cmd --num-threads "$num_threads" "$dir/log/init.log" \
    lidtool ubm-init "${cfg[@]}" --data "$data" --out "$dir/0.dubm"
fi

for ((i = 0; i < iters_diag; i++)); do
  [ -f "$dir/$((i + 1)).dubm" ] && continue
  log "diagonal EM iteration $((i + 1))/$iters_diag"
  $cmd --num-threads "$num_threads" JOB=1:"$nj" "$dir/log/acc_diag.$i.JOB.log" \
    lidtool ubm-acc-stats "${cfg[@]}" --model "$dir/$i.dubm" --data "$sdata/JOB" \
      --out "$dir/acc_diag.$i.JOB"
  $cmd "$dir/log/update_diag.$i.log" \
    lidtool ubm-update "${cfg[@]}" --model "$dir/$i.dubm" --out "$dir/$((i + 1)).dubm" \
      $(stats_of "$dir/acc_diag.$i")
  rm -f "$dir"/acc_diag."$i".*
done

for ((i = 0; i < iters_full; i++)); do
  [ -f "$dir/$((i + 1)).fubm" ] && continue
  log "full-covariance EM iteration $((i + 1))/$iters_full"
  if [ "$i" -eq 0 ]; then model=$dir/$iters_diag.dubm; full=(--full); else model=$dir/$i.fubm; full=(); fi
  $cmd --num-threads "$num_threads" JOB=1:"$nj" "$dir/log/acc_full.$i.JOB.log" \
    lidtool ubm-acc-stats "${cfg[@]}" "${full[@]}" --model "$model" --data "$sdata/JOB" \
      --out "$dir/acc_full.$i.JOB"
  $cmd "$dir/log/update_full.$i.log" \
    lidtool ubm-update "${cfg[@]}" --model "$model" --out "$dir/$((i + 1)).fubm" \
      $(stats_of "$dir/acc_full.$i")
  rm -f "$dir"/acc_full."$i".*
done

cp "$dir/$iters_full.fubm" "$dir/.final.ubm.tmp" && mv "$dir/.final.ubm.tmp" "$dir/final.ubm"
if $cleanup; then
  for ((i = 1; i < iters_diag; i++)); do rm -f "$dir/$i.dubm"; done
  for ((i = 1; i < iters_full; i++)); do rm -f "$dir/$i.fubm"; done
fi
mark_done "$dir/.done"
log "UBM done: $dir/final.ubm"
