#!/usr/bin/env bash
# Stage 0 of egs/synth_xlsr: render the corpus of the corpus config (lidtool make-corpus:
# espeak-ng and Festival voices, per-speaker WORLD voice transforms) -> <data-dir>/{pre_en,
# pre_7,pre_25,train25_pool,test25,test25_heldout_synth}, then cut out of them
#   train25_{small,mid,large}  the first --budgets utterances of each language of
#                              train25_pool in plan order, i.e. spread over its speakers
#                              (nested: small in mid in large)
#   train7_{small,mid,large}   the same, the 7 languages of Table 1 only
#   test7, test7_heldout_synth test25 / test25_heldout_synth, the 7 languages only
# Resumable: make-corpus keeps finished shards; a finished corpus is skipped.
set -euo pipefail
. utils/lib.sh

nj=2
corpus_config=conf/corpus.yaml
budgets=3,20,60
langs7="en-us es fr de ru my ja"
help_message="usage: local/data.sh [--nj N] [--corpus-config FILE] [--budgets S,M,L] <data-dir>
  --budgets S,M,L     utterances per language of the small / mid / large fine-tuning sets
                      (default $budgets; at most the pool's utts_per_lang)
e.g.: local/data.sh --nj 2 --corpus-config conf/corpus_mini.yaml --budgets 1,2,4 data_mini"
. utils/parse_options.sh
[ $# -eq 1 ] || { echo "$help_message" >&2; exit 1; }
data=$1
[ -f "$corpus_config" ] || die "corpus config $corpus_config does not exist"
IFS=, read -r -a sizes <<< "$budgets"
[ ${#sizes[@]} -eq 3 ] || die "--budgets needs three numbers, got '$budgets'"
if is_done "$data/.done"; then log "corpus already in $data"; exit 0; fi
for tool in espeak-ng festival flite; do
  command -v "$tool" >/dev/null || die "$tool is not installed (tools/install.sh)"
done
mkdir -p "$data/log"
lidtool make-corpus --config "$corpus_config" --nj "$nj" "$data/corpus" "$data" \
  2> "$data/log/make_corpus.log" || die "make-corpus failed; see $data/log/make_corpus.log"

# subset <src> <dst> <max utts per language> <languages|all>: the first utterances of each
# language in corpus plan order (the id's last field). Sorted ids would group a speaker's
# utterances (ids start with language and speaker) and give the small budget one speaker;
# plan order cycles through the speakers (utterance k is speaker k mod speakers_per_lang).
subset() {
  local src=$1 dst=$2 n=$3 langs=$4
  awk '{ k = split($1, f, "-"); print f[k], $0 }' "$data/$src/utt2lang" | sort -s -k1,1n |
    awk -v n="$n" -v langs="$langs" 'BEGIN { split(langs, l, " "); for (i in l) ok[l[i]] = 1 }
      (langs == "all" || ($3 in ok)) && ++seen[$3] <= n { print $2 }' |
    LC_ALL=C sort > "$data/log/$dst.utts"
  [ -s "$data/log/$dst.utts" ] || die "no utterance of $src for $dst"
  rm -rf "${data:?}/$dst"
  lidtool subset-data-dir --utt-list "$data/log/$dst.utts" "$data/$src" "$data/$dst"
}
names=(small mid large)
for i in 0 1 2; do
  subset train25_pool "train25_${names[$i]}" "${sizes[$i]}" all
  subset train25_pool "train7_${names[$i]}" "${sizes[$i]}" "$langs7"
done
subset test25 test7 1000000 "$langs7"
subset test25_heldout_synth test7_heldout_synth 1000000 "$langs7"
mark_done "$data/.done"
log "corpus: $(ls -d "$data"/*/wav.scp | wc -l) data dirs in $data"
