#!/usr/bin/env bash
# egs/synth_sv: speaker verification with DropClass and DropAdapt (METHODS.md section 5) on
# the built-in many-speaker corpus, on top of egs/TEMPLATE/lid.sh (stages 0-5).
#   ./run.sh                 1000 training speakers, Tables 1-2 and figures -> RESULTS.md
#   ./run.sh --mini true     toy corpus and models (data_mini/, exp_mini/, RESULTS_mini.md)
# Stages: 0 corpus + trial lists, 1 validation, 2 30-dim MFCC + VAD, 5 Table 1 systems
# (5 heads, with and without DropClass), 6 DropClass grid (P at fixed D, D at fixed P),
# 7 DropAdapt and controls from the CosFace baseline, per test condition, 8 verification
# scoring (steps/score_sv.sh), 9 RESULTS tables and figures (local/make_results.py).
# With --lid true also stage 10, language ID beyond the paper: an LID x-vector on the 8
# languages of conf/corpus_lid.yaml (<data>/langid, <exp>/langid), DropAdapt of it to a test
# set of 3 of those languages, scored (accuracy, minCavg) and added to RESULTS as Table 3.
set -euo pipefail
cd "$(dirname "$0")"
. ./path.sh
. utils/lib.sh

stage=0
stop_stage=100
nj=2
mini=false
heads="softmax cosface sphereface arcface adacos"
grid_p="100 500"            # DropClass periods besides 250 (at D = 500)
grid_d="250 750"            # DropClass drops besides 500 (at P = 250)
adapt="dropadapt_drop dropadapt_combine dropadapt_random dropadapt_data_only baseline_more_steps"
backends=cosine
lid=false
train_overrides=""
corpus_overrides=""
train_jobs=$(( $(getconf _NPROCESSORS_ONLN) >= 2 ? 2 : 1 ))
help_message="usage: ./run.sh [options]
  --stage N / --stop-stage N  run stages N..M only (0..9; default all)
  --nj N                      parallel jobs (default $nj)
  --mini true|false           toy sizes: data_mini/, exp_mini/, RESULTS_mini.md (default $mini)
  --heads 'A B'               Table 1 heads, conf/xvector_<head>[_dropclass].yaml (default: $heads)
  --grid-p 'P ..' / --grid-d 'D ..'  DropClass grid points (default: '$grid_p' / '$grid_d')
  --adapt 'A B'               Table 2 systems, conf/<name>.yaml (default: $adapt)
  --backends 'A B'            verification back-ends: cosine, plda (default: $backends)
  --train-overrides 'K=V ..'  training config overrides for every system (e.g. the paper's
                              sizes: see conf/xvector_base.yaml)
  --corpus-overrides 'K=V ..' corpus config overrides, no spaces inside one (e.g.
                              'sets.train_sv.speakers=5994'; on an existing data/, remove
                              data/.done first: make-corpus keeps the unchanged shards)
  --train-jobs N              systems trained at the same time (default $train_jobs)
  --lid true|false            stage 10: DropAdapt for language ID (conf/corpus_lid.yaml,
                              conf/lid_*.yaml; ~10 min more at full size; default $lid)"
orig_args=("$@")
. utils/parse_options.sh
check_stage_range "$stage" "$stop_stage" 10

data=data; exp=exp; corpus=conf/corpus.yaml; results=RESULTS.md
if $mini; then data=data_mini; exp=exp_mini; corpus=conf/corpus_mini.yaml; results=RESULTS_mini.md; fi
features=$LIDTOOL_ROOT/conf_templates/features
conds="test_sv test_sv_channel"
table1=$(for h in $heads; do echo "xvector_$h xvector_${h}_dropclass"; done)
mkdir -p "$exp"
write_rerun_cmd "$exp" ./run.sh "${orig_args[@]}"
lid() { ./lid.sh --nj "$nj" --mini "$mini" --data "$data" --train-set train_sv \
  --feat-config "$features/mfcc.conf" --vad-config "$features/vad.conf" \
  --train-jobs "$train_jobs" "$@"; }
in_range() { [ "$stage" -le "$1" ] && [ "$stop_stage" -ge "$1" ]; }

if [ "$stage" -le 5 ]; then
  # lid.sh splits --data-opts at spaces: the corpus overrides go ';'-separated
  data_opts="--corpus-config $corpus"
  [ -z "$corpus_overrides" ] || data_opts+=" --overrides $(echo $corpus_overrides | tr ' ' ';')"
  lid --stage "$stage" --stop-stage $(( stop_stage < 5 ? stop_stage : 5 )) --exp "$exp" \
    --data-opts "$data_opts" --test-sets "$conds" --systems "$table1" \
    --train-overrides "$train_overrides"
