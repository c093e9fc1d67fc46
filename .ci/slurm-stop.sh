#!/usr/bin/env bash
# Stop the one-node SLURM started by .ci/slurm-start.sh (by PID file, never by name).
# Idempotent: stopping a cluster that is not running is not an error.
# munged is left running unless ZIFSIM_SLURM_STOP_MUNGE=1 (other tools may use it).
set -uo pipefail

STATE_DIR=${ZIFSIM_SLURM_DIR:-/tmp/zifsim-slurm}
say() { echo "slurm-stop: $*" >&2; }

stop_pidfile() {  # name pidfile
  local name=$1 pidfile=$2 pid
  [ -s "$pidfile" ] || { say "$name: no pid file ($pidfile)"; return 0; }
  pid=$(cat "$pidfile")
  if ! kill -0 "$pid" 2>/dev/null; then say "$name: not running"; rm -f "$pidfile"; return 0; fi
  kill -TERM "$pid"
  for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || { say "$name (pid $pid) stopped"; rm -f "$pidfile"; return 0; }; sleep 0.25; done
  say "$name (pid $pid) ignored SIGTERM for 10 s; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null; rm -f "$pidfile"
}

command -v scancel >/dev/null 2>&1 && timeout 10 scancel --user root >/dev/null 2>&1
stop_pidfile slurmd "$STATE_DIR/run/slurmd.pid"
stop_pidfile slurmctld "$STATE_DIR/run/slurmctld.pid"
if [ "${ZIFSIM_SLURM_STOP_MUNGE:-0}" = 1 ]; then
  stop_pidfile munged /run/munge/munged.pid
fi
exit 0
