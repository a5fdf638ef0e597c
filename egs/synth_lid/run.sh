#!/usr/bin/env bash
# egs/synth_lid: spoken language identification on the built-in synthetic corpus.
#
#   ./run.sh                              every stage, corpus to RESULTS.md
#   ./run.sh --stage 5 --stop-stage 7     re-enter anywhere; finished work is skipped
#   ./run.sh --mini true                  the whole recipe on a tiny corpus, in minutes
#   ./run.sh --lt-systems "resnet_bs resnet_wadcl" --nj 4
#
# Stages:
#   0  corpus: synthesise speech (espeak-ng) -> lhotse manifests + Kaldi data dirs
#   1  validate every data dir; corpus statistics (hours/utterances, duration histogram)
#   2  features: 20-dim MFCC + 3-dim pitch (conf/mfcc_pitch.conf) and energy VAD
#   3  phone recogniser on asr_cmn -> frame-level "virtual phoneme" labels for train_olr
#   4  i-vector baseline on train_lt: UBM, extractor, i-vectors, cosine back-end, scores
#   5  DNN systems: train every system in --lt-systems (train_lt) and --olr-systems (train_olr)
#   6  inference: score files (and embeddings) per system and test set; OLR back-end
#   7  scoring: RESULTS.md from the score files
set -euo pipefail
cd "$(dirname "$0")"
. ./path.sh
. ./cmd.sh
. utils/lib.sh

stage=0
stop_stage=100
nj=2
mini=false
seed=1
corpus_config=conf/corpus.yaml
feat_config=conf/mfcc_pitch.conf
vad_config=conf/vad.conf
ivector_config=conf/ivector.yaml
lt_systems="resnet_rs resnet_bs resnet_xvector resnet_rs_wma resnet_bs_wma resnet_wadcl"
olr_systems=""
train_overrides=""
train_jobs=1
help_message="usage: ./run.sh [options]
options:
  --stage N / --stop-stage N   run stages N..M only (default 0..100)
  --nj N                       parallel jobs (default 2)
  --mini true|false            tiny corpus and models; data_mini/, exp_mini/ (default false)
  --corpus-config FILE         corpus sizes and difficulty (default conf/corpus.yaml)
  --feat-config FILE           feature config (default conf/mfcc_pitch.conf)
  --lt-systems 'A B'           long-tailed LID systems (conf/<name>.yaml), trained on train_lt
  --olr-systems 'A B'          OLR systems (conf/<name>.yaml), trained on train_olr
  --train-overrides 'K=V ...'  config overrides for every DNN system
  --train-jobs N               DNN systems trained at the same time (default 1)
Stages: 0 corpus, 1 validation+stats, 2 features+VAD, 3 phone labels, 4 i-vector,
        5 DNN training, 6 inference, 7 RESULTS.md"
orig_args=("$@")
. utils/parse_options.sh

if $mini; then
  data=data_mini; exp=exp_mini; results=RESULTS_mini.md
  [ "$corpus_config" = conf/corpus.yaml ] && corpus_config=conf/corpus_mini.yaml
  ivector_opts="--ivector-config conf/ivector_mini.yaml"
else
  data=data; exp=exp; results=RESULTS.md
  ivector_opts="--ivector-config $ivector_config"
fi
lt_tests="test_3s test_10s test_30s"
olr_tests="test_1s test_channel test_openset"
all_sets="train_lt train_olr $lt_tests $olr_tests asr_cmn asr_cmn_dev"
mkdir -p "$exp"
write_rerun_cmd "$exp" ./run.sh "${orig_args[@]}"

if [ $stage -le 0 ] && [ $stop_stage -ge 0 ]; then
  log "stage 0: synthesise the corpus ($corpus_config)"
  local/make_corpus.sh --nj "$nj" --corpus-config "$corpus_config" "$data"
fi

if [ $stage -le 1 ] && [ $stop_stage -ge 1 ]; then
  log "stage 1: validate data dirs, corpus statistics"
  for s in $all_sets; do
    utils/validate_data_dir.sh --no-feats --need-lang "$data/$s"
  done
  if ! is_done "$exp/corpus_stats/.done"; then
    lidtool corpus-stats --out "$exp/corpus_stats" $(for s in $all_sets; do echo "$data/$s"; done)
    mark_done "$exp/corpus_stats/.done"
  fi
fi

if [ $stage -le 2 ] && [ $stop_stage -ge 2 ]; then
  log "stage 2: features ($feat_config) and VAD"
  for s in $all_sets; do
    steps/make_feats.sh --nj "$nj" --cmd "$train_cmd" --feat-config "$feat_config" \
      "$data/$s" "$exp/make_feats/$s" "$data/$s/data"
    steps/compute_vad.sh --nj "$nj" --cmd "$train_cmd" --vad-config "$vad_config" \
      "$data/$s" "$exp/make_vad/$s" "$data/$s/data"
    utils/validate_data_dir.sh --need-lang "$data/$s"
  done
