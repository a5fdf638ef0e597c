#!/usr/bin/env bash
# egs/TEMPLATE/lid.sh: the stages of a spoken-LID experiment, shared by every recipe.
# Run from a recipe directory (its run.sh calls ./lid.sh, a link made by
# egs/TEMPLATE/setup_recipe.sh); the recipe supplies local/data.sh and conf/.
# One call = one experiment: one training set, its test sets, its systems. A recipe with
# two experiments on one corpus calls it twice (and once more for the scoring stage).
#
# Stages (numbered as in egs/synth_lid/run.sh):
#   0  data: local/data.sh [--nj N] <data-opts> <data-dir>  (the recipe's corpus preparation)
#   1  validate every data dir used; corpus statistics (exp/corpus_stats); optional speed /
#      volume perturbation of the training set -> <train-set>_sp (or _vp: volume only)
#   2  features (--feat-config) and energy VAD (--vad-config) for every set used
#   3  optional: phone recogniser on --asr-set -> frame labels of the DNN training set
#      (--phone-labels true); bottleneck features <set>_bnf of every set used (--bnf true)
#   4  optional i-vector baseline on --train-set (--ivector true)
#   5  DNN training of every system in --systems (conf/<name>.yaml), --train-jobs at a time
#   6  inference on the test sets; with --backend: embeddings of --backend-train-set and the
#      test sets, back-end trained and applied (scores_backend)
#   7  scoring: --results-spec (a results YAML) -> --results (markdown), results.json
# Every step skips work whose .done marker exists, so any --stage re-enters safely.
set -euo pipefail
[ -f ./path.sh ] || { echo "$0: run me from a recipe directory (no ./path.sh here)" >&2; exit 1; }
. ./path.sh
[ -f ./cmd.sh ] && . ./cmd.sh
. utils/lib.sh

stage=0
stop_stage=100
nj=2
mini=false
seed=1
data=data
exp=exp
data_opts=""
train_set=""
test_sets=""
stats_sets=""
speed_perturb=""
volume_perturb=false
feat_config=conf/mfcc_pitch.conf
vad_config=conf/vad.conf
phone_labels=false
asr_set=""
asr_dev_set=""
lexicon=""
asr_timings=""
bnf=false
ivector=false
ivector_config=conf/ivector.yaml
systems=""
train_overrides=""
train_jobs=1
label_table=""
backend=""
backend_train_set=""
results_spec=""
results=RESULTS.md
results_title=""
results_dirs=""
results_preamble=""
results_epilogue=""
results_json=""
tag=""
help_message="usage: ./lid.sh [options]   (from a recipe directory; see egs/TEMPLATE/README.md)
e.g.: ./lid.sh --train-set train --test-sets 'test_3s test_10s' --systems 'tdnn_xvector' \\
        --ivector true --results-spec conf/results.yaml
Stages: 0 data (local/data.sh), 1 validation+stats(+perturbation), 2 features+VAD,
        3 phone labels / bottleneck features, 4 i-vector, 5 DNN training, 6 inference
        (+back-end), 7 RESULTS from a results YAML
general:
  --stage N / --stop-stage N   run stages N..M only (default 0..100)
  --nj N                       parallel jobs (default $nj)
  --mini true|false            the configs' mini sections, toy recogniser sizes (default $mini)
  --seed N                     seed of the volume perturbation (default $seed)
  --data DIR / --exp DIR       data and experiment roots (default $data, $exp)
  --tag NAME                   name of this call's re-run record <exp>/lid/<tag>/run.cmd
                               (default: the training set, or 'results')
data (stages 0-2):
  --data-opts 'OPTS'           extra options of local/data.sh (default none)
  --train-set NAME             training set under <data> (required for stages 1-6)
  --test-sets 'A B'            test sets under <data>
  --stats-sets 'A B'           sets of the corpus statistics (default: training + test sets)
  --speed-perturb F1,F2,..     train the DNNs on <train-set>_sp, the set at these speeds
                               (e.g. 0.9,1.0,1.1; default none)
  --volume-perturb true|false  random gain per recording of that set (default $volume_perturb)
  --feat-config FILE           feature config (default $feat_config)
  --vad-config FILE            VAD config (default $vad_config)
