#!/usr/bin/env bash
# Kaldi-compatible: utils/validate_data_dir.sh [--no-feats] [--no-wav] [--no-text] [--need-lang]
#     [--check-readable all|N] <data-dir>
set -euo pipefail
help_message="usage: $0 [--no-feats] [--no-wav] [--no-text] [--need-lang] [--check-readable all|N] <data-dir>
Checks sorting and consistency of every table (utt2spk, spk2utt, utt2lang, lang2utt, wav.scp,
segments, feats.scp, vad.scp, utt2dur, utt2num_frames, text). Errors name file, line and fix.
--check-readable all|N also reads every (or N random) feats.scp / vad.scp entries: readable,
one dimension, frames == utt2num_frames, VAD length == feature frames."
args=(); feats=true; dir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --help|-h) echo "$help_message"; exit 0 ;;
    --no-feats) feats=false; shift ;;
    --no-wav) args+=(--no-wav); shift ;;
    --no-text) shift ;;                      # text is only checked when present
    --need-lang) args+=(--need-lang); shift ;;
    --need-text) args+=(--need-text); shift ;;
    --check-readable)
      [ $# -ge 2 ] || { echo "$0: option --check-readable needs a value (all or N)" >&2; exit 1; }
      args+=(--check-readable "$2"); shift 2 ;;
    --check-readable=*) args+=("$1"); shift ;;
    --non-print|--no-spk-sort) shift ;;     # accepted for Kaldi compatibility
    -*) echo "$0: unknown option $1" >&2; exit 1 ;;
    *) dir=$1; shift ;;
  esac
done
[ -n "$dir" ] || { echo "$help_message" >&2; exit 1; }
# Like Kaldi: feats.scp is required unless --no-feats.
$feats && args+=(--need-feats)
exec lidtool validate-data-dir "${args[@]}" "$dir"
