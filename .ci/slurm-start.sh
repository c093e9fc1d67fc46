#!/usr/bin/env bash
# Start a one-node SLURM cluster on this machine (Debian slurm-wlm + munge).
#
# Run as root.  Idempotent: when the node already answers `idle`/`mixed`/
# `allocated` the script only prints the state and exits 0.  Everything the
# daemons write (state, spool, pid and log files) lives under $ZIFSIM_SLURM_DIR
# (default /tmp/zifsim-slurm); the config itself must be at the default
# /etc/slurm/slurm.conf, because the job step of snakemake-executor-plugin-slurm
# strips SLURM_CONF from the environment (see docs/workflow.md).
#
#   ZIFSIM_SLURM_INSTALL=0   do not apt-get install missing packages
#   ZIFSIM_SLURM_TIMEOUT=60  seconds to wait for the node to become idle
#
# Stop with .ci/slurm-stop.sh.  Exit status: 0 running, 1 failed (reason printed).
set -euo pipefail

STATE_DIR=${ZIFSIM_SLURM_DIR:-/tmp/zifsim-slurm}
TIMEOUT=${ZIFSIM_SLURM_TIMEOUT:-60}
CONF=/etc/slurm/slurm.conf

say() { echo "slurm-start: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (it starts munged, slurmctld and slurmd)"

node_state() { timeout 10 sinfo -h -o %T 2>/dev/null | head -n1 | tr -d '*~#!%$@^-' || true; }

if command -v sinfo >/dev/null 2>&1; then
  state=$(node_state)
  case "$state" in
    idle|mixed|allocated|completing)
      say "SLURM already running (node state: $state)"; exit 0 ;;
  esac
fi

# 1. packages
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
  [ "${ZIFSIM_SLURM_INSTALL:-1}" = 1 ] || die "slurmctld/slurmd/munged not installed and ZIFSIM_SLURM_INSTALL=0"
  say "installing slurm-wlm and munge with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || say "apt-get update failed; trying the install anyway"
  apt-get install -y -qq slurm-wlm munge >/dev/null || die "apt-get install slurm-wlm munge failed"
fi

# 2. munge
if [ ! -s /etc/munge/munge.key ]; then
  say "creating /etc/munge/munge.key"
  install -d -o munge -g munge -m 0700 /etc/munge
  if command -v mungekey >/dev/null; then mungekey --create --force
  else dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none; fi
  chown munge:munge /etc/munge/munge.key; chmod 0400 /etc/munge/munge.key
fi
install -d -o munge -g munge -m 0755 /run/munge
install -d -o munge -g munge -m 0700 /var/lib/munge /var/log/munge
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  say "starting munged"
  runuser -u munge -- /usr/sbin/munged --force || die "munged failed to start (see /var/log/munge/munged.log)"
  for _ in $(seq 1 20); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.25; done
  munge -n | unmunge >/dev/null 2>&1 || die "munge does not answer after start (see /var/log/munge/munged.log)"
fi

# 3. slurm.conf, describing this machine as one node (`slurmd -C` knows its CPUs and memory)
mkdir -p "$STATE_DIR"/{state,spool,log,run}
host=$(hostname -s)
node_line=$(slurmd -C | head -n1)
case "$node_line" in NodeName=*) ;; *) die "slurmd -C printed no NodeName line: $node_line" ;; esac
# keep 512 MB for the OS so that jobs asking for all memory are not rejected as impossible
mem=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$node_line")
node_line=$(sed "s/RealMemory=[0-9]*/RealMemory=$(( mem > 1024 ? mem - 512 : mem ))/" <<<"$node_line")
mkdir -p "$(dirname "$CONF")"
cat >"$CONF.zifsim.tmp" <<EOF
# written by zifsim .ci/slurm-start.sh: a one-node cluster on localhost
ClusterName=zifsim
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$STATE_DIR/state
SlurmdSpoolDir=$STATE_DIR/spool
SlurmctldPidFile=$STATE_DIR/run/slurmctld.pid
SlurmdPidFile=$STATE_DIR/run/slurmd.pid
SlurmctldLogFile=$STATE_DIR/log/slurmctld.log
SlurmdLogFile=$STATE_DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
ReturnToService=2
MpiDefault=none
# squeue is the status command without slurmdbd: finished jobs must stay visible
MinJobAge=300
SlurmdTimeout=60
$node_line State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
if [ -e "$CONF" ] && ! grep -q 'zifsim .ci/slurm-start.sh' "$CONF"; then
  say "keeping existing $CONF as $CONF.zifsim-backup"
  cp -a "$CONF" "$CONF.zifsim-backup"
fi
mv "$CONF.zifsim.tmp" "$CONF"

# 4. daemons
pid_alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
if ! pid_alive "$STATE_DIR/run/slurmctld.pid"; then
  say "starting slurmctld"
  slurmctld -i || die "slurmctld failed to start; log: $(tail -n 5 "$STATE_DIR/log/slurmctld.log" 2>/dev/null)"
fi
if ! pid_alive "$STATE_DIR/run/slurmd.pid"; then
  say "starting slurmd"
  slurmd || die "slurmd failed to start; log: $(tail -n 5 "$STATE_DIR/log/slurmd.log" 2>/dev/null)"
fi

# 5. wait for the node
deadline=$(( $(date +%s) + TIMEOUT ))
while :; do
  state=$(node_state)
  case "$state" in
    idle|mixed|allocated) say "SLURM is up (node $host: $state)"; exit 0 ;;
    down|drained|drain|fail)
      scontrol update NodeName="$host" State=RESUME >/dev/null 2>&1 || true ;;
  esac
  if [ "$(date +%s)" -ge "$deadline" ]; then
    die "node $host not idle after ${TIMEOUT}s (state: '${state:-no answer}'); logs in $STATE_DIR/log"
  fi
  sleep 1
done
