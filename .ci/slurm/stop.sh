#!/usr/bin/env bash
# Stop the private test cluster started by .ci/slurm/start.sh STATE_DIR: cancel its jobs, stop
# slurmd, slurmctld and munged by the PIDs in their pid files (never by name), and remove the
# /etc/slurm/slurm.conf symlink if it is ours. Safe to call twice or after a failed start.
set -uo pipefail

state=${1:?usage: stop.sh STATE_DIR}
[ -d "$state" ] || exit 0
state=$(cd "$state" && pwd)
link=/etc/slurm/slurm.conf

stop_pid_file() {  # stop_pid_file FILE: TERM, wait up to 10 s, then KILL
  local file=$1 pid
  [ -s "$file" ] || return 0
  pid=$(cat "$file")
  [[ "$pid" =~ ^[0-9]+$ ]] || return 0
  kill "$pid" 2>/dev/null || { rm -f "$file"; return 0; }
  for _ in $(seq 1 40); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$file"; return 0; }
    sleep 0.25
  done
  echo "stop.sh: pid $pid ($file) ignored SIGTERM; killing it" >&2
  kill -9 "$pid" 2>/dev/null
  rm -f "$file"
}

if [ -s "$state/run/slurmctld.pid" ] && [ -f "$state/slurm.conf" ]; then
  # Jobs of this private cluster only (its own slurm.conf), then a short, bounded wait.
  SLURM_CONF=$state/slurm.conf timeout 10 scancel --full --quiet --user "$(id -un)" || true
  for _ in $(seq 1 20); do
    [ -z "$(SLURM_CONF=$state/slurm.conf timeout 5 squeue -h -t R,CG 2>/dev/null)" ] && break
    sleep 0.5
  done
fi
stop_pid_file "$state/run/slurmd.pid"
stop_pid_file "$state/run/slurmctld.pid"
stop_pid_file "$state/run/munged.pid"
if [ -L "$link" ] && [ "$(readlink "$link")" = "$state/slurm.conf" ]; then
  rm -f "$link"
fi
exit 0
