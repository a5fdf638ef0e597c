#!/usr/bin/env bash
# egs/synth_mini: three-language LID on a small synthetic corpus, a recipe made only of this
# file, local/data.sh and conf/ on top of egs/TEMPLATE/lid.sh (stages 0-7, see its --help).
#
#   ./run.sh                          corpus, i-vector + two TDNNs, RESULTS.md
#   ./run.sh --mini true              toy model sizes (exp_mini/, RESULTS_mini.md)
#   ./run.sh --stage 5 --systems tdnn_softmax
set -euo pipefail
cd "$(dirname "$0")"
. ./path.sh
. utils/lib.sh

stage=0
stop_stage=100
nj=2
mini=false
systems="tdnn_softmax tdnn_balanced"
# one thread per training process (path.sh), so two systems at a time use two cores
# (not `nproc`: it reports OMP_NUM_THREADS, which path.sh sets to 1)
train_jobs=$(( $(getconf _NPROCESSORS_ONLN) >= 2 ? 2 : 1 ))
help_message="usage: ./run.sh [options]
options:
  --stage N / --stop-stage N   run stages N..M only (default 0..100)
  --nj N                       parallel jobs (default $nj)
  --mini true|false            toy model sizes; exp_mini/, RESULTS_mini.md (default $mini)
  --systems 'A B'              DNN systems, conf/<name>.yaml (default: $systems)
  --train-jobs N               DNN systems trained at the same time (default $train_jobs: 2 on 2+ cores, else 1)"
orig_args=("$@")
. utils/parse_options.sh
check_stage_range "$stage" "$stop_stage" 7

features=$LIDTOOL_ROOT/conf_templates/features
exp=exp; results=RESULTS.md
if $mini; then exp=exp_mini; results=RESULTS_mini.md; fi
mkdir -p "$exp"
write_rerun_cmd "$exp" ./run.sh "${orig_args[@]}"

./lid.sh --stage "$stage" --stop-stage "$stop_stage" --nj "$nj" --mini "$mini" \
  --data data --exp "$exp" --train-set train --test-sets "test_2s test_5s" \
  --feat-config "$features/mfcc.conf" --vad-config "$features/vad.conf" \
  --ivector true --ivector-config conf/ivector.yaml \
  --systems "$systems" --train-jobs "$train_jobs" \
  --results-spec conf/results.yaml --results "$results" --results-title "egs/synth_mini results"
