#!/usr/bin/env bash
# egs/synth_lid: spoken language identification on the built-in synthetic corpus.
# Two experiments on one corpus, each a call of the recipe template (lid.sh ->
# egs/TEMPLATE/lid.sh): long-tailed LID (train_lt; test_3s/10s/30s; i-vector + DNNs) and
# OLR (train_olr(_sp); phone-recogniser frame labels; back-end), then one scoring call.
#
#   ./run.sh                              every stage, corpus to RESULTS.md
#   ./run.sh --stage 5 --stop-stage 7     re-enter anywhere; finished work is skipped
#   ./run.sh --mini true                  the whole recipe on a tiny corpus, in minutes
#   ./run.sh --corpus espeak              the former espeak-only corpus (data_espeak/,
#                                         exp_espeak/, RESULTS_espeak.md)
#   ./run.sh --lt-systems "resnet_bs resnet_wadcl" --nj 4
#
# Stages:
#   0  corpus: synthesise speech (espeak-ng, Festival, flite, MBROLA where installed; per-
#      speaker voice transforms) -> lhotse manifests + Kaldi data dirs
#   1  validate every data dir; corpus statistics (hours/utterances, duration histogram);
#      with --olr-systems: train_olr_sp = train_olr speed-perturbed 0.9/1.0/1.1 + volume
#   2  features: 20-dim MFCC + 3-dim pitch (conf/mfcc_pitch.conf) and energy VAD
#   3  phone recogniser on asr_cmn -> frame-level "virtual phoneme" labels for train_olr_sp;
#      with --lt-feats bnf: bottleneck features of train_lt and its tests (<set>_bnf)
#   4  i-vector baseline on train_lt: UBM, extractor, i-vectors, cosine back-end, scores
#      (with --lt-feats bnf: the long-tailed systems go to exp/bnf/, RESULTS_bnf.md;
#      RESULTS_espeak_bnf.md with --corpus espeak)
#   5  DNN systems: train every system in --lt-systems (train_lt) and --olr-systems
#      (train_olr_sp, or train_olr with --olr-perturb false)
#   6  inference: score files (and embeddings) per system and test set; OLR back-end
#   7  scoring: RESULTS.md from the score files
set -euo pipefail
cd "$(dirname "$0")"
. ./path.sh
. utils/lib.sh

stage=0
stop_stage=100
nj=2
mini=false
seed=1
corpus=multisynth
corpus_config=""
feat_config=conf/mfcc_pitch.conf
vad_config=conf/vad.conf
ivector_config=conf/ivector.yaml
lt_systems="resnet_rs resnet_bs resnet_xvector resnet_rs_wma resnet_bs_wma resnet_wadcl"
olr_systems="olr_xvector_softmax olr_mt_softmax olr_mt_am_m0.2 olr_mt_am_m0.02 olr_mt_apm_am"
olr_systems+=" olr_mt_aam_m0.2 olr_mt_aam_m0.02 olr_mt_apm_aam"
lt_feats=mfcc_pitch
train_overrides=""
# one thread per training process (path.sh), so two systems at a time use two cores
# (not `nproc`: it reports OMP_NUM_THREADS, which path.sh sets to 1)
train_jobs=$(( $(getconf _NPROCESSORS_ONLN) >= 2 ? 2 : 1 ))
olr_perturb=true
help_message="usage: ./run.sh [options]
options:
  --stage N / --stop-stage N   run stages N..M only (default 0..100)
  --nj N                       parallel jobs (default 2)
  --mini true|false            tiny corpus and models; data_mini/, exp_mini/, RESULTS_mini.md
                               (data_mini_espeak/... with --corpus espeak) (default false)
  --corpus multisynth|espeak   the built-in corpus: multisynth = every synthesizer that
                               speaks a language, per-speaker voice transforms, and the
                               held-out-synthesizer OLR tests (conf/corpus.yaml,
                               conf/results.yaml; data/, exp/, RESULTS.md); espeak = the
                               former espeak-only corpus (conf/corpus_espeak.yaml,
                               conf/results_espeak.yaml; data_espeak/, exp_espeak/,
                               RESULTS_espeak.md) (default multisynth)
  --corpus-config FILE         corpus YAML instead of the --corpus one (its sets must be
                               those of that variant)
  --seed N                     seed of the volume perturbation of train_olr_sp (default 1)
  --feat-config FILE           feature config (default conf/mfcc_pitch.conf)
  --vad-config FILE            VAD config (default conf/vad.conf)
  --ivector-config FILE        i-vector config (default conf/ivector.yaml; --mini true:
                               conf/ivector_mini.yaml)
  --lt-systems 'A B'           long-tailed LID systems (conf/<name>.yaml), trained on train_lt
  --lt-feats mfcc_pitch|bnf    features of the long-tailed systems (i-vector and DNN):
                               the stage-2 features, or bottleneck features of a DNN phone
                               classifier trained on the stage-3 alignments (default
                               mfcc_pitch); bnf puts them under <exp>/bnf and RESULTS_bnf.md
  --olr-systems 'A B'          OLR systems (conf/<name>.yaml), trained on train_olr_sp
                               (train_olr with --olr-perturb false);
                               '' skips them and stage 3 (default: the eight of Table 1)
  --olr-perturb true|false     train the OLR systems on speed (0.9/1.0/1.1) and volume
                               perturbed train_olr, as the paper does (default true)
  --train-overrides 'K=V ...'  config overrides for every DNN system
  --train-jobs N               DNN systems trained at the same time, within each of the
                               two experiments (default $train_jobs: 2 on 2+ cores, else 1)
