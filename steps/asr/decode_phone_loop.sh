#!/usr/bin/env bash
# Frame labels for LID training data: phone-loop decode every utterance (any language)
# with the ASR model, in parallel jobs; writes <out-dir>/ali.scp (one pdf-id, the
# "virtual phoneme", per feature frame), ali_phone.scp (phone id per frame), phone_seq,
# num_pdfs and pdf_info.txt. Frame counts are checked against <data-dir>.
set -euo pipefail
. utils/lib.sh
orig_args=("$@")

cmd=utils/run_local.sh
nj=4
beam=13.0
acoustic_scale=0.1
help_message="usage: $0 [options] <model-dir> <graph-dir> <data-dir> <out-dir>
e.g.: $0 --nj 8 --cmd \"\$train_cmd\" exp/asr/tri1 exp/asr/tri1/graph data/train exp/asr/labels_train
<model-dir> holds final.mdl; <graph-dir> holds HCLG.fst (steps/asr/make_phone_graph.sh).
options:
  --cmd CMD               job runner (default: $cmd)
  --nj N                  parallel decoding jobs (default: $nj)
  --beam B                decoding beam (default: $beam)
  --acoustic-scale S      acoustic scale (default: $acoustic_scale)"
. utils/parse_options.sh
[ $# -eq 4 ] || { echo "$help_message" >&2; exit 1; }
require_cmd "$cmd"
mdir=$1; graph=$2; data=$3; dir=$4

is_done "$dir/.done" && { log "$dir is done; skipping"; exit 0; }
for f in "$mdir/final.mdl" "$graph/HCLG.fst" "$data/feats.scp"; do
  [ -f "$f" ] || die "$f does not exist"
done
mkdir -p "$dir/log"
lock_dir "$dir"
write_rerun_cmd "$dir" "$0" "${orig_args[@]}"
utils/split_data.sh "$data" "$nj"
sdata=$data/split$nj
log "decoding $data in $nj jobs"
$cmd JOB=1:"$nj" "$dir/log/decode.JOB.log" \
  lidtool asr-decode-phones --suffix .JOB --beam "$beam" --acoustic-scale "$acoustic_scale" \
    "$mdir/final.mdl" "$graph/HCLG.fst" "$sdata/JOB" "$dir"
$cmd "$dir/log/merge.log" lidtool asr-merge-ali --nj "$nj" "$data" "$dir"
cp "$mdir/pdf_info.txt" "$mdir/num_pdfs" "$dir/"
mark_done "$dir/.done"
log "labels: $dir/ali.scp ($(cat "$dir/num_pdfs") classes)"
