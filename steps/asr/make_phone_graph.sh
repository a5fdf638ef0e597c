#!/usr/bin/env bash
# Phone-loop decoding graph: phone bigram ARPA from the model's training alignments,
# G.fst via kaldilm, context expansion + HMMs -> <graph-dir>/HCLG.fst.
set -euo pipefail
. utils/lib.sh
orig_args=("$@")

cmd=utils/run_local.sh
help_message="usage: $0 [options] <lang-dir> <model-dir> <graph-dir>
e.g.: $0 data/lang_asr exp/asr/tri1 exp/asr/tri1/graph
<model-dir> holds final.mdl and ali.scp (the phone LM's training text).
options:
  --cmd CMD   job runner (default: $cmd)"
. utils/parse_options.sh
[ $# -eq 3 ] || { echo "$help_message" >&2; exit 1; }
require_cmd "$cmd"
lang=$1; mdir=$2; dir=$3

is_done "$dir/.done" && { log "$dir is done; skipping"; exit 0; }
for f in "$lang/lm_symbols.txt" "$mdir/final.mdl" "$mdir/ali.scp"; do
  [ -f "$f" ] || die "$f does not exist"
done
mkdir -p "$dir/log"
lock_dir "$dir"
write_rerun_cmd "$dir" "$0" "${orig_args[@]}"
$cmd "$dir/log/make_graph.log" \
  lidtool asr-make-graph "$lang" "$mdir/final.mdl" "$mdir/ali.scp" "$dir"
mark_done "$dir/.done"
