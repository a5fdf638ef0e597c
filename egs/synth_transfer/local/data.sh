#!/usr/bin/env bash
# Stage 0 of egs/synth_transfer: render the multi-synthesizer corpus of the corpus config
# (lidtool make-corpus: espeak-ng, Festival, flite, MBROLA where installed; per-speaker WORLD
# voice transforms) -> <data-dir>/{train_multi,train_multi_plain,train_espeak,test_multi,
# test_espeak,test_heldout_synth}, or only the sets named by --sets (run.sh names them: the
# leave-one-synthesizer-out sets only with --loso true). make-corpus checks on the manifests
# that each held-out-synthesizer test set shares no (synthesizer, voice) with the training
# sets it is held out from. Resumable: make-corpus keeps finished shards and sets; a corpus
# with every requested set finished is skipped.
set -euo pipefail
. utils/lib.sh

nj=2
corpus_config=conf/corpus.yaml
sets=""
help_message="usage: local/data.sh [--nj N] [--corpus-config FILE] [--sets A,B,...] <data-dir>
  --sets LIST   comma-separated sets of the corpus config to make (default: all of them)
e.g.: local/data.sh --nj 2 --corpus-config conf/corpus_mini.yaml data_mini"
. utils/parse_options.sh
[ $# -eq 1 ] || { echo "$help_message" >&2; exit 1; }
data=$1
[ -f "$corpus_config" ] || die "corpus config $corpus_config does not exist"
all_made=true
for set in ${sets//,/ }; do [ -f "$data/$set/.corpus.done" ] || all_made=false; done
if is_done "$data/.done" && $all_made; then log "corpus already in $data"; exit 0; fi
for tool in espeak-ng festival flite; do
  command -v "$tool" >/dev/null || die "$tool is not installed (tools/install.sh)"
done
mkdir -p "$data/log"
lidtool make-corpus --config "$corpus_config" --nj "$nj" --sets "$sets" "$data/corpus" "$data" \
  2>> "$data/log/make_corpus.log" || die "make-corpus failed; see $data/log/make_corpus.log"
mark_done "$data/.done"
log "corpus: $(ls -d "$data"/*/wav.scp | wc -l) data dirs in $data"
