#!/usr/bin/env bash
# The GMM-HMM phone recogniser behind "virtual phoneme" frame labels (stage 3 of
# egs/TEMPLATE/lid.sh). Trained on ONE language's transcribed set (--asr-set), it decodes a
# LID training set (--label-set, every language) with a phone loop; each frame's pdf-id
# becomes its label (<exp-root>/phone_labels/<label-set>/ali.scp). Speed-perturbed copies
# are decoded on their own features, so their labels follow their own frame counts.
# With --dev-set and --timings it is also scored on held-out speakers: forced-alignment
# frame accuracy against true phoneme timings and phone-loop PER -> <exp-root>/asr/eval_*.json.
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
asr_set=""
dev_set=""
timings=""
# Kaldi's retry beam of 40 left 6 of the 60 held-out utterances unaligned with this model
# (69-dim features give larger log-likelihood ranges than Kaldi's 39), and dropping them
# flatters the frame accuracy; 200 aligns all of them (measured on the full corpus).
retry_beam=200
label_set=train_olr
help_message="usage: steps/run_phone_labels.sh [options] --asr-set NAME --lexicon FILE <data-root> <exp-root>
e.g.: steps/run_phone_labels.sh --nj 2 --asr-set asr_cmn --lexicon data/local/dict_cmn/lexicon.txt \\
        --dev-set asr_cmn_dev --timings data/manifests/synth_supervisions_asr_cmn_dev.jsonl.gz \\
        --label-set train_olr data exp
Writes <data-root>/lang_asr, <exp-root>/asr/{mono,tri1,tri1/graph}, <exp-root>/asr/summary.json
and, with --label-set, <exp-root>/phone_labels/<label-set>/ali.scp.
options:
  --asr-set NAME     transcribed data set under <data-root> the recogniser trains on (required)
  --lexicon FILE     pronunciation lexicon of that language (required)
  --dev-set NAME     held-out transcribed set to score the recogniser on (default: none)
  --timings FILE     lhotse supervisions with the dev set's true phoneme timings (required
                     with --dev-set)
  --nj N             decoding jobs (default 2)
  --mini true|false  toy sizes (default false)
  --num-leaves N     triphone tree leaves = pdfs (default 1500, the paper's ~1507)
  --topology T       HMM topology: 3state (default, Kaldi's) or skip
  --retry-beam B     forced-alignment retry beam of the held-out scoring (default 200;
                     utterances failing it are counted, not scored)
  --label-set NAME   data set under <data-root> to label (default train_olr; '' trains
                     and scores the recogniser only)"
. utils/parse_options.sh
[ $# -eq 2 ] || { echo "$help_message" >&2; exit 1; }
require_cmd "$cmd"
data=$1; exp=$2
[ -n "$asr_set" ] || die "--asr-set is required (the transcribed training set)"
[ -n "$lexicon" ] || die "--lexicon is required"
[ -f "$lexicon" ] || die "lexicon $lexicon does not exist"
[ -z "$dev_set" ] || [ -n "$timings" ] || die "--dev-set $dev_set needs --timings"
# the sub-steps lock their own dirs (mono, tri1, ...); this run owns exp/asr as a whole
asr_dir=$exp/asr
mkdir -p "$asr_dir"
lock_dir "$asr_dir"
if $mini; then num_leaves=200; mono_gauss=200; tri_gauss=500; fi
mono_opts=(--total-gauss "$mono_gauss" --topology "$topology")
tri_opts=(--num-leaves "$num_leaves" --total-gauss "$tri_gauss")
$mini && mono_opts+=(--num-iters 10) && tri_opts+=(--num-iters 8 --min-count 10)

if ! is_done "$data/lang_asr/.done"; then
  lidtool asr-prepare-lang "$lexicon" "$data/lang_asr"
  mark_done "$data/lang_asr/.done"
fi
steps/asr/train_mono.sh --cmd "$cmd" "${mono_opts[@]}" "$data/$asr_set" "$data/lang_asr" "$exp/asr/mono"
steps/asr/train_tri.sh --cmd "$cmd" "${tri_opts[@]}" "$data/$asr_set" "$data/lang_asr" \
  "$exp/asr/mono" "$exp/asr/tri1"
steps/asr/make_phone_graph.sh --cmd "$cmd" "$data/lang_asr" "$exp/asr/tri1" "$exp/asr/tri1/graph"

# Held-out evaluation of the recogniser.
dev=$data/$dev_set
if [ -n "$dev_set" ] && ! is_done "$exp/asr/eval.done"; then
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
