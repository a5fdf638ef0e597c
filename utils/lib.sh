#!/usr/bin/env bash
# Helpers sourced by recipes and steps/ scripts: timestamped logging and .done markers.

# the threads environment of every job (OMP_WAIT_POLICY; see utils/env.sh)
. "${BASH_SOURCE[0]%/*}/env.sh"

log() {
  local fname=${BASH_SOURCE[1]##*/}
  echo -e "$(date '+%Y-%m-%d %H:%M:%S') (${fname}:${BASH_LINENO[0]}:${FUNCNAME[1]:-main}) $*" >&2
}

die() { log "ERROR: $*"; exit 1; }

# is_done MARKER: true when a finished run left MARKER (so the step is skipped)
is_done() { [ -f "$1" ]; }

# mark_done MARKER: record that a step finished (atomic: temp then rename)
mark_done() { mkdir -p "$(dirname "$1")"; : > "$1.tmp.$$" && mv "$1.tmp.$$" "$1"; }

# is_done_with MARKER TEXT / mark_done_with MARKER TEXT: as is_done / mark_done, for a step
# whose result depends on options that do not show in its output path: the marker holds
# TEXT (those options), and a marker holding other options is not done.
is_done_with() { [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; }
mark_done_with() {
  mkdir -p "$(dirname "$1")"; printf '%s\n' "$2" > "$1.tmp.$$" && mv "$1.tmp.$$" "$1"
}

# Bounded background jobs. bg_start N NAME CMD [ARG...] runs CMD in the background, first
# waiting for the oldest job started this way while N of them run; bg_wait_all waits for the
# rest. A failed job stops the caller with "NAME failed" (NAME says where its logs are).
# While jobs run, a caller stopped by TERM, INT or HUP takes them with it: a job is a tree of
# shell scripts (lid.sh -> train_nnet.sh -> ...), and a shell does not pass the signal on.
# The caller's own traps for those signals are put back (and then run) afterwards.
_bg_pids=(); _bg_names=(); _bg_saved_traps=""
_bg_children() {  # pids whose parent is $1 (pgrep, or /proc where procps is missing)
  if command -v pgrep > /dev/null; then pgrep -P "$1" || true; return; fi
  local f stat ppid
  for f in /proc/[0-9]*/stat; do
    { read -r stat < "$f"; } 2> /dev/null || continue
    read -r _ ppid _ <<< "${stat##*) }"      # after "(command name)", which may hold spaces
    [ "$ppid" != "$1" ] || { f=${f#/proc/}; echo "${f%/stat}"; }
  done
}
_bg_tree() { local p; for p in $(_bg_children "$1"); do _bg_tree "$p"; done; echo "$1"; }
_bg_restore_traps() { trap - TERM INT HUP; eval "$_bg_saved_traps"; }
_bg_stop() {
  local pids=() p
  for p in ${_bg_pids[@]+"${_bg_pids[@]}"}; do pids+=($(_bg_tree "$p")); done
  [ ${#pids[@]} -eq 0 ] || kill -TERM "${pids[@]}" 2> /dev/null || true
  _bg_restore_traps; kill -"$1" "$BASHPID"
}
bg_wait_oldest() {
  wait "${_bg_pids[0]}" || die "${_bg_names[0]} failed"
  _bg_pids=("${_bg_pids[@]:1}"); _bg_names=("${_bg_names[@]:1}")
  [ ${#_bg_pids[@]} -gt 0 ] || _bg_restore_traps
}
bg_start() {
  local n=$1 name=$2 sig
  shift 2
  while [ ${#_bg_pids[@]} -ge "$n" ]; do bg_wait_oldest; done
  if [ ${#_bg_pids[@]} -eq 0 ]; then
    _bg_saved_traps=$(trap -p TERM INT HUP)
    for sig in TERM INT HUP; do trap "_bg_stop $sig" $sig; done
  fi
  "$@" &
  _bg_pids+=($!); _bg_names+=("$name")
}
bg_wait_all() { while [ ${#_bg_pids[@]} -gt 0 ]; do bg_wait_oldest; done; }

# write_rerun_cmd DIR: record the exact command that (re)produces DIR's contents
write_rerun_cmd() {
  mkdir -p "$1"
  { printf '# %s\ncd %q &&' "$(date '+%Y-%m-%d %H:%M:%S')" "$PWD"; printf ' %q' "${@:2}"; echo; } >> "$1/run.cmd"
}

# recorded_commands RUN_CMD: the invocations write_rerun_cmd recorded there, one per line,
# without their "cd DIR &&" (what a RESULTS file cites as the commands that made it)
recorded_commands() {
  grep -v '^#' "$1" | sed 's/^cd [^&]*&& *//'
}

# check_stage_range STAGE STOP_STAGE LAST_STAGE [FIRST_STAGE=0]: die unless --stage and
# --stop-stage select at least one of the recipe's stages FIRST_STAGE..LAST_STAGE (a range
# that selects none would otherwise end "successfully" having run nothing).
check_stage_range() {
  local stage=$1 stop=$2 last=$3 first=${4:-0} v
  for v in "$stage" "$stop" "$last" "$first"; do
    [[ "$v" =~ ^-?[0-9]+$ ]] || die "stage numbers must be integers, got '$v'"
  done
  if [ "$stop" -lt "$stage" ]; then
    die "--stage $stage --stop-stage $stop selects no stage: --stop-stage is before --stage"
  fi
  if [ "$stage" -gt "$last" ] || [ "$stop" -lt "$first" ]; then
    die "--stage $stage --stop-stage $stop selects no stage: this recipe's stages are" \
        "$first..$last"
  fi
}

# require_cmd "$cmd": die at once when the job runner given with --cmd is empty or not a
# command (an empty one would run `JOB=1:N log ...` as a command, naming logs never written).
require_cmd() {
  local runner
  read -r runner _ <<< "${1-}" || true
  if [ -z "$runner" ]; then
    die "--cmd is empty: pass --cmd utils/run_local.sh (or utils/run_slurm.sh), or" \
        "'. ./cmd.sh' (and '. ./path.sh') in the recipe first so that --cmd \"\$train_cmd\"" \
        "has a value"
  fi
  command -v "$runner" >/dev/null 2>&1 || \
    die "--cmd '$1': '$runner' is not a command or an executable file (run from the recipe" \
        "directory, where utils/ is, or '. ./path.sh' first)"
}

# lock_dir DIR: make sure no other run writes DIR at the same time. Takes an flock on
# DIR/.lock, held until this script and every process it started have exited (even when
# killed with -9: the kernel drops the lock), and records this pid and command line there
# so that a second run dies at once naming the holder.
lock_dir() {
  local dir=$1 holder pid
  mkdir -p "$dir"
  # Append mode: the holder's record must survive our opening the file before we lock it.
  exec {_lock_fd}>>"$dir/.lock"
  if ! flock -n "$_lock_fd"; then
    holder=$(cat "$dir/.lock" 2>/dev/null || true)
    pid=$(sed -n 's/^pid //p' <<< "$holder")
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      pid="$pid (exited; a process it started still holds the lock)"
    fi
    die "$dir is in use by another run: pid ${pid:-unknown}," \
        "command: $(sed -n 's/^command //p' <<< "$holder") (wait for it to finish or kill it;" \
        "the lock is $dir/.lock)"
  fi
  local cmdline
  cmdline=$(tr '\0' ' ' < "/proc/$$/cmdline" 2>/dev/null) || cmdline=$0
  { echo "pid $$"; echo "command ${cmdline% }";
    echo "started $(date '+%Y-%m-%d %H:%M:%S') on $(hostname)"; } > "$dir/.lock"
}

# new_run_id DIR PREFIX: a number (the time) that no DIR/PREFIX.<number>.* file has yet,
# naming one run's archives so that they never overwrite those of an earlier run
new_run_id() {
  local run
  run=$(date +%s)
  while compgen -G "$1/$2.$run.*" > /dev/null; do run=$((run + 1)); done
  echo "$run"
}

# prune_archives DIR PREFIX [SCP...]: delete DIR/PREFIX.<n>...{ark,scp,utt2num_frames} whose
# ark no SCP refers to, and leftover temp files of killed jobs (DIR/.PREFIX.*.tmp). Feature
# steps write each run's archives under new names and call this before a run (stale ones of
# a failed run) and after swapping in the new scp (the replaced run's).
prune_archives() {
  local dir=$1 prefix=$2 used f
  used=$(for f in "${@:3}"; do
           if [ -f "$f" ]; then awk '{sub(/:[0-9]+$/, "", $2); print $2}' "$f"; fi
         done | sort -u)
  for f in "$dir/$prefix".[0-9]*; do
    [ -e "$f" ] || continue
    grep -qxF -- "${f%.*}.ark" <<< "$used" || rm -f -- "$f"
  done
  for f in "$dir/.$prefix".*.tmp; do
    [ -e "$f" ] && rm -f -- "$f"
  done
  return 0
}