frame labels and bottleneck features (stage 3):
  --phone-labels true|false    frame labels of the DNN training set from a phone recogniser
                               (steps/run_phone_labels.sh), given to every system as
                               data.frame_labels (default $phone_labels)
  --label-table FILE           an existing frame-label table (ali.scp) instead
  --bnf true|false             bottleneck features (steps/make_bnf_sets.sh) for every set;
                               systems then go to <exp>/bnf (default $bnf)
  --asr-set NAME               transcribed set of the recogniser (for both options above)
  --asr-dev-set NAME           held-out transcribed set it is scored on (default none)
  --asr-timings FILE           true phoneme timings of the dev set (lhotse supervisions)
  --lexicon FILE               lexicon of the recogniser's language
systems (stages 4-6):
  --ivector true|false         i-vector baseline on the training set (default $ivector)
  --ivector-config FILE        its config, also its back-end's (default $ivector_config)
  --systems 'A B'              DNN systems, conf/<name>.yaml each
  --train-overrides 'K=V ...'  config overrides for every DNN system
  --train-jobs N               DNN systems trained at the same time (default $train_jobs)
  --backend FILE               back-end config on embeddings (default none: the DNN's scores)
  --backend-train-set NAME     its training set (default: --train-set, unperturbed)
scoring (stage 7):
  --results-spec FILE          results YAML (lidtool make-results); none: stage 7 is skipped
  --results FILE               markdown to write (default $results)
  --results-title TEXT         its title (default 'egs/<recipe> results')
  --results-dirs 'K=V ...'     the YAML's directory placeholders (default: exp=<exp> data=<data>)
  --results-preamble FILE      text under the title
  --results-epilogue FILE      text after the tables
  --results-json FILE          every metric as JSON (default <exp>/results.json)"
orig_args=("$@")
. utils/parse_options.sh
[ $# -eq 0 ] || die "unexpected argument '$1' (see ./lid.sh --help)"
check_stage_range "$stage" "$stop_stage" 7
if [ "$stage" -le 6 ] && [ "$stop_stage" -ge 1 ]; then
  [ -n "$train_set" ] || die "--train-set is required for stages 1-6"
  for sys in $systems; do
    [ -f "conf/$sys.yaml" ] || die "system $sys: conf/$sys.yaml does not exist"
  done
  if $phone_labels || $bnf; then
    [ -n "$asr_set" ] && [ -n "$lexicon" ] || \
      die "--phone-labels/--bnf need --asr-set and --lexicon (the phone recogniser's data)"
  fi
  ! $phone_labels || [ -z "$label_table" ] || die "give --phone-labels true or --label-table, not both"
fi

# The DNNs' training set: the perturbed copy when asked for; the i-vector baseline and the
# back-end train on the original.
dnn_train=$train_set
if [ -n "$speed_perturb" ]; then dnn_train=${train_set}_sp
elif $volume_perturb; then dnn_train=${train_set}_vp
fi
[ -n "$backend_train_set" ] || backend_train_set=$train_set
# Bottleneck features: data sets <set>_bnf, systems under <exp>/bnf.
fs=""; sysexp=$exp
if $bnf; then fs=_bnf; sysexp=$exp/bnf; fi
$phone_labels && label_table=$exp/phone_labels/$dnn_train/ali.scp

# every set this experiment reads, each once, in order
unique() { local s seen=" "; for s in "$@"; do
  case $seen in *" $s "*) ;; *) seen+="$s "; echo "$s" ;; esac; done; }
lid_sets=$(unique $train_set $test_sets)
[ -z "$backend" ] || lid_sets=$(unique $lid_sets $backend_train_set)
[ "$dnn_train" = "$train_set" ] || lid_sets=$(unique $lid_sets $dnn_train)
used_sets=$lid_sets
if $phone_labels || $bnf; then used_sets=$(unique $used_sets $asr_set $asr_dev_set); fi
[ -n "$stats_sets" ] || stats_sets="$train_set $test_sets"

[ -n "$tag" ] || tag=${train_set:-results}
write_rerun_cmd "$exp/lid/$tag" "$0" "${orig_args[@]}"

