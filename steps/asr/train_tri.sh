#!/usr/bin/env bash
# Triphone GMM-HMM (Kaldi steps/train_deltas.sh): decision tree from the monophone
# alignments (tree statistics, phone-clustering questions, greedy splits to --num-leaves),
# then Viterbi EM with mixing up and realignment.
set -euo pipefail
. utils/lib.sh
orig_args=("$@")

cmd=utils/run_local.sh
num_leaves=1500
total_gauss=10000
num_iters=35
min_count=100
extra_opts=""
help_message="usage: $0 [options] <data-dir> <lang-dir> <mono-dir> <exp-dir>
e.g.: $0 --num-leaves 1500 data/asr_cmn_train data/lang_asr exp/asr/mono exp/asr/tri1
Writes <exp-dir>/{tree.json,questions.txt,tree_log.json,0.mdl,final.mdl,ali.scp,...}, log/.
options:
  --cmd CMD             job runner (default: $cmd)
  --num-leaves N        tree leaf (pdf) budget (default: $num_leaves)
  --min-count N         fewest frames per leaf (default: $min_count)
  --total-gauss N       Gaussians after mixing up (default: $total_gauss)
  --num-iters N         EM iterations (default: $num_iters)
  --extra-opts 'OPTS'   more options for 'lidtool asr-train-tri' (default: '$extra_opts')"
. utils/parse_options.sh
[ $# -eq 4 ] || { echo "$help_message" >&2; exit 1; }
require_cmd "$cmd"
data=$1; lang=$2; mono=$3; dir=$4

is_done "$dir/.done" && { log "$dir is done; skipping"; exit 0; }
[ -f "$mono/final.mdl" ] && [ -f "$mono/ali.scp" ] || die "$mono has no final.mdl/ali.scp"
mkdir -p "$dir/log"
lock_dir "$dir"
write_rerun_cmd "$dir" "$0" "${orig_args[@]}"
if [ ! -f "$dir/0.mdl" ]; then
  log "building the tree ($num_leaves leaves at most)"
  $cmd "$dir/log/build_tree.log" \
    lidtool asr-build-tree --num-leaves "$num_leaves" --min-count "$min_count" \
      "$data" "$lang" "$mono" "$dir"
fi
log "training the triphone system in $dir"
# shellcheck disable=SC2086
$cmd "$dir/log/train_tri.log" \
  lidtool asr-train-tri --num-iters "$num_iters" --total-gauss "$total_gauss" $extra_opts \
    "$data" "$lang" "$mono" "$dir"
mark_done "$dir/.done"
