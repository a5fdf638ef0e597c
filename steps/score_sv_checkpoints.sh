#!/usr/bin/env bash
# Verification results of every saved checkpoint of one training run, each as a model of
# its own (e.g. the EER after each DropAdapt round).
set -euo pipefail
. utils/lib.sh
orig_args=("$@")

nj=2
train_data=""
backends=cosine
help_message="usage: $0 [options] <train-exp-dir> <test-data-dir> [<test-data-dir> ...]
e.g.: $0 --train-data data/train_sv_backend exp/adapt_test_sv/dropadapt_drop data/test_sv
For each <train-exp-dir>/checkpoints/ckpt-<step>.pt: the model at that checkpoint
(lidtool model-from-checkpoint, with <train-exp-dir>/final.pt's config) in
<train-exp-dir>/rounds/step<step>/final.pt, scored by steps/score_sv.sh into that dir.
options:
  --nj N               parallel embedding jobs (default: $nj)
  --train-data DIR     training data dir for the back-ends (see steps/score_sv.sh)
  --backends 'A B'     cosine and/or plda (default: $backends)"
. utils/parse_options.sh
[ $# -ge 2 ] || { echo "$help_message" >&2; exit 1; }
dir=$1; shift
[ -f "$dir/final.pt" ] || die "$dir/final.pt does not exist (the training run is not finished)"
compgen -G "$dir/checkpoints/ckpt-*.pt" > /dev/null || die "$dir/checkpoints has no ckpt-*.pt"
write_rerun_cmd "$dir/rounds" "$0" "${orig_args[@]}"

for ck in "$dir"/checkpoints/ckpt-*.pt; do
  step=$(basename "$ck" .pt); step=$(( 10#${step#ckpt-} ))
  r=$dir/rounds/step$step
  if [ ! -f "$r/final.pt" ]; then
    mkdir -p "$r"
    lidtool model-from-checkpoint --model "$dir/final.pt" "$ck" "$r/final.pt" \
      2> "$r/model.log" || die "lidtool model-from-checkpoint failed; see $r/model.log"
  fi
  steps/score_sv.sh --nj "$nj" --backends "$backends" ${train_data:+--train-data "$train_data"} \
    "$r/final.pt" "$r" "$@"
done
