#!/usr/bin/env bash
# Stage 0 of egs/synth_sv: synthesise the many-speaker corpus of conf/corpus.yaml with
# espeak-ng (lidtool make-corpus, speaker mode) -> <data-dir>/{train_sv,test_sv,
# test_sv_channel}; the two test sets hold their trial lists (trials, enroll.list,
# test.list); --trial-sets names the sets that must have one ('' for the LID corpus,
# conf/corpus_lid.yaml). Resumable: make-corpus keeps finished shards; a finished corpus is skipped.
set -euo pipefail
. utils/lib.sh

nj=2
corpus_config=conf/corpus.yaml
overrides=""
trial_sets="test_sv test_sv_channel"
help_message="usage: local/data.sh [--nj N] [--corpus-config FILE] [--overrides 'K=V;K=V']
                     [--trial-sets 'A B'] <data-dir>
e.g.: local/data.sh --nj 2 --corpus-config conf/corpus_mini.yaml data_mini"
. utils/parse_options.sh
[ $# -eq 1 ] || { echo "$help_message" >&2; exit 1; }
data=$1
[ -f "$corpus_config" ] || die "corpus config $corpus_config does not exist"
if is_done "$data/.done"; then log "corpus already in $data"; exit 0; fi
command -v espeak-ng >/dev/null || die "espeak-ng is not installed (tools/install.sh)"
mkdir -p "$data/log"
ovr=()
IFS=';' read -r -a items <<< "$overrides"
for o in "${items[@]}"; do [ -z "$o" ] || ovr+=(--override "$o"); done
lidtool make-corpus --config "$corpus_config" "${ovr[@]}" --nj "$nj" "$data/corpus" "$data" \
  2> "$data/log/make_corpus.log" || die "make-corpus failed; see $data/log/make_corpus.log"
for s in $trial_sets; do
  [ -s "$data/$s/trials" ] || die "$data/$s/trials is missing (the corpus config gives $s no trials:)"
done
mark_done "$data/.done"
log "corpus: $(ls -d "$data"/*/wav.scp | wc -l) data dirs in $data;" \
    "trials: $(for s in $trial_sets; do cat "$data/$s/trials"; done | wc -l)"