if [ $stage -le 0 ] && [ $stop_stage -ge 0 ]; then
  [ -x local/data.sh ] || die "local/data.sh (the recipe's data preparation) is missing"
  log "stage 0: data preparation -> $data (local/data.sh)"
  # shellcheck disable=SC2086  # data_opts is a list of options
  local/data.sh --nj "$nj" $data_opts "$data"
fi

if [ $stage -le 1 ] && [ $stop_stage -ge 1 ]; then
  log "stage 1: validate data dirs, corpus statistics"
  if [ "$dnn_train" != "$train_set" ] && ! is_done "$data/$dnn_train/.perturb.done"; then
    log "stage 1: $dnn_train = $train_set perturbed (speed: ${speed_perturb:-none}; volume: $volume_perturb)"
    rm -rf "${data:?}/$dnn_train"
    if [ -n "$speed_perturb" ]; then
      utils/perturb_data_dir_speed.sh "$speed_perturb" "$data/$train_set" "$data/$dnn_train"
    else
      utils/copy_data_dir.sh "$data/$train_set" "$data/$dnn_train"
    fi
    ! $volume_perturb || utils/perturb_data_dir_volume.sh --seed "$seed" "$data/$dnn_train"
    utils/validate_data_dir.sh --no-feats --need-lang "$data/$dnn_train"
    mark_done "$data/$dnn_train/.perturb.done"
  fi
  for s in $used_sets; do
    utils/validate_data_dir.sh --no-feats --need-lang "$data/$s"
  done
  if ! is_done "$exp/corpus_stats/.done"; then
    lidtool corpus-stats --out "$exp/corpus_stats" $(for s in $stats_sets; do echo "$data/$s"; done)
    mark_done "$exp/corpus_stats/.done"
  fi
fi

if [ $stage -le 2 ] && [ $stop_stage -ge 2 ]; then
  log "stage 2: features ($feat_config) and VAD"
  for s in $used_sets; do
    steps/make_feats.sh --nj "$nj" --cmd "$train_cmd" --feat-config "$feat_config" \
      "$data/$s" "$exp/make_feats/$s" "$data/$s/data"
    steps/compute_vad.sh --nj "$nj" --cmd "$train_cmd" --vad-config "$vad_config" \
      "$data/$s" "$exp/make_vad/$s" "$data/$s/data"
    utils/validate_data_dir.sh --need-lang "$data/$s"
  done
fi

if [ $stage -le 3 ] && [ $stop_stage -ge 3 ] && { $phone_labels || $bnf; }; then
  label_set=""
  $phone_labels && label_set=$dnn_train
  log "stage 3: phone recogniser on $asr_set -> frame labels for ${label_set:-no set}"
  steps/run_phone_labels.sh --nj "$nj" --mini "$mini" --asr-set "$asr_set" \
    --dev-set "$asr_dev_set" --timings "$asr_timings" --lexicon "$lexicon" \
    --label-set "$label_set" "$data" "$exp"
  if $bnf; then
    log "stage 3: bottleneck features for" $lid_sets
    steps/make_bnf_sets.sh --nj "$nj" --mini "$mini" --asr-set "$asr_set" "$data" "$exp" $lid_sets
  fi
fi

# score_test_sets <config> <train.scp> <train-utt2lang> <backend-dir> <test.scp> <scores>:
# train a back-end once, score every test set; in the last two paths %s is the test set.
score_test_sets() {
  local config=$1 train=$2 utt2lang=$3 dir=$4 vectors=$5 scores=$6 s
  for s in $test_sets; do
    steps/backend_score.sh --cmd "$train_cmd" --backend-config "$config" "$train" "$utt2lang" \
      "$dir" "${vectors//%s/$s}" "${scores//%s/$s}"
  done
}

if [ $stage -le 4 ] && [ $stop_stage -ge 4 ] && $ivector; then
  log "stage 4: i-vector baseline on $train_set$fs"
  iv=$sysexp/ivector
  ivector_opts=(--ivector-config "$ivector_config")
  steps/train_ubm.sh --nj "$nj" --cmd "$train_cmd" "${ivector_opts[@]}" "$data/$train_set$fs" "$iv/ubm"
  steps/train_ivector_extractor.sh --nj "$nj" --cmd "$train_cmd" "${ivector_opts[@]}" \
    "$data/$train_set$fs" "$iv/ubm" "$iv/extractor"
  for s in $(unique $train_set $test_sets); do
    steps/extract_ivectors.sh --nj "$nj" --cmd "$train_cmd" "$data/$s$fs" \
      "$iv/extractor" "$iv/ivectors_$s"
  done
  score_test_sets "$ivector_config" "$iv/ivectors_$train_set/ivector.scp" \
    "$data/$train_set/utt2lang" "$iv/backend" "$iv/ivectors_%s/ivector.scp" "$iv/%s/scores"
