#!/usr/bin/env bash
# Stage 3 of run.sh: the GMM-HMM phone recogniser behind the "virtual phoneme" labels.
# Trained on ONE language (asr_cmn), it decodes the OLR training set (--label-set, every
# language) with a phone loop; each frame's pdf-id becomes its label
# (exp/phone_labels/<label-set>/ali.scp). Speed-perturbed copies are decoded on their own
# features, so their labels follow their own frame counts.
# It is also scored on held-out speakers (asr_cmn_dev): forced-alignment frame accuracy
# against the corpus's true phoneme timings and phone-loop PER -> exp/asr/eval_*.json.
set -euo pipefail
. utils/lib.sh

nj=2
mini=false
cmd=${train_cmd:-utils/run_local.sh}
num_leaves=1500
mono_gauss=1000
tri_gauss=10000
# Kaldi's 3-state topology (>= 3 frames a phone). "skip" lets a phone last 2 frames (4% of
# the corpus' non-silence phones do), but Viterbi training then starves states (measured
# on this corpus: more alignment failures), so it is not the default.
topology=3state
lexicon=""
# Kaldi's retry beam of 40 left 6 of the 60 held-out utterances unaligned with this model
# (69-dim features give larger log-likelihood ranges than Kaldi's 39), and dropping them
# flatters the frame accuracy; 200 aligns all of them (measured on the full corpus).
retry_beam=200
label_set=train_olr
help_message="usage: local/run_phone_labels.sh [options] <data-root> <exp-root>
e.g.: local/run_phone_labels.sh --nj 2 data exp
options:
  --nj N             decoding jobs (default 2)
  --mini true|false  toy sizes (default false)
  --num-leaves N     triphone tree leaves = pdfs (default 1500, the paper's ~1507)
  --topology T       HMM topology: 3state (default, Kaldi's) or skip
  --retry-beam B     forced-alignment retry beam of the held-out scoring (default 200;
                     utterances failing it are counted, not scored)
  --lexicon FILE     default <data-root>/local/dict_cmn/lexicon.txt
  --label-set NAME   data set under <data-root> to label (default train_olr; '' trains
                     and scores the recogniser only)"
. utils/parse_options.sh
[ $# -eq 2 ] || { echo "$help_message" >&2; exit 1; }
data=$1; exp=$2
[ -n "$lexicon" ] || lexicon=$data/local/dict_cmn/lexicon.txt
if $mini; then num_leaves=200; mono_gauss=200; tri_gauss=500; fi
mono_opts=(--total-gauss "$mono_gauss" --topology "$topology")
tri_opts=(--num-leaves "$num_leaves" --total-gauss "$tri_gauss")
$mini && mono_opts+=(--num-iters 10) && tri_opts+=(--num-iters 8 --min-count 10)

if ! is_done "$data/lang_asr/.done"; then
  lidtool asr-prepare-lang "$lexicon" "$data/lang_asr"
  mark_done "$data/lang_asr/.done"
fi
steps/asr/train_mono.sh --cmd "$cmd" "${mono_opts[@]}" "$data/asr_cmn" "$data/lang_asr" "$exp/asr/mono"
steps/asr/train_tri.sh --cmd "$cmd" "${tri_opts[@]}" "$data/asr_cmn" "$data/lang_asr" \
  "$exp/asr/mono" "$exp/asr/tri1"
steps/asr/make_phone_graph.sh --cmd "$cmd" "$data/lang_asr" "$exp/asr/tri1" "$exp/asr/tri1/graph"

# Held-out evaluation of the recogniser.
dev=$data/asr_cmn_dev
timings=$data/manifests/synth_supervisions_asr_cmn_dev.jsonl.gz
if ! is_done "$exp/asr/eval.done"; then
  mkdir -p "$exp/asr/log"
  $cmd "$exp/asr/log/align_dev.log" \
    lidtool asr-align --retry-beam "$retry_beam" "$dev" "$data/lang_asr" \
      "$exp/asr/tri1/final.mdl" "$exp/asr/tri1_ali_dev"
  $cmd "$exp/asr/log/decode_dev.log" \
    lidtool asr-decode-phones "$exp/asr/tri1/final.mdl" "$exp/asr/tri1/graph/HCLG.fst" "$dev" \
      "$exp/asr/tri1_decode_dev"
  lidtool asr-eval --timings "$timings" --ali "$exp/asr/tri1_ali_dev/ali.scp" \
    --out "$exp/asr/eval_align_dev.json" "$exp/asr/tri1/final.mdl"
  lidtool asr-eval --timings "$timings" --phone-seq "$exp/asr/tri1_decode_dev/phone_seq" \
    --out "$exp/asr/eval_phone_loop_dev.json" "$exp/asr/tri1/final.mdl"
  mark_done "$exp/asr/eval.done"
fi

labels=()
if [ -n "$label_set" ]; then
  steps/asr/decode_phone_loop.sh --nj "$nj" --cmd "$cmd" "$exp/asr/tri1" "$exp/asr/tri1/graph" \
    "$data/$label_set" "$exp/phone_labels/$label_set"
  labels=(--labels "$exp/phone_labels/$label_set")
fi
# One JSON with what the stage measured (pdfs, failures, held-out scores, label spread,
# step times): exp/asr/summary.json.
lidtool asr-summary "${labels[@]}" --out "$exp/asr/summary.json" "$exp/asr" > /dev/null
log "summary: $exp/asr/summary.json"
