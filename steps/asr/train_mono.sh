#!/usr/bin/env bash
# Monophone GMM-HMM training (Kaldi steps/train_mono.sh): flat start, equal alignment,
# Viterbi EM with mixing up and realignment. Runs as one job (the ASR corpus is small).
set -euo pipefail
. utils/lib.sh
orig_args=("$@")

cmd=utils/run_local.sh
num_iters=40
total_gauss=1000
topology=3state
extra_opts=""
help_message="usage: $0 [options] <data-dir> <lang-dir> <exp-dir>
e.g.: $0 --cmd \"\$train_cmd\" data/asr_cmn_train data/lang_asr exp/asr/mono
Needs <data-dir>/{text,feats.scp} and a lang dir from 'lidtool asr-prepare-lang'.
Writes <exp-dir>/{final.mdl,ali.scp,ali_phone.scp,phone_seq,pdf_info.txt,history.json}, log/.
options:
  --cmd CMD             job runner (default: $cmd)
  --num-iters N         EM iterations (default: $num_iters)
  --total-gauss N       Gaussians after mixing up (default: $total_gauss)
  --topology T          3state (Kaldi's, >= 3 frames a phone) or skip (>= 2 frames)
                        (default: $topology)
  --extra-opts 'OPTS'   more options for 'lidtool asr-train-mono' (default: '$extra_opts')"
. utils/parse_options.sh
[ $# -eq 3 ] || { echo "$help_message" >&2; exit 1; }
require_cmd "$cmd"
data=$1; lang=$2; dir=$3

is_done "$dir/.done" && { log "$dir is done; skipping"; exit 0; }
for f in "$data/text" "$data/feats.scp" "$lang/lang.json"; do
  [ -f "$f" ] || die "$f does not exist"
done
mkdir -p "$dir/log"
lock_dir "$dir"
write_rerun_cmd "$dir" "$0" "${orig_args[@]}"
log "training the monophone system in $dir"
# shellcheck disable=SC2086
$cmd "$dir/log/train_mono.log" \
  lidtool asr-train-mono --num-iters "$num_iters" --total-gauss "$total_gauss" \
    --topology "$topology" $extra_opts \
    "$data" "$lang" "$dir"
mark_done "$dir/.done"
