#!/usr/bin/env bash
# Kaldi-compatible subset_data_dir.sh.
set -euo pipefail
help_message="usage: $0 [--utt-list <f>|--spk-list <f>] <src> <dst>
   or: $0 [--first|--last|--shortest|--random] <src> <N> <dst>   (plain N = random, seed --seed)
Keeps the chosen utterances in every table; spk2utt / lang2utt are rebuilt."
mode=""; list=""; seed=0
while [ $# -gt 0 ]; do
  case "$1" in
    --help|-h) echo "$help_message"; exit 0 ;;
    --utt-list|--spk-list) mode=$1; list=$2; shift 2 ;;
    --first|--last|--shortest|--random) mode=$1; shift ;;
    --seed) seed=$2; shift 2 ;;
    --per-spk|--speakers) echo "$0: $1 is not supported; use --spk-list" >&2; exit 1 ;;
    -*) echo "$0: unknown option $1" >&2; exit 1 ;;
    *) break ;;
  esac
done
case "$mode" in
  --utt-list|--spk-list)
    [ $# -eq 2 ] || { echo "$help_message" >&2; exit 1; }
    exec lidtool subset-data-dir "$mode" "$list" "$1" "$2" ;;
  *)
    [ $# -eq 3 ] || { echo "$help_message" >&2; exit 1; }
    exec lidtool subset-data-dir "${mode:---random}" "$2" --seed "$seed" "$1" "$3" ;;
esac