Every stage runs in egs/TEMPLATE/lid.sh (see its --help and egs/TEMPLATE/README.md).
Stages: 0 corpus, 1 validation+stats, 2 features+VAD, 3 phone labels, 4 i-vector,
        5 DNN training, 6 inference, 7 RESULTS.md"
orig_args=("$@")
. utils/parse_options.sh
check_stage_range "$stage" "$stop_stage" 7

# Each corpus variant has its own data, exp and RESULTS names, so both can live side by side.
lt_tests="test_3s test_10s test_30s"
olr_tests="test_1s test_channel test_openset"
case $corpus in
  multisynth) sfx=""; olr_tests+=" test_olr_synth test_olr_heldout_synth" ;;
  espeak) sfx=_espeak ;;
  *) die "--corpus must be multisynth or espeak, not '$corpus'" ;;
esac
results_spec=conf/results$sfx.yaml
reading=conf/results_reading$sfx.md
if $mini; then
  data=data_mini$sfx; exp=exp_mini$sfx; results=RESULTS_mini$sfx.md
  [ -n "$corpus_config" ] || corpus_config=conf/corpus${sfx}_mini.yaml
  ivector_config=conf/ivector_mini.yaml
else
  data=data$sfx; exp=exp$sfx; results=RESULTS$sfx.md
  [ -n "$corpus_config" ] || corpus_config=conf/corpus$sfx.yaml
fi
[ -f "$corpus_config" ] || die "corpus config $corpus_config does not exist"
# A finished corpus is never remade (stage 0 skips), so a data dir made from another config
# (e.g. data/ of the espeak-only default of earlier versions) would silently be reused.
if [ -f "$data/.corpus.done" ]; then
  [ -f "$data/corpus_config.yaml" ] || die "$data holds a corpus made before stage 0" \
    "recorded its config (the espeak-only default of earlier versions?): remove $data and" \
    "$exp, or keep them for --corpus espeak: move them to ${data%_espeak}_espeak and" \
    "${exp%_espeak}_espeak and copy the config they were made from there as corpus_config.yaml"
  cmp -s "$data/corpus_config.yaml" "$corpus_config" || die "$data was made from another" \
    "corpus config than $corpus_config (see $data/corpus_config.yaml): use the --corpus /" \
    "--corpus-config it was made with, or remove $data and $exp"
fi
# Long-tailed systems: stage-2 features, or bottleneck features under $exp/bnf.
case $lt_feats in
  mfcc_pitch) bnf=false; ltexp=$exp ;;
  bnf) bnf=true; ltexp=$exp/bnf; results=${results%.md}_bnf.md ;;
  *) die "--lt-feats must be mfcc_pitch or bnf, not '$lt_feats'" ;;
esac
mkdir -p "$exp"
write_rerun_cmd "$exp" ./run.sh "${orig_args[@]}"

common=(--stage "$stage" --stop-stage "$stop_stage" --nj "$nj" --mini "$mini" --seed "$seed"
        --data "$data" --exp "$exp" --data-opts "--corpus-config $corpus_config"
        --feat-config "$feat_config" --vad-config "$vad_config"
        --stats-sets "train_lt train_olr $lt_tests $olr_tests asr_cmn asr_cmn_dev"
        --train-overrides "$train_overrides" --train-jobs "$train_jobs"
        --asr-set asr_cmn --asr-dev-set asr_cmn_dev --lexicon "$data/local/dict_cmn/lexicon.txt"
        --asr-timings "$data/manifests/synth_supervisions_asr_cmn_dev.jsonl.gz")

# Long-tailed LID (Table 2/3): i-vector and DNNs on train_lt.
./lid.sh "${common[@]}" --tag lt --train-set train_lt --test-sets "$lt_tests" --bnf "$bnf" \
  --ivector true --ivector-config "$ivector_config" --systems "$lt_systems"

# OLR (Table 1): multi-task systems on train_olr_sp with the phone recogniser's frame
# labels; the AP20-OLR back-end (lnorm -> LDA 100 -> centre -> lnorm -> LR) on train_olr.
if [ -n "$olr_systems" ]; then
  perturb=()
  $olr_perturb && perturb=(--speed-perturb 0.9,1.0,1.1 --volume-perturb true)
  ./lid.sh "${common[@]}" --tag olr --train-set train_olr --test-sets "$olr_tests" \
    "${perturb[@]}" --phone-labels true --systems "$olr_systems" \
    --backend conf/backend_olr.yaml
fi

if [ $stage -le 7 ] && [ $stop_stage -ge 7 ]; then
  # The hand-written readings belong to the recorded runs: results_reading.md to RESULTS.md
  # (the default corpus), results_reading_espeak.md to RESULTS_espeak.md and
  # results_bnf_note_espeak.md to RESULTS_espeak_bnf.md (the espeak-only corpus); the default
  # corpus's bnf run has none yet. The mini setting gets a note that it is a toy.
  notes=()
  if $mini; then notes=(--results-preamble conf/results_mini_note.md)
  elif $bnf; then
    if [ -f "conf/results_bnf_note$sfx.md" ]; then
      notes=(--results-preamble "conf/results_bnf_note$sfx.md")
    fi
  elif [ -f "$reading" ]; then notes=(--results-epilogue "$reading")
  fi
  ./lid.sh --stage 7 --stop-stage 7 --tag results --data "$data" --exp "$exp" \
    --results-spec "$results_spec" --results "$results" --results-title "egs/synth_lid results" \
    --results-dirs "exp=$ltexp olr_exp=$exp data=$data" --results-json "$ltexp/results.json" \
    "${notes[@]}"
fi
