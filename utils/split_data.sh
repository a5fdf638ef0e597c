#!/usr/bin/env bash
# utils/split_data.sh [--per-spk] <data-dir> <num-jobs>  ->  <data-dir>/split<N>/{1..N}
set -euo pipefail
help_message="usage: $0 [--per-spk] <data-dir> <num-jobs>
Splits by utterance count (near-equal, contiguous); --per-spk keeps speakers whole.
Writes <data-dir>/split<N>/{1..N} (split<N>spk with --per-spk); an up-to-date split is reused."
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --help|-h) echo "$help_message"; exit 0 ;;
    --per-spk) args+=(--per-spk); shift ;;
    --per-utt) shift ;;   # the default here; accepted for Kaldi compatibility
    -*) echo "$0: unknown option $1" >&2; exit 1 ;;
    *) break ;;
  esac
done
[ $# -eq 2 ] || { echo "$help_message" >&2; exit 1; }
lidtool split-data "${args[@]}" "$1" "$2" > /dev/null
