#!/usr/bin/env bash
# Speaker verification with a trained embedding DNN: embeddings of the test sets (and of a
# training set for the back-ends), then `lidtool score-trials` on each test set's trial list.
set -euo pipefail
. utils/lib.sh
orig_args=("$@")

cmd=utils/run_local.sh
nj=2
train_data=""
backends=cosine
asnorm=false
asnorm_top=300
lda_dim=200
trials_name=trials
help_message="usage: $0 [options] <model.pt> <exp-dir> <test-data-dir> [<test-data-dir> ...]
e.g.: $0 --train-data data/train_sv --backends 'cosine plda' exp/xvector/final.pt \\
        exp/xvector data/test_sv data/test_sv_channel
Writes <exp-dir>/<set>/xvector.scp for every set (steps/infer_nnet.sh, embeddings only) and,
per test set and back-end, <exp-dir>/<set>/sv_<backend>[_asnorm]/{scores,metrics.json,
det.png} (lidtool score-trials on <test-data-dir>/$trials_name: '<enrol> <test>
target|nontarget'). The training set's embeddings give the cosine mean, the PLDA model
(<exp-dir>/sv_plda.npz, trained once) and the AS-norm cohort (its speakers' mean embeddings).
Skips a result whose .done records the same options (back-end training data, LDA dimension,
AS-norm cohort size) and trial list; a result made with others is redone.
options:
  --cmd CMD            job runner (default: $cmd)
  --nj N               parallel embedding jobs (default: $nj)
  --train-data DIR     training data dir for the back-ends (needed by plda and AS-norm;
                       cosine subtracts its mean when given)
  --backends 'A B'     cosine and/or plda (default: $backends)
  --asnorm true|false  also adaptive s-norm against the training speakers (default: $asnorm)
  --asnorm-top N       cohort scores kept per side (default: $asnorm_top)
  --lda-dim N          LDA dimension before PLDA (default: $lda_dim)
  --trials-name NAME   trial file of each test data dir (default: $trials_name)"
. utils/parse_options.sh
[ $# -ge 3 ] || { echo "$help_message" >&2; exit 1; }
require_cmd "$cmd"
model=$1; dir=$2; shift 2
[ -f "$model" ] || die "$model does not exist (run steps/train_nnet.sh)"
for b in $backends; do
  case $b in cosine|plda) ;; *) die "--backends: unknown back-end '$b' (cosine or plda)" ;; esac
done
if [ -z "$train_data" ]; then
  case " $backends " in *" plda "*) die "--backends plda needs --train-data" ;; esac
  ! $asnorm || die "--asnorm true needs --train-data"
fi
for data in "$@"; do
  [ -f "$data/$trials_name" ] || die "$data/$trials_name does not exist (a trial list:" \
    "lidtool make-trials $data)"
done
mkdir -p "$dir/log"
lock_dir "$dir"
write_rerun_cmd "$dir/sv" "$0" "${orig_args[@]}"

pairs=()
for data in $train_data "$@"; do pairs+=("$data" "$dir/$(basename "$data")"); done
steps/infer_nnet.sh --cmd "$cmd" --nj "$nj" --embeddings true --scores false "$model" "${pairs[@]}"

train_opts=()
if [ -n "$train_data" ]; then
  tr=$dir/$(basename "$train_data")
  train_opts=(--train-embeddings "$tr/xvector.scp" --train-utt2spk "$train_data/utt2spk")
fi
norm_opts=()
$asnorm && norm_opts=(--asnorm-cohort "$tr/xvector.scp" --asnorm-cohort-utt2spk \
  "$train_data/utt2spk" --asnorm-top "$asnorm_top")
case " $backends " in *" plda "*)
  plda_key="lda_dim=$lda_dim train_data=$train_data"
  if ! is_done_with "$dir/.sv_plda.done" "$plda_key"; then
    log "training LDA($lda_dim) + PLDA on $train_data embeddings -> $dir/sv_plda.npz"
    lidtool score-trials --backend plda --lda-dim "$lda_dim" "${train_opts[@]}" \
      --save-backend "$dir/sv_plda.npz" 2> "$dir/log/sv_plda.log" || \
      die "PLDA training failed; see $dir/log/sv_plda.log"
    mark_done_with "$dir/.sv_plda.done" "$plda_key"
  fi ;;
esac

for data in "$@"; do
  set_dir=$dir/$(basename "$data")
  for b in $backends; do
    out=$set_dir/sv_$b; $asnorm && out=${out}_asnorm
    # what the result depends on beyond its path: a change redoes it
    key="train_data=$train_data trials=$(cksum < "$data/$trials_name")"
    [ "$b" = plda ] && key+=" lda_dim=$lda_dim"
    $asnorm && key+=" asnorm_top=$asnorm_top"
    if is_done_with "$out/.done" "$key"; then log "$out is done; skipping"; continue; fi
    [ -f "$out/.done" ] && log "$out was made with other options or trials; redoing it"
    mkdir -p "$out"
    if [ "$b" = plda ]; then bopts=(--load-backend "$dir/sv_plda.npz")
    elif [ -n "$train_data" ]; then bopts=(--backend cosine --mean-from "$tr/xvector.scp")
    else bopts=(--backend cosine)
    fi
    lidtool score-trials --trials "$data/$trials_name" --enrol-embeddings "$set_dir/xvector.scp" \
      --test-embeddings "$set_dir/xvector.scp" "${bopts[@]}" "${norm_opts[@]}" \
      --scores "$out/scores" --metrics "$out/metrics.json" --det "$out/det.png" \
      --det-title "$(basename "$data") $b${norm_opts:+ AS-norm}" 2> "$out/score.log" || \
      die "score-trials failed; see $out/score.log"
    mark_done_with "$out/.done" "$key"
    eer=$(python3 -c 'import json, sys; print(100 * json.load(open(sys.argv[1]))["eer"])' \
      "$out/metrics.json")
    log "$out: EER $eer %"
  done
done
