#!/usr/bin/env bash
# Kaldi-compatible: utils/fix_data_dir.sh <data-dir>
set -euo pipefail
help_message="usage: $0 <data-dir>
Sorts every table, removes duplicate keys and utterances missing from any table (or with zero
duration / frames), rebuilds spk2utt and lang2utt. Originals are kept in <data-dir>/.backup/."
case "${1:-}" in --help|-h) echo "$help_message"; exit 0 ;; esac
[ $# -eq 1 ] || { echo "$help_message" >&2; exit 1; }
exec lidtool fix-data-dir "$1"
