#!/usr/bin/env bash
# Stage 0 of egs/synth_lid (called by egs/TEMPLATE/lid.sh): synthesise the built-in corpus
# with espeak-ng and the other synthesizers the corpus config names.
# Audio, shards and vocabularies go to <data>/synth; manifests to <data>/manifests; Kaldi
# data dirs to <data>/<set>; the Mandarin lexicon to <data>/local/dict_cmn. Resumable:
# finished shards are kept, so an interrupted run continues where it stopped. A finished
# corpus records its config as <data-dir>/corpus_config.yaml (run.sh compares it).
set -euo pipefail
. utils/lib.sh

nj=2
corpus_config=conf/corpus.yaml
sets=""           # subset of the config's sets (default: all)
overrides=""      # e.g. "seed=3 sets.train_lt.min_utts=10"
help_message="Usage: $0 [options] <data-dir>
  e.g.: $0 --nj 2 --corpus-config conf/corpus.yaml data
Options:
  --nj N              parallel generation processes (default $nj)
  --corpus-config F   corpus YAML: sets, sizes, difficulty knobs (default $corpus_config)
                      (--config F.yaml is accepted as the same; parse_options.sh's
                      --config would source a shell file)
  --sets \"A B\"        only these sets (default: every set in the config)
  --overrides \"k=v\"   config overrides, space separated (default none)"
# `--config X.yaml` means the corpus YAML here, not a shell file for parse_options.sh
args=()
while [ $# -gt 0 ]; do
  if [ "$1" = --config ] && [ $# -ge 2 ] && [[ "$2" == *.yaml || "$2" == *.yml ]]; then
    args+=(--corpus-config "$2"); shift 2
  else
    args+=("$1"); shift
  fi
done
set -- "${args[@]}"
. utils/parse_options.sh

[ $# -eq 1 ] || { echo "$help_message" >&2; exit 1; }
data=$1
[ -f "$corpus_config" ] || die "corpus config $corpus_config does not exist"
command -v espeak-ng >/dev/null || die "espeak-ng is not installed (tools/install.sh)"

if is_done "$data/.corpus.done" && [ -z "$sets" ]; then
  log "corpus already made in $data (remove $data/.corpus.done to remake)"
  exit 0
fi
mkdir -p "$data/log"
override_args=()
for o in $overrides; do override_args+=(--override "$o"); done
log "synthesising corpus ($corpus_config, nj=$nj) -> $data (log: $data/log/make_corpus.log)"
lidtool make-corpus --config "$corpus_config" --nj "$nj" --sets "$sets" "${override_args[@]}" \
  "$data/synth" "$data" 2> >(tee -a "$data/log/make_corpus.log" >&2) \
  || die "make-corpus failed; see $data/log/make_corpus.log (re-run resumes)"
if [ -z "$sets" ]; then
  cp "$corpus_config" "$data/corpus_config.yaml.tmp" && mv "$data/corpus_config.yaml.tmp" \
    "$data/corpus_config.yaml"
  mark_done "$data/.corpus.done"
fi
log "corpus done: $(ls -d "$data"/*/wav.scp | wc -l) data dirs"
