#!/usr/bin/env bash
# egs/synth_transfer: does LID trained on synthetic speech transfer to synthesizers it never
# heard? The same x-vector TDNN trained on a multi-synthesizer set (espeak-ng, Festival,
# MBROLA, per-speaker voice transforms) and on an espeak-only control of the same size, both
# scored in-domain and on a test set of synthesizer voices neither training set uses.
# Two calls of egs/TEMPLATE/lid.sh (one per training set, one exp) and one for stage 7.
#
#   ./run.sh                     corpus to RESULTS.md (conf/corpus.yaml, exp/)
#   ./run.sh --mini true         toy corpus and models: data_mini/, exp_mini/, RESULTS_mini.md
#   ./run.sh --ablation true     also two ablation systems of the multi-synthesizer set
#                                (no voice transform; trainer masks) -> RESULTS_ablation.md
#   ./run.sh --loso true         also leave-one-synthesizer-out systems (train_multi without
#                                Festival / without MBROLA) -> RESULTS_loso.md
#   ./run.sh --stage 5 --stop-stage 7
set -euo pipefail
cd "$(dirname "$0")"
. ./path.sh
. utils/lib.sh

stage=0
stop_stage=100
nj=2
mini=false
ablation=false
loso=false
loso_families="festival mbrola"
help_message="usage: ./run.sh [options]
options:
  --stage N / --stop-stage N   run stages N..M only (default 0..100)
  --nj N                       parallel jobs (default $nj)
  --mini true|false            toy corpus and model sizes: conf/corpus_mini.yaml, data_mini/,
                               exp_mini/, RESULTS_mini.md (default $mini)
  --ablation true|false        also train and score, on the same test sets, train_multi
                               without voice transforms (xvector_multi_notransform, on
                               train_multi_plain) and with trainer time/coefficient masks
                               (xvector_multi_specaug) -> RESULTS_ablation.md
                               (RESULTS_ablation_mini.md with --mini); the two main systems
                               and RESULTS.md are unchanged (default $ablation)
  --loso true|false            leave one synthesizer out: for each family F of
                               --loso-families, train train_multi_noF (train_multi without
                               F's voices, same sizes) as xvector_multi_noF and score it and
                               xvector_multi on test_F (F's train_multi voices, unseen
                               speakers) and the main test sets -> RESULTS_loso.md
                               (RESULTS_loso_mini.md with --mini); the main systems and
                               RESULTS.md are unchanged (default $loso)
  --loso-families 'LIST'       the families left out, of: festival mbrola (default
                               '$loso_families'; mbrola needs tools/install.sh --mbrola true)
Stages (egs/TEMPLATE/lid.sh): 0 corpus, 1 validation+stats, 2 features+VAD,
        5 training, 6 inference, 7 RESULTS"
orig_args=("$@")
. utils/parse_options.sh
check_stage_range "$stage" "$stop_stage" 7

data=data; exp=exp; results=RESULTS.md; corpus=conf/corpus.yaml
ablation_results=RESULTS_ablation.md; loso_results=RESULTS_loso.md
if $mini; then data=data_mini; exp=exp_mini; results=RESULTS_mini.md; corpus=conf/corpus_mini.yaml
  ablation_results=RESULTS_ablation_mini.md; loso_results=RESULTS_loso_mini.md; fi
features=$LIDTOOL_ROOT/conf_templates/features
tests="test_multi test_espeak test_heldout_synth"
# the corpus sets this run makes (sets are seeded by name, so which others are made does not
# change their audio): train_multi_plain only with --ablation true, the leave-one-out sets
# only with --loso true, so that other runs neither render them nor need their voices
sets="train_multi train_espeak $tests"
! $ablation || sets="$sets train_multi_plain"
loso_tests=""
if $loso; then
  [ -n "$loso_families" ] || die "--loso true needs at least one of --loso-families festival mbrola"
  for family in $loso_families; do
    case $family in festival|mbrola) ;;
      *) die "--loso-families: unknown family '$family' (festival, mbrola)" ;; esac
    sets="$sets train_multi_no$family"; loso_tests="$loso_tests test_$family"
  done
  sets="$sets$loso_tests"
fi
mkdir -p "$exp"
write_rerun_cmd "$exp" ./run.sh "${orig_args[@]}"

common=(--stage "$stage" --stop-stage "$stop_stage" --nj "$nj" --mini "$mini"
        --data "$data" --exp "$exp" --data-opts "--corpus-config $corpus --sets ${sets// /,}"
        --feat-config "$features/mfcc.conf" --vad-config "$features/vad.conf"
        --stats-sets "train_multi train_espeak $tests" --test-sets "$tests")
# one system per training set; both in one exp, so features are made once per set
./lid.sh "${common[@]}" --train-set train_multi --systems xvector_multi
./lid.sh "${common[@]}" --train-set train_espeak --systems xvector_espeak
if $ablation; then
  ./lid.sh "${common[@]}" --train-set train_multi_plain --systems xvector_multi_notransform
  ./lid.sh "${common[@]}" --train-set train_multi --systems xvector_multi_specaug
fi
if $loso; then
  for family in $loso_families; do
    ./lid.sh "${common[@]}" --train-set "train_multi_no$family" \
      --systems "xvector_multi_no$family" --test-sets "$tests$loso_tests"
  done
  # the reference system (trained above) on the leave-one-out test sets too
  ./lid.sh "${common[@]}" --tag loso_reference --train-set train_multi --systems xvector_multi \
    --test-sets "$tests$loso_tests"
fi

# stage 7 of a study run (ablation, loso): conf/results_<study>.yaml with the reading
# conf/<study>_reading.md under the table
score_study() {  # <study> <results file> <title>
  ./lid.sh --stage 7 --stop-stage 7 --tag "results_$1" --data "$data" --exp "$exp" \
    --results-spec "conf/results_$1.yaml" --results "$2" \
    --results-json "$exp/results_$1/results.json" \
    --results-epilogue "conf/$1_reading.md" --results-title "$3"
}
if [ "$stage" -le 7 ] && [ "$stop_stage" -ge 7 ]; then
  ./lid.sh --stage 7 --stop-stage 7 --tag results --data "$data" --exp "$exp" \
    --results-spec conf/results.yaml --results "$results" \
    --results-title "egs/synth_transfer results"
  if $ablation; then
    score_study ablation "$ablation_results" \
      "egs/synth_transfer ablation: which corpus knobs matter"
  fi
  if $loso; then
    score_study loso "$loso_results" "egs/synth_transfer: leave one synthesizer out"
  fi
fi