fi

if [ $stage -le 3 ] && [ $stop_stage -ge 3 ] && [ -n "$olr_systems" ]; then
  log "stage 3: phone recogniser on asr_cmn -> frame labels for train_olr"
  local/run_phone_labels.sh --nj "$nj" --mini "$mini" "$data" "$exp"
fi

if [ $stage -le 4 ] && [ $stop_stage -ge 4 ]; then
  log "stage 4: i-vector baseline on train_lt"
  steps/train_ubm.sh --nj "$nj" --cmd "$train_cmd" $ivector_opts "$data/train_lt" "$exp/ivector/ubm"
  steps/train_ivector_extractor.sh --nj "$nj" --cmd "$train_cmd" $ivector_opts \
    "$data/train_lt" "$exp/ivector/ubm" "$exp/ivector/extractor"
  for s in train_lt $lt_tests; do
    steps/extract_ivectors.sh --nj "$nj" --cmd "$train_cmd" "$data/$s" \
      "$exp/ivector/extractor" "$exp/ivector/ivectors_$s"
  done
  for s in $lt_tests; do
    steps/backend_score.sh --cmd "$train_cmd" --backend-config "${ivector_opts#* }" \
      "$exp/ivector/ivectors_train_lt/ivector.scp" "$data/train_lt/utt2lang" \
      "$exp/ivector/backend" "$exp/ivector/ivectors_$s/ivector.scp" "$exp/ivector/$s/scores"
  done
fi

train_system() {  # <system> <train-set> [<override> ...]
  local sys=$1 set=$2; shift 2
  steps/train_nnet.sh --cmd "$cuda_cmd" --mini "$mini" --overrides "$train_overrides $*" \
    --feat-config "$feat_config" --vad-config "$vad_config" \
    "conf/$sys.yaml" "$data/$set" "$exp/$sys"
}

if [ $stage -le 5 ] && [ $stop_stage -ge 5 ]; then
  log "stage 5: train DNN systems ($train_jobs at a time)"
  pids=(); names=()
  wait_oldest() {  # wait for the oldest running system; fail naming it
    wait "${pids[0]}" || die "training ${names[0]} failed; see $exp/${names[0]}/log/"
    pids=("${pids[@]:1}"); names=("${names[@]:1}")
  }
  for sys in $lt_systems $olr_systems; do
    extra=()
    case " $olr_systems " in
      *" $sys "*) set_="train_olr"; extra=("data.frame_labels=$exp/phone_labels/train_olr/ali.scp") ;;
      *) set_="train_lt" ;;
    esac
    train_system "$sys" "$set_" "${extra[@]}" &
    pids+=($!); names+=("$sys")
    [ ${#pids[@]} -lt "$train_jobs" ] || wait_oldest
  done
  while [ ${#pids[@]} -gt 0 ]; do wait_oldest; done
fi

if [ $stage -le 6 ] && [ $stop_stage -ge 6 ]; then
  log "stage 6: inference"
  for sys in $lt_systems; do
    for s in $lt_tests; do
      steps/infer_nnet.sh --nj "$nj" --cmd "$train_cmd" "$exp/$sys/final.pt" "$data/$s" "$exp/$sys/$s"
    done
  done
  for sys in $olr_systems; do
    # AP20-OLR back-end on the embeddings: lnorm -> LDA 100 -> centre -> lnorm -> LR
    for s in train_olr $olr_tests; do
      steps/infer_nnet.sh --nj "$nj" --cmd "$train_cmd" --embeddings true \
        "$exp/$sys/final.pt" "$data/$s" "$exp/$sys/$s"
    done
    for s in $olr_tests; do
      steps/backend_score.sh --cmd "$train_cmd" --backend-config conf/backend_olr.yaml \
        "$exp/$sys/train_olr/xvector.scp" "$data/train_olr/utt2lang" "$exp/$sys/backend" \
        "$exp/$sys/$s/xvector.scp" "$exp/$sys/$s/scores_backend"
    done
  done
fi

if [ $stage -le 7 ] && [ $stop_stage -ge 7 ]; then
  log "stage 7: scoring -> $results"
  lidtool make-results conf/results.yaml "$results" --root . --title "egs/synth_lid results" \
    --dirs "exp=$exp" "data=$data" \
    --command "$(grep -v '^#' "$exp/run.cmd" | sed 's/^cd [^&]*&& *//')" \
    --json "$exp/results.json" $($mini && echo --preamble conf/results_mini_note.md) \
    $(! $mini && [ -f conf/results_reading.md ] && echo --epilogue conf/results_reading.md) \
    | tee "$exp/results.txt" >/dev/null
  log "wrote $results"
fi
