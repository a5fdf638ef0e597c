#!/usr/bin/env bash
# Extract i-vectors for a data dir in $nj parallel jobs -> <out-dir>/ivector.scp.
set -euo pipefail
. utils/lib.sh
orig_args=("$@")

cmd=utils/run_local.sh
nj=4
num_threads=1
help_message="usage: $0 [options] <data-dir> <extractor-dir> <out-dir>
e.g.: $0 --nj 2 --cmd \"\$train_cmd\" data/test_3s exp/extractor exp/ivectors_test_3s
Writes <out-dir>/ivector.scp (sorted; arks ivector.N.ark) using <extractor-dir>/final.ie and
the feature options in <extractor-dir>/config.yaml. Skips if <out-dir>/.done exists.
options:
  --cmd CMD          job runner (default: $cmd)
  --nj N             parallel jobs (default: $nj)
  --num-threads N    threads per job (default: $num_threads)"
. utils/parse_options.sh
[ $# -eq 3 ] || { echo "$help_message" >&2; exit 1; }
require_cmd "$cmd"
data=$1; iedir=$2; dir=$3

is_done "$dir/.done" && { log "$dir is done; skipping"; exit 0; }
[ -f "$data/feats.scp" ] || die "$data/feats.scp does not exist (run the feature stage first)"
[ -f "$iedir/final.ie" ] || die "$iedir/final.ie does not exist (run steps/train_ivector_extractor.sh)"
mkdir -p "$dir/log"
lock_dir "$dir"
write_rerun_cmd "$dir" "$0" "${orig_args[@]}"
cfg=(--num-threads "$num_threads")
[ -f "$iedir/config.yaml" ] && cfg+=(--config "$iedir/config.yaml")

utils/split_data.sh "$data" "$nj"
sdata=$data/split$nj
$cmd --num-threads "$num_threads" JOB=1:"$nj" "$dir/log/extract.JOB.log" \
  lidtool extract-ivectors "${cfg[@]}" --extractor "$iedir/final.ie" --data "$sdata/JOB" \
    --ark "$dir/ivector.JOB.ark" --scp "$dir/ivector.JOB.scp"

for j in $(seq "$nj"); do cat "$dir/ivector.$j.scp"; done | LC_ALL=C sort -k1,1 > "$dir/.ivector.scp.tmp"
n_out=$(wc -l < "$dir/.ivector.scp.tmp"); n_in=$(wc -l < "$data/feats.scp")
[ "$n_out" -eq "$n_in" ] || die "extracted $n_out i-vectors for $n_in utterances in $data"
mv "$dir/.ivector.scp.tmp" "$dir/ivector.scp"
[ -f "$data/utt2lang" ] && cp "$data/utt2lang" "$dir/utt2lang"
mark_done "$dir/.done"
log "wrote $n_out i-vectors to $dir/ivector.scp"
