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
#   1  validate every data dir; corpus statistics (hours/utterances, duration histogram);
#      with --olr-systems: train_olr_sp = train_olr speed-perturbed 0.9/1.0/1.1 + volume
#   2  features: 20-dim MFCC + 3-dim pitch (conf/mfcc_pitch.conf) and energy VAD
#   3  phone recogniser on asr_cmn -> frame-level "virtual phoneme" labels for train_olr_sp;
#      with --lt-feats bnf: bottleneck features of train_lt and its tests (<set>_bnf)
#   4  i-vector baseline on train_lt: UBM, extractor, i-vectors, cosine back-end, scores
#      (with --lt-feats bnf: the long-tailed systems go to exp/bnf/, RESULTS_bnf.md)
#   5  DNN systems: train every system in --lt-systems (train_lt) and --olr-systems
#      (train_olr_sp, or train_olr with --olr-perturb false)
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
olr_systems="olr_xvector_softmax olr_mt_softmax olr_mt_am_m0.2 olr_mt_am_m0.02 olr_mt_apm_am"
olr_systems+=" olr_mt_aam_m0.2 olr_mt_aam_m0.02 olr_mt_apm_aam"
lt_feats=mfcc_pitch
train_overrides=""
train_jobs=1
olr_perturb=true
help_message="usage: ./run.sh [options]
options:
  --stage N / --stop-stage N   run stages N..M only (default 0..100)
  --nj N                       parallel jobs (default 2)
  --mini true|false            tiny corpus and models; data_mini/, exp_mini/ (default false)
  --corpus-config FILE         corpus sizes and difficulty (default conf/corpus.yaml)
  --feat-config FILE           feature config (default conf/mfcc_pitch.conf)
  --lt-systems 'A B'           long-tailed LID systems (conf/<name>.yaml), trained on train_lt
  --lt-feats mfcc_pitch|bnf    features of the long-tailed systems (i-vector and DNN):
                               the stage-2 features, or bottleneck features of a DNN phone
                               classifier trained on the stage-3 alignments (default
                               mfcc_pitch); bnf puts them under <exp>/bnf and RESULTS_bnf.md
  --olr-systems 'A B'          OLR systems (conf/<name>.yaml), trained on train_olr;
                               '' skips them and stage 3 (default: the eight of Table 1)
  --olr-perturb true|false     train the OLR systems on speed (0.9/1.0/1.1) and volume
                               perturbed train_olr, as the paper does (default true)
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
# Long-tailed systems: data sets <set>$fs, experiments under $ltexp.
case $lt_feats in
  mfcc_pitch) fs=""; ltexp=$exp ;;
  bnf) fs=_bnf; ltexp=$exp/bnf; results=${results%.md}_bnf.md ;;
  *) die "--lt-feats must be mfcc_pitch or bnf, not '$lt_feats'" ;;
esac
olr_tests="test_1s test_channel test_openset"
corpus_sets="train_lt train_olr $lt_tests $olr_tests asr_cmn asr_cmn_dev"
all_sets=$corpus_sets
# The OLR systems' training set; its frame labels come from stage 3 and their back-end is
# trained on the unperturbed train_olr.
olr_train=train_olr
if [ -n "$olr_systems" ] && $olr_perturb; then
  olr_train=train_olr_sp
  all_sets="$all_sets $olr_train"
fi
mkdir -p "$exp"
write_rerun_cmd "$exp" ./run.sh "${orig_args[@]}"

if [ $stage -le 0 ] && [ $stop_stage -ge 0 ]; then
  log "stage 0: synthesise the corpus ($corpus_config)"
  local/make_corpus.sh --nj "$nj" --corpus-config "$corpus_config" "$data"
fi

if [ $stage -le 1 ] && [ $stop_stage -ge 1 ]; then
  log "stage 1: validate data dirs, corpus statistics"
  if [ "$olr_train" = train_olr_sp ] && ! is_done "$data/train_olr_sp/.perturb.done"; then
    log "stage 1: train_olr_sp = train_olr speed-perturbed (0.9, 1.0, 1.1), volume-perturbed"
    rm -rf "$data/train_olr_sp"
    utils/perturb_data_dir_speed.sh 0.9,1.0,1.1 "$data/train_olr" "$data/train_olr_sp"
    utils/perturb_data_dir_volume.sh --seed "$seed" "$data/train_olr_sp"
    utils/validate_data_dir.sh --no-feats --need-lang "$data/train_olr_sp"
    mark_done "$data/train_olr_sp/.perturb.done"
  fi
  for s in $all_sets; do
    utils/validate_data_dir.sh --no-feats --need-lang "$data/$s"
  done
  if ! is_done "$exp/corpus_stats/.done"; then
    lidtool corpus-stats --out "$exp/corpus_stats" $(for s in $corpus_sets; do echo "$data/$s"; done)
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

