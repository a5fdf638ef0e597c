#!/usr/bin/env bash
# Kaldi-style option parsing, sourced by scripts after they set their defaults:
#   --foo-bar VALUE  sets the already-defined variable foo_bar (unknown options are errors);
#   --foo-bar=VALUE  likewise; --config FILE sources FILE first (shell assignments);
#   --help / -h      prints $help_message (if the script set one) and exits 0.
# Options stop at the first argument not starting with "--"; positional args stay in "$@".

_po_usage() { echo "${help_message:-usage: $0 [options] <args>}"; }

while [ $# -gt 0 ]; do
  case "$1" in
    --help|-h) _po_usage; exit 0 ;;
    --config)
      [ $# -ge 2 ] || { echo "$0: --config needs a file" >&2; exit 1; }
      [ -f "$2" ] || { echo "$0: config file '$2' does not exist" >&2; exit 1; }
      # shellcheck disable=SC1090
      . "$2"; shift 2 ;;
    --*=*)
      _po_name="${1%%=*}"; _po_name="${_po_name#--}"; _po_name="${_po_name//-/_}"
      _po_value="${1#*=}"
      if [ -z "${!_po_name+set}" ]; then
        echo "$0: unknown option ${1%%=*} (no variable '$_po_name'); see $0 --help" >&2; exit 1
      fi
      printf -v "$_po_name" '%s' "$_po_value"; shift ;;
    --*)
      _po_name="${1#--}"; _po_name="${_po_name//-/_}"
      if [ -z "${!_po_name+set}" ]; then
        echo "$0: unknown option $1 (no variable '$_po_name'); see $0 --help" >&2; exit 1
      fi
      [ $# -ge 2 ] || { echo "$0: option $1 needs a value" >&2; exit 1; }
      printf -v "$_po_name" '%s' "$2"; shift 2 ;;
    *) break ;;
  esac
done
unset _po_name _po_value
true
