#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for trying the cluster path and for the tests.
#
#   utils/slurm_localhost.sh start    # munged + slurmctld + slurmd; waits for the node to be idle
#   eval "$(utils/slurm_localhost.sh env)"   # export SLURM_CONF for sbatch/sinfo/run_slurm.sh
#   utils/slurm_localhost.sh status   # sinfo; exit 0 when the node takes jobs
#   utils/slurm_localhost.sh stop
#
# Needs root and the Debian/Ubuntu packages slurm-wlm and munge (tools/install.sh installs
# them). Everything lives in one state directory, $LIDTOOL_SLURM_DIR (default
# /tmp/lidtool-slurm): slurm.conf, its own munge key and munged socket, spool, state and logs
# (log/slurmctld.log, log/slurmd.log); nothing under /etc is touched. The controller listens on
# $LIDTOOL_SLURM_PORT (default 6917) and slurmd on the port after it, so this cluster does not
# collide with a real Slurm on the default ports. No accounting database, no cgroups
# (TaskPlugin=task/none, ProctrackType=proctrack/linuxproc), so it also runs in containers.
# start and stop are idempotent.
set -euo pipefail

state=${LIDTOOL_SLURM_DIR:-/tmp/lidtool-slurm}
case "$state" in /*) ;; *) state=$PWD/$state ;; esac
port=${LIDTOOL_SLURM_PORT:-6917}
conf=$state/slurm.conf
msock=$state/munge-run/munge.socket
export SLURM_CONF=$conf

say() { echo "slurm_localhost.sh: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

need_tools() {
  local t missing=()
  for t in munged munge unmunge slurmctld slurmd sinfo scontrol sbatch squeue; do
    command -v "$t" >/dev/null 2>&1 || missing+=("$t")
  done
  [ ${#missing[@]} -eq 0 ] || die "not installed: ${missing[*]} (apt-get install slurm-wlm munge)"
}

# pid_alive PIDFILE NAME: the process in PIDFILE exists and is NAME
pid_alive() {
  local pid
  [ -s "$1" ] || return 1
  pid=$(cat "$1")
  [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm")" = "$2" ]
}

# stop_pid PIDFILE NAME: TERM (then KILL) the process recorded in PIDFILE if it is NAME
stop_pid() {
  local i pid
  pid_alive "$1" "$2" || { rm -f "$1"; return 0; }
  pid=$(cat "$1")
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 50); do pid_alive "$1" "$2" || break; sleep 0.2; done
  pid_alive "$1" "$2" && kill -KILL "$pid" 2>/dev/null || true
  rm -f "$1"
}

munge_ok() { munge -n -S "$msock" 2>/dev/null | unmunge -S "$msock" >/dev/null 2>&1; }

node_state() { sinfo -h -n localhost -o %t 2>/dev/null | head -n 1; }

node_ready() {
  case "$(node_state)" in idle|mix|mixed|alloc|allocated|comp|completing) return 0 ;; esac
  return 1
}

start_munge() {
  munge_ok && return 0
  stop_pid "$state/munge-run/munged.pid" munged
  mkdir -p "$state/munge-run" "$state/munge-key"
  chmod 755 "$state" "$state/munge-run"
  chmod 700 "$state/munge-key"
  if [ ! -s "$state/munge-key/munge.key" ]; then
    say "creating a munge key in $state/munge-key"
    dd if=/dev/urandom of="$state/munge-key/munge.key" bs=1024 count=1 status=none
  fi
  chmod 400 "$state/munge-key/munge.key"
  rm -f "$msock" "$msock.lock"
  munged --socket="$msock" --key-file="$state/munge-key/munge.key" \
    --log-file="$state/munge-key/munged.log" --pid-file="$state/munge-run/munged.pid" \
    --seed-file="$state/munge-key/munged.seed" \
    || die "munged did not start; see $state/munge-key/munged.log"
  local i
  for i in $(seq 50); do munge_ok && return 0; sleep 0.1; done
  die "munged started but does not answer on $msock; see $state/munge-key/munged.log"
}

write_conf() {
  local hw cpus sockets cores threads mem host
  # topology as slurmd sees it (slurmd -C); fall back to nproc / meminfo
  hw=$(slurmd -C 2>/dev/null | head -n 1 || true)
  cpus=$(sed -n 's/.*CPUs=\([0-9]*\).*/\1/p' <<<"$hw"); cpus=${cpus:-$(nproc)}
  sockets=$(sed -n 's/.*SocketsPerBoard=\([0-9]*\).*/\1/p' <<<"$hw"); sockets=${sockets:-1}
  cores=$(sed -n 's/.*CoresPerSocket=\([0-9]*\).*/\1/p' <<<"$hw"); cores=${cores:-$cpus}
  threads=$(sed -n 's/.*ThreadsPerCore=\([0-9]*\).*/\1/p' <<<"$hw"); threads=${threads:-1}
  mem=$(awk '/^MemTotal:/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
  host=$(hostname -s 2>/dev/null || hostname)
  mkdir -p "$state/spool" "$state/ctld" "$state/log"
  cat > "$conf.tmp" <<EOF
# one-node Slurm on localhost, written by utils/slurm_localhost.sh
ClusterName=lidtool
SlurmctldHost=localhost
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$msock
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/spool
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_interval=1,sched_min_interval=0
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SlurmdParameters=config_overrides
DefMemPerCPU=$((mem / cpus))
ReturnToService=2
KillWait=5
MinJobAge=300
NodeName=localhost NodeAddr=127.0.0.1 NodeHostname=$host CPUs=$cpus SocketsPerBoard=$sockets CoresPerSocket=$cores ThreadsPerCore=$threads RealMemory=$mem State=UNKNOWN
PartitionName=local Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
  mv -f "$conf.tmp" "$conf"
}

