#!/usr/bin/env bash
# Bottleneck (bnf) features for LID (stage 3 of egs/TEMPLATE/lid.sh, after
# steps/run_phone_labels.sh): train the bnf network on the recogniser's transcribed set
# (--asr-set) with the triphone system's forced alignments (<exp-root>/asr/tri1/ali.scp,
# one pdf-id per frame) -> <exp-root>/asr/bnf, then write data dirs <data-root>/<set>_bnf
# (bnf feats.scp; the source's vad.scp, utt2lang... copied) for every <set> given.
set -euo pipefail
. utils/lib.sh

nj=2
mini=false
cmd=${train_cmd:-utils/run_local.sh}
bottleneck_dim=40
hidden_dim=256
num_epochs=8
asr_set=""
help_message="usage: steps/make_bnf_sets.sh [options] --asr-set NAME <data-root> <exp-root> <set>...
e.g.: steps/make_bnf_sets.sh --nj 2 --asr-set asr_cmn data exp train_lt test_3s test_10s
options:
  --asr-set NAME      the set steps/run_phone_labels.sh trained the recogniser on (required)
  --nj N              extraction jobs per set (default $nj)
  --mini true|false   toy network (hidden 128, 3 epochs) (default $mini)
  --bottleneck-dim N  bnf dimension (default $bottleneck_dim)
  --hidden-dim N      hidden layer width (default $hidden_dim)
  --num-epochs N      training epochs (default $num_epochs)"
. utils/parse_options.sh
[ $# -ge 3 ] || { echo "$help_message" >&2; exit 1; }
require_cmd "$cmd"
data=$1; exp=$2; shift 2
[ -n "$asr_set" ] || die "--asr-set is required (the recogniser's training set)"
# train_bnf.sh and make_bnf.sh lock exp/asr/bnf and each <set>_bnf; this run owns their logs
log_root=$exp/make_bnf
mkdir -p "$log_root"
lock_dir "$log_root"
if $mini; then hidden_dim=128; num_epochs=3; fi

steps/asr/train_bnf.sh --cmd "$cmd" --bottleneck-dim "$bottleneck_dim" \
  --hidden-dim "$hidden_dim" --num-epochs "$num_epochs" \
  "$data/$asr_set" "$exp/asr/tri1" "$exp/asr/bnf"
for set in "$@"; do
  [ -f "$data/$set/feats.scp" ] || die "$data/$set/feats.scp does not exist (run stage 2 first)"
  n=$(wc -l < "$data/$set/feats.scp")
  jobs=$(( n < nj ? n : nj ))
  steps/make_bnf.sh --nj "$jobs" --cmd "$cmd" "$exp/asr/bnf" "$data/$set" "$data/${set}_bnf" \
    "$exp/make_bnf/$set"
done
log "bnf network: $exp/asr/bnf/final.pt; bnf data dirs under $data: ${*/%/_bnf}"
