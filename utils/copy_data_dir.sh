#!/usr/bin/env bash
# Kaldi-compatible: utils/copy_data_dir.sh [--utt-prefix p] [--spk-prefix p] <src> <dst>
set -euo pipefail
utt_prefix=""; spk_prefix=""
help_message="usage: $0 [--utt-prefix <p>] [--spk-prefix <p>] <src-data-dir> <dest-data-dir>"
. "$(dirname "$0")/parse_options.sh"
[ $# -eq 2 ] || { echo "$help_message" >&2; exit 1; }
exec lidtool copy-data-dir --utt-prefix "$utt_prefix" --spk-prefix "$spk_prefix" "$1" "$2"
