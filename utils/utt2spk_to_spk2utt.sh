#!/usr/bin/env bash
# utils/utt2spk_to_spk2utt.sh [utt2spk] > spk2utt   (also utt2lang -> lang2utt; stdin if no file)
set -euo pipefail
if [ "${1:-}" = --help ] || [ "${1:-}" = -h ]; then
  echo "usage: $0 [<utt2spk>|<utt2lang>] > <spk2utt>|<lang2utt>   (reads stdin without a file)"; exit 0
fi
exec lidtool utt2spk-to-spk2utt "${1:--}"