fi
# each grid point / adaptation target is its own experiment dir with the same system name;
# grid points train $train_jobs at a time (one lid.sh call each)
if in_range 6; then
  points=$(for p in $grid_p; do echo "P${p}_D500"; done; for d in $grid_d; do echo "P250_D$d"; done)
  for g in $points; do
    p=${g#P}; p=${p%_D*}; d=${g#*_D}
    $mini && { p=$(( p / 25 )); d=$(( d / 62 )); }    # the mini corpus has 24 speakers
    bg_start "$train_jobs" "grid point $g (see $exp/grid_$g/*/log)" \
      lid --stage 5 --stop-stage 5 --exp "$exp/grid_$g" --tag "grid_$g" --train-jobs 1 \
      --systems xvector_cosface_dropclass \
      --train-overrides "$train_overrides dropclass.period=$p dropclass.drop=$d"
  done
  bg_wait_all
fi
in_range 7 && for c in $conds; do
  lid --stage 5 --stop-stage 5 --exp "$exp/adapt_$c" --tag "adapt_$c" --systems "$adapt" \
    --train-overrides "$train_overrides model.init.path=$exp/xvector_cosface/final.pt
                       data.adapt_dir=$data/$c"
done
if in_range 8; then
  # back-end set: every utterance of every k-th training speaker (about 100 speakers), so
  # that PLDA / LDA see each speaker's variability, not one or two utterances of it
  if [ ! -f "$data/train_sv_backend/utt2spk" ]; then
    awk -v n="$(wc -l < "$data/train_sv/spk2utt")" 'BEGIN { k = int(n / 100); if (k < 1) k = 1 }
      (NR - 1) % k == 0 { print $1 }' "$data/train_sv/spk2utt" > "$data/train_sv_backend.spk"
    lidtool subset-data-dir --spk-list "$data/train_sv_backend.spk" "$data/train_sv" \
      "$data/train_sv_backend"
  fi
  score() { steps/score_sv.sh --nj "$nj" --backends "$backends" --train-data \
    "$data/train_sv_backend" "$1/final.pt" "$1" "${@:2}"; }
  test_dirs=$(for c in $conds; do echo "$data/$c"; done)
  for sys in $table1; do score "$exp/$sys" $test_dirs; done
  for d in "$exp"/grid_*/xvector_cosface_dropclass; do score "$d" $test_dirs; done
  for c in $conds; do for sys in $adapt; do score "$exp/adapt_$c/$sys" "$data/$c"; done; done
  # EER per DropAdapt round: each checkpoint of dropadapt_drop as a model of its own
  for c in $conds; do
    d=$exp/adapt_$c/dropadapt_drop
    if [ -f "$d/final.pt" ]; then
      steps/score_sv_checkpoints.sh --nj "$nj" --backends "$backends" \
        --train-data "$data/train_sv_backend" "$d" "$data/$c"
    fi
  done
fi
results_opts=()
$lid && results_opts=(--lid-exp "$exp/langid" --lid-data "$data/langid")
# the hand-written reading belongs to the recorded default run, not to the mini setting
$mini || [ ! -f conf/results_reading.md ] || results_opts+=(--epilogue conf/results_reading.md)
$mini || results_opts+=(--fig-dir figures)     # committed with RESULTS.md (exp/ is not)
write_results() {
  local/make_results.py --exp "$exp" --data "$data" --heads "$heads" --adapt "$adapt" \
    --backend "${backends%% *}" "${results_opts[@]}" --command "$(recorded_commands "$exp/run.cmd")" "$results"
}
in_range 9 && write_results
if $lid && in_range 10; then
  # its own corpus, data and exp roots: the speaker sets and systems above stay as they are
  ldata=$data/langid; lexp=$exp/langid; lcorpus=conf/corpus_lid.yaml
  $mini && lcorpus=conf/corpus_lid_mini.yaml
  log "stage 10: language ID ($lcorpus) -> $ldata, $lexp"
  local/data.sh --nj "$nj" --corpus-config "$lcorpus" --trial-sets "" "$ldata"
  lid --data "$ldata" --exp "$lexp" --tag langid --stage 1 --stop-stage 6 --train-set train_lid \
    --test-sets test_lid --systems lid_xvector --train-overrides "$train_overrides"
  lid --data "$ldata" --exp "$lexp/adapt" --tag langid_adapt --stage 5 --stop-stage 6 \
    --train-set train_lid --test-sets test_lid \
    --systems "lid_dropadapt_drop lid_baseline_more_steps" \
    --train-overrides "$train_overrides model.init.path=$lexp/lid_xvector/final.pt
                       data.adapt_dir=$ldata/test_lid"
  write_results
fi
exit 0