start() {
  need_tools
  [ "$(id -u)" -eq 0 ] || die "must run as root (slurmd starts jobs as their users)"
  if [ -f "$conf" ] && munge_ok && pid_alive "$state/slurmctld.pid" slurmctld \
     && pid_alive "$state/slurmd.pid" slurmd && node_ready; then
    say "already running (state in $state)"
    echo "export SLURM_CONF=$conf"
    return 0
  fi
  mkdir -p "$state"
  local d=$state
  while [ "$d" != / ]; do  # munged refuses a socket whose path others cannot traverse
    [ "$(( 0$(stat -c %a "$d") & 01 ))" -ne 0 ] \
      || die "$d is not traversable by others (mode $(stat -c %a "$d")); munged needs that for its socket: choose another LIDTOOL_SLURM_DIR (e.g. under /tmp)"
    d=$(dirname "$d")
  done
  start_munge
  stop_pid "$state/slurmctld.pid" slurmctld
  stop_pid "$state/slurmd.pid" slurmd
  write_conf
  slurmctld -c -f "$conf" || die "slurmctld did not start; see $state/log/slurmctld.log"
  slurmd -f "$conf" -N localhost || die "slurmd did not start; see $state/log/slurmd.log"
  local i s=
  for i in $(seq 150); do
    node_ready && break
    s=$(node_state)
    case "$s" in down*|drain*|drng*|fail*|inval*)
      scontrol update nodename=localhost state=resume >/dev/null 2>&1 || true ;;
    esac
    sleep 0.2
  done
  node_ready || die "node not idle after 30 s (state '${s:-no answer}'); see $state/log/"
  say "one-node cluster up: $(sinfo -h -o '%P %D %t %c CPUs %m MB' | head -n 1)"
  echo "export SLURM_CONF=$conf"
}

stop() {
  if [ -f "$conf" ] && pid_alive "$state/slurmctld.pid" slurmctld; then
    scontrol shutdown >/dev/null 2>&1 || true
    local i
    for i in $(seq 50); do
      pid_alive "$state/slurmctld.pid" slurmctld || pid_alive "$state/slurmd.pid" slurmd || break
      sleep 0.2
    done
  fi
  stop_pid "$state/slurmd.pid" slurmd
  stop_pid "$state/slurmctld.pid" slurmctld
  stop_pid "$state/munge-run/munged.pid" munged
  say "stopped (state kept in $state)"
}

status() {
  [ -f "$conf" ] || { say "not started (no $conf)"; return 1; }
  sinfo || true
  node_ready
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  env) echo "export SLURM_CONF=$conf" ;;
  *) echo "usage: $0 start|stop|status|env   (state dir: \$LIDTOOL_SLURM_DIR, default" \
       "/tmp/lidtool-slurm; port: \$LIDTOOL_SLURM_PORT, default 6917)" >&2; exit 2 ;;
esac
