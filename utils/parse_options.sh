#!/usr/bin/env bash
# Kaldi-style option parsing, sourced by scripts after they set their defaults:
#   --foo-bar VALUE  sets the already-defined variable foo_bar (unknown options are errors);
#   --foo-bar=VALUE  likewise; --config FILE sources FILE first (shell assignments);
#   --help / -h      prints $help_message (if the script set one) and exits 0.
# Options stop at the first argument not starting with "--"; positional args stay in "$@".
# Values are checked where a wrong one would be silently misread later:
#   - an option whose current value is true or false takes only true or false (as Kaldi's
#     parse_options.sh; `--mini yes` would otherwise run `yes` where the script tests "$mini");
#   - --nj and every stage number (--stage, --stop-stage, --train-stage, any *_stage) take
#     only integers. Other numeric options are not checked: many take fractions or words.

_po_usage() { echo "${help_message:-usage: $0 [options] <args>}"; }

# _po_set NAME VALUE OPTION: assign after checking VALUE against the rules above
_po_set() {
  if [ -z "${!1+set}" ]; then
    echo "$0: unknown option $3 (no variable '$1'); see $0 --help" >&2; exit 1
  fi
  case "${!1}" in
    true|false)
      case "$2" in
        true|false) ;;
        *) echo "$0: option $3 takes true or false, not '$2'" >&2; exit 1 ;;
      esac ;;
  esac
  case "$1" in
    nj|stage|*_stage)
      if ! [[ "$2" =~ ^-?[0-9]+$ ]]; then
        echo "$0: option $3 takes an integer, not '$2'" >&2; exit 1
      fi ;;
  esac
  printf -v "$1" '%s' "$2"
}

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
      _po_set "$_po_name" "${1#*=}" "${1%%=*}"; shift ;;
    --*)
      _po_name="${1#--}"; _po_name="${_po_name//-/_}"
      [ -n "${!_po_name+set}" ] && [ $# -lt 2 ] && { echo "$0: option $1 needs a value" >&2; exit 1; }
      _po_set "$_po_name" "${2-}" "$1"; shift 2 ;;
    *) break ;;
  esac
done
unset _po_name
unset -f _po_set
true
