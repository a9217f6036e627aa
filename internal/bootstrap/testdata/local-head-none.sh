#!/bin/sh
# burst bootstrap: cluster demo, role head, target local.
# Rendered by burst. Runs the workload (none) and a watchdog that
# removes this machine when the workload ends, the cluster is idle, or the
# deadline passes, whether or not burst itself is still running.
set -u

BURST_CLUSTER='demo'
BURST_ROLE='head'
BURST_TARGET='local'
BURST_DIR='/state/local/demo/demo-w-1'
# Unix time after which the machine removes itself; 0 means no deadline.
BURST_EXPIRES=1800000000
# Seconds without activity before the machine removes itself; 0 disables.
BURST_IDLE_TIMEOUT=1200
BURST_TICK=5
export BURST_CLUSTER BURST_ROLE BURST_TARGET BURST_IDLE_TIMEOUT

log() { printf '%s burst: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }

mkdir -p "$BURST_DIR"

# Target local: this machine is a process group on the user's host. The
# workload runs on the host's Python; removal ends the group and deletes the
# machine's directory, which is how the local provider's Machines forgets it.
BURST_PYTHON='/usr/bin/python3'
# Record this machine's process group at once, so the provider can find
# (and end) it even if burst died before writing it down.
echo "$$" >"$BURST_DIR/pgid"
burst_prepare() { :; }
burst_dask() { exec "$BURST_PYTHON" -m dask "$@"; }
burst_stop_workload() {
	kill -TERM "-$$" 2>/dev/null
	i=0
	while kill -0 "$BURST_WORKLOAD_PID" 2>/dev/null && [ "$i" -lt 50 ]; do
		sleep 0.2
		i=$((i + 1))
	done
}
burst_self_remove() {
	rm -rf "$BURST_DIR"
	rmdir "$(dirname "$BURST_DIR")" 2>/dev/null
	kill -KILL "-$$" 2>/dev/null
}


# Workload "none": the machine is busy while someone is logged in.
burst_busy() { [ -n "$(who 2>/dev/null)" ]; }

burst_workload() {
	while :; do sleep 3600; done
}

BURST_REMOVING=
burst_remove() {
	[ -z "$BURST_REMOVING" ] || return 0
	BURST_REMOVING=1
	trap '' TERM INT HUP
	log "removing this machine: $1"
	burst_stop_workload
	burst_self_remove "$1"
	exit 0
}

burst_prepare
burst_workload &
BURST_WORKLOAD_PID=$!
log "workload started (pid $BURST_WORKLOAD_PID)"
trap 'burst_remove "terminated by signal"' TERM INT HUP

burst_idle_since=$(date +%s)
while :; do
	now=$(date +%s)
	if [ "$BURST_EXPIRES" -gt 0 ] && [ "$now" -ge "$BURST_EXPIRES" ]; then
		burst_remove "max lifetime reached"
	fi
	if ! kill -0 "$BURST_WORKLOAD_PID" 2>/dev/null; then
		burst_remove "workload exited"
	fi
	if [ "$BURST_IDLE_TIMEOUT" -gt 0 ]; then
		if burst_busy; then
			burst_idle_since=$now
		elif [ $((now - burst_idle_since)) -ge "$BURST_IDLE_TIMEOUT" ]; then
			burst_remove "idle for ${BURST_IDLE_TIMEOUT}s"
		fi
	fi
	sleep "$BURST_TICK" &
	wait $! || true
done
