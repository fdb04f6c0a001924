#!/usr/bin/env bash
# A single-node Slurm cluster in a folder, for trying job scripts on a workstation and for
# physfit's tests. No systemd needed; everything (munge key and socket, state, logs, pid files)
# lives in STATEDIR. Needs root (slurmd runs jobs as their users) and Debian's slurmctld,
# slurmd, slurm-client and munge (scripts/setup.sh installs them).
#
#   scripts/slurm/local-cluster.sh start STATEDIR   # prints: export SLURM_CONF=STATEDIR/slurm.conf
#   scripts/slurm/local-cluster.sh stop STATEDIR
#
# Ports: PHYSFIT_SLURM_PORT (default 16817) and the next one.
set -euo pipefail

usage() { sed -n '2,/^[^#]/{/^#/p}' "$0"; exit 2; }
(($# == 2)) || usage
action=$1
state=$(realpath -m "$2")
conf=$state/slurm.conf
port=${PHYSFIT_SLURM_PORT:-16817}

wait_for() {  # wait_for SECONDS COMMAND...: until COMMAND succeeds
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || { echo "local-cluster: timed out waiting for: $*" >&2; return 1; }
    sleep 0.1
  done
}

wait_pid_file() {  # until the process of a pid file is gone
  local file=$1 pid
  pid=$(cat "$file" 2>/dev/null) || return 0  # no file: nothing runs (munged removes its own)
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  echo "local-cluster: process $pid ($file) did not stop" >&2
  return 1
}

start() {
  ((EUID == 0)) || { echo "local-cluster: must run as root (slurmd starts jobs)" >&2; exit 1; }
  mkdir -p "$state"/{munge,spool/ctld,spool/d,log}
  chown munge:munge "$state/munge"
  chmod 711 "$state/munge"  # munged wants its socket folder reachable, not writable by others
  [[ -f $state/munge/munge.key ]] || runuser -u munge -- mungekey --create --keyfile="$state/munge/munge.key"
  runuser -u munge -- munged --socket="$state/munge/munge.socket" \
    --key-file="$state/munge/munge.key" --pid-file="$state/munge/munged.pid" \
    --log-file="$state/munge/munged.log" --seed-file="$state/munge/munged.seed"

  local host node memory
  host=$(hostname)
  node=$(slurmd -C | head -n 1)
  memory=$(sed -E 's/.*RealMemory=([0-9]+).*/\1/' <<<"$node")
  node=$(sed -E "s/RealMemory=[0-9]+/RealMemory=$((memory * 9 / 10))/" <<<"$node")
  cat >"$conf" <<CONF
ClusterName=physfit-local
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$state/munge/munge.socket,cred_expire=20
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerParameters=sched_interval=2
ReturnToService=2
StateSaveLocation=$state/spool/ctld
SlurmdSpoolDir=$state/spool/d
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
SlurmctldPort=$port
SlurmdPort=$((port + 1))
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
  export SLURM_CONF=$conf
  slurmctld -c -f "$conf"  # -c: a fresh cluster, no jobs from an earlier run
  wait_for 30 scontrol ping
  slurmd -f "$conf"
  wait_for 30 bash -c "sinfo -h -o %t | grep -qx idle"
  echo "export SLURM_CONF=$conf"
}

stop() {
  [[ -f $conf ]] || { echo "local-cluster: no cluster in $state" >&2; exit 1; }
  export SLURM_CONF=$conf
  if scontrol ping >/dev/null 2>&1; then
    scancel --full --signal=KILL --user="$(id -un)" 2>/dev/null || true
    wait_for 30 bash -c '[[ -z $(squeue -h) ]]' || true
    scontrol shutdown >/dev/null 2>&1 || true
  fi
  wait_pid_file "$state/slurmd.pid"
  wait_pid_file "$state/slurmctld.pid"
  local munged
  if munged=$(cat "$state/munge/munged.pid" 2>/dev/null); then
    kill "$munged" 2>/dev/null || true
    wait_pid_file "$state/munge/munged.pid"
  fi
}

case "$action" in
  start) start ;;
  stop) stop ;;
  *) usage ;;
esac
