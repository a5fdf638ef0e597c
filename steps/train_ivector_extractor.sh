#!/usr/bin/env bash
# i-vector extractor (total-variability matrix) by EM with the minimum-divergence step.
# Every iteration: statistics in $nj parallel jobs (lidtool ivector-acc-stats), summed and
# applied by lidtool ivector-update.
set -euo pipefail
. utils/lib.sh
orig_args=("$@")

cmd=utils/run_local.sh
nj=4
ivector_config=""
num_threads=1
cleanup=true
help_message="usage: $0 [options] <data-dir> <ubm-dir> <extractor-dir>
e.g.: $0 --nj 2 --cmd \"\$train_cmd\" --ivector-config conf/ivector.yaml data/train_lt exp/ubm exp/extractor
Writes <extractor-dir>/final.ie (and N.ie per iteration, config.yaml, log/); needs
<ubm-dir>/final.ubm (steps/train_ubm.sh). Resumes from the last finished iteration.
Sizes and iterations: section 'extractor' of the YAML (ivector_dim, num_iters, min_post...).
options:
  --cmd CMD               job runner (default: $cmd)
  --nj N                  parallel statistics jobs (default: $nj)
  --ivector-config FILE   i-vector system YAML; empty = built-in defaults (default: '$ivector_config')
  --num-threads N         threads per job (default: $num_threads)
  --cleanup true|false    remove intermediate extractors at the end (default: $cleanup)"
. utils/parse_options.sh
[ $# -eq 3 ] || { echo "$help_message" >&2; exit 1; }
require_cmd "$cmd"
data=$1; ubmdir=$2; dir=$3

is_done "$dir/.done" && { log "$dir is done; skipping"; exit 0; }
[ -f "$data/feats.scp" ] || die "$data/feats.scp does not exist (run the feature stage first)"
[ -f "$ubmdir/final.ubm" ] || die "$ubmdir/final.ubm does not exist (run steps/train_ubm.sh)"
mkdir -p "$dir/log"
lock_dir "$dir"
write_rerun_cmd "$dir" "$0" "${orig_args[@]}"

cfg_in=(); [ -n "$ivector_config" ] && cfg_in=(--config "$ivector_config")
lidtool ivector-config "${cfg_in[@]}" --write "$dir/config.yaml"
cfg=(--config "$dir/config.yaml" --num-threads "$num_threads")
iters=$(lidtool ivector-config --config "$dir/config.yaml" --get extractor.num_iters)

utils/split_data.sh "$data" "$nj"
sdata=$data/split$nj

if [ ! -f "$dir/0.ie" ]; then
  $cmd "$dir/log/init.log" lidtool ivector-extractor-init "${cfg[@]}" \
    --ubm "$ubmdir/final.ubm" --out "$dir/0.ie"
fi

for ((i = 0; i < iters; i++)); do
  [ -f "$dir/$((i + 1)).ie" ] && continue
  log "extractor EM iteration $((i + 1))/$iters"
  $cmd --num-threads "$num_threads" JOB=1:"$nj" "$dir/log/acc.$i.JOB.log" \
    lidtool ivector-acc-stats "${cfg[@]}" --extractor "$dir/$i.ie" --data "$sdata/JOB" \
      --out "$dir/acc.$i.JOB"
  $cmd "$dir/log/update.$i.log" \
    lidtool ivector-update "${cfg[@]}" --extractor "$dir/$i.ie" --out "$dir/$((i + 1)).ie" \
      $(for j in $(seq "$nj"); do echo "$dir/acc.$i.$j"; done)
  rm -f "$dir"/acc."$i".*
done

cp "$dir/$iters.ie" "$dir/.final.ie.tmp" && mv "$dir/.final.ie.tmp" "$dir/final.ie"
if $cleanup; then
  for ((i = 1; i < iters; i++)); do rm -f "$dir/$i.ie"; done
fi
grep -h "objective" "$dir"/log/update.*.log 2>/dev/null | sed 's/^/  /' >&2 || true
mark_done "$dir/.done"
log "extractor done: $dir/final.ie"