if [ $stage -le 3 ] && [ $stop_stage -ge 3 ] && { [ -n "$olr_systems" ] || [ -n "$fs" ]; }; then
  label_set=""
  [ -n "$olr_systems" ] && label_set=$olr_train
  log "stage 3: phone recogniser on asr_cmn -> frame labels for ${label_set:-no set}"
  local/run_phone_labels.sh --nj "$nj" --mini "$mini" --label-set "$label_set" "$data" "$exp"
  if [ -n "$fs" ]; then
    log "stage 3: bottleneck features for train_lt $lt_tests"
    local/make_bnf_sets.sh --nj "$nj" --mini "$mini" "$data" "$exp" train_lt $lt_tests
  fi
fi

if [ $stage -le 4 ] && [ $stop_stage -ge 4 ]; then
  log "stage 4: i-vector baseline on train_lt"
  iv=$ltexp/ivector
  steps/train_ubm.sh --nj "$nj" --cmd "$train_cmd" $ivector_opts "$data/train_lt$fs" "$iv/ubm"
  steps/train_ivector_extractor.sh --nj "$nj" --cmd "$train_cmd" $ivector_opts \
    "$data/train_lt$fs" "$iv/ubm" "$iv/extractor"
  for s in train_lt $lt_tests; do
    steps/extract_ivectors.sh --nj "$nj" --cmd "$train_cmd" "$data/$s$fs" \
      "$iv/extractor" "$iv/ivectors_$s"
  done
  for s in $lt_tests; do
    steps/backend_score.sh --cmd "$train_cmd" --backend-config "${ivector_opts#* }" \
      "$iv/ivectors_train_lt/ivector.scp" "$data/train_lt/utt2lang" \
      "$iv/backend" "$iv/ivectors_$s/ivector.scp" "$iv/$s/scores"
  done
fi

train_system() {  # <system> <train-set> <exp-dir> [<override> ...]
  local sys=$1 set=$2 dir=$3; shift 3
  local fopts=(--vad-config "$vad_config")
  # final.pt keeps the feature config so that `lidtool identify` can start from audio;
  # bnf features need the bnf network as well, so they are not recorded.
  case $set in *_bnf) ;; *) fopts+=(--feat-config "$feat_config") ;; esac
  steps/train_nnet.sh --cmd "$cuda_cmd" --mini "$mini" --overrides "$train_overrides $*" \
    "${fopts[@]}" "conf/$sys.yaml" "$data/$set" "$dir/$sys"
}

if [ $stage -le 5 ] && [ $stop_stage -ge 5 ]; then
  log "stage 5: train DNN systems ($train_jobs at a time)"
  pids=(); names=()
  wait_oldest() {  # wait for the oldest running system; fail naming it
    wait "${pids[0]}" || die "training ${names[0]} failed; see ${names[0]}/log/"
    pids=("${pids[@]:1}"); names=("${names[@]:1}")
  }
  for sys in $lt_systems $olr_systems; do
    extra=()
    case " $olr_systems " in
      *" $sys "*) set_=$olr_train; dir=$exp
                  extra=("data.frame_labels=$exp/phone_labels/$olr_train/ali.scp") ;;
      *) set_=train_lt$fs; dir=$ltexp ;;
    esac
    train_system "$sys" "$set_" "$dir" "${extra[@]}" &
    pids+=($!); names+=("$dir/$sys")
    [ ${#pids[@]} -lt "$train_jobs" ] || wait_oldest
  done
  while [ ${#pids[@]} -gt 0 ]; do wait_oldest; done
fi

if [ $stage -le 6 ] && [ $stop_stage -ge 6 ]; then
  log "stage 6: inference"
  for sys in $lt_systems; do
    for s in $lt_tests; do
      steps/infer_nnet.sh --nj "$nj" --cmd "$train_cmd" "$ltexp/$sys/final.pt" "$data/$s$fs" \
        "$ltexp/$sys/$s"
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
  # The hand-written readings belong to the recorded runs: results_reading.md to RESULTS.md,
  # results_bnf_note.md to RESULTS_bnf.md; the mini setting gets a note that it is a toy.
  notes=()
  if $mini; then notes=(--preamble conf/results_mini_note.md)
  elif [ -n "$fs" ]; then notes=(--preamble conf/results_bnf_note.md)
  elif [ -f conf/results_reading.md ]; then notes=(--epilogue conf/results_reading.md)
  fi
  lidtool make-results conf/results.yaml "$results" --root . --title "egs/synth_lid results" \
    --dirs "exp=$ltexp" "olr_exp=$exp" "data=$data" \
    --command "$(grep -v '^#' "$exp/run.cmd" | sed 's/^cd [^&]*&& *//')" \
    --json "$ltexp/results.json" "${notes[@]}" | tee "$ltexp/results.txt" >/dev/null
  log "wrote $results"
fi
