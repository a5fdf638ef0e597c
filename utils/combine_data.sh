#!/usr/bin/env bash
# Kaldi-compatible: utils/combine_data.sh <dest-data-dir> <src-data-dir1> <src-data-dir2> ...
set -euo pipefail
help_message="usage: $0 <dest-data-dir> <src-data-dir1> [<src-data-dir2> ...]
Union of the sources' tables; utterance ids must be unique across sources."
case "${1:-}" in --help|-h) echo "$help_message"; exit 0 ;; esac
[ $# -ge 2 ] || { echo "$help_message" >&2; exit 1; }
exec lidtool combine-data "$@"
