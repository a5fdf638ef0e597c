#!/usr/bin/env bash
# Helpers sourced by recipes and steps/ scripts: timestamped logging and .done markers.

log() {
  local fname=${BASH_SOURCE[1]##*/}
  echo -e "$(date '+%Y-%m-%d %H:%M:%S') (${fname}:${BASH_LINENO[0]}:${FUNCNAME[1]:-main}) $*" >&2
}

die() { log "ERROR: $*"; exit 1; }

# is_done MARKER: true when a finished run left MARKER (so the step is skipped)
is_done() { [ -f "$1" ]; }

# mark_done MARKER: record that a step finished (atomic: temp then rename)
mark_done() { mkdir -p "$(dirname "$1")"; : > "$1.tmp.$$" && mv "$1.tmp.$$" "$1"; }

# write_rerun_cmd DIR: record the exact command that (re)produces DIR's contents
write_rerun_cmd() {
  mkdir -p "$1"
  { printf '# %s\ncd %q &&' "$(date '+%Y-%m-%d %H:%M:%S')" "$PWD"; printf ' %q' "${@:2}"; echo; } >> "$1/run.cmd"
}