fi

train_system() {  # <system> [<override> ...]
  local sys=$1; shift
  local fopts=(--vad-config "$vad_config")
  # final.pt keeps the feature config so that `lidtool identify` can start from audio;
  # bnf features need the bnf network as well, so they are not recorded.
  $bnf || fopts+=(--feat-config "$feat_config")
  steps/train_nnet.sh --cmd "$cuda_cmd" --mini "$mini" --overrides "$train_overrides $*" \
    "${fopts[@]}" "conf/$sys.yaml" "$data/$dnn_train$fs" "$sysexp/$sys"
}

if [ $stage -le 5 ] && [ $stop_stage -ge 5 ] && [ -n "$systems" ]; then
  log "stage 5: train DNN systems on $dnn_train$fs ($train_jobs at a time)"
  extra=()
  if [ -n "$label_table" ]; then
    [ -f "$label_table" ] || die "frame-label table $label_table does not exist" \
      "(--phone-labels true makes it in stage 3)"
    extra=("data.frame_labels=$label_table")
  fi
  for sys in $systems; do
    bg_start "$train_jobs" "training $sysexp/$sys (see $sysexp/$sys/log/)" \
      train_system "$sys" "${extra[@]}"
  done
  bg_wait_all
fi

if [ $stage -le 6 ] && [ $stop_stage -ge 6 ] && [ -n "$systems" ]; then
  log "stage 6: inference${backend:+ and back-end ($backend)}"
  for sys in $systems; do
    # every set of a system in one call: each job loads python, torch and the model once
    pairs=()
    if [ -z "$backend" ]; then
      for s in $test_sets; do pairs+=("$data/$s$fs" "$sysexp/$sys/$s"); done
      steps/infer_nnet.sh --nj "$nj" --cmd "$train_cmd" "$sysexp/$sys/final.pt" "${pairs[@]}"
      continue
    fi
    for s in $(unique $backend_train_set $test_sets); do
      pairs+=("$data/$s$fs" "$sysexp/$sys/$s")
    done
    steps/infer_nnet.sh --nj "$nj" --cmd "$train_cmd" --embeddings true \
      "$sysexp/$sys/final.pt" "${pairs[@]}"
    score_test_sets "$backend" "$sysexp/$sys/$backend_train_set/xvector.scp" \
      "$data/$backend_train_set/utt2lang" "$sysexp/$sys/backend" \
      "$sysexp/$sys/%s/xvector.scp" "$sysexp/$sys/%s/scores_backend"
  done
fi

if [ $stage -le 7 ] && [ $stop_stage -ge 7 ] && [ -n "$results_spec" ]; then
  log "stage 7: scoring ($results_spec) -> $results"
  [ -n "$results_title" ] || results_title="egs/$(basename "$PWD") results"
  [ -n "$results_dirs" ] || results_dirs="exp=$sysexp data=$data"
  [ -n "$results_json" ] || results_json=$sysexp/results.json
  # The recipe's own invocations (run.sh records them in <exp>/run.cmd) reproduce the run;
  # without that record, this call's.
  cmd_file=$exp/run.cmd
  [ -f "$cmd_file" ] || cmd_file=$exp/lid/$tag/run.cmd
  notes=()
  [ -z "$results_preamble" ] || notes+=(--preamble "$results_preamble")
  [ -z "$results_epilogue" ] || notes+=(--epilogue "$results_epilogue")
  mkdir -p "$(dirname "$results_json")"
  # shellcheck disable=SC2086  # results_dirs is a list of NAME=DIR words
  lidtool make-results "$results_spec" "$results" --root . --title "$results_title" \
    --dirs $results_dirs \
    --command "$(recorded_commands "$cmd_file")" \
    --json "$results_json" "${notes[@]}" | tee "$(dirname "$results_json")/results.txt" >/dev/null
  log "wrote $results"
fi
