#!/bin/sh
# burst bootstrap: cluster demo, role worker, target aws.
# Rendered by burst. Runs the workload (none) and a watchdog that
# removes this machine when the workload ends, the cluster is idle, or the
# deadline passes, whether or not burst itself is still running.
set -u

BURST_CLUSTER='demo'
BURST_ROLE='worker'
BURST_TARGET='aws'
BURST_DIR='/var/lib/burst'
# Unix time after which the machine removes itself; 0 means no deadline.
BURST_EXPIRES=1800000000
# Seconds without activity before the machine removes itself; 0 disables.
BURST_IDLE_TIMEOUT=1200
BURST_TICK=5
export BURST_CLUSTER BURST_ROLE BURST_TARGET BURST_IDLE_TIMEOUT

log() { printf '%s burst: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }

# Cloud-init runs user data once and waits for it: copy this script and run
# the copy in its own session, so boot finishes and the watchdog lives on.
if [ "${BURST_DETACHED:-}" != 1 ]; then
	mkdir -p "$BURST_DIR"
	cp "$0" "$BURST_DIR/bootstrap.sh"
	BURST_DETACHED=1 setsid nohup sh "$BURST_DIR/bootstrap.sh" >>"$BURST_DIR/burst.log" 2>&1 </dev/null &
	exit 0
fi

mkdir -p "$BURST_DIR"


# The workload runs in a container image on the host network.
BURST_IMAGE='ghcr.io/dask/dask:2024.1.0'
BURST_PIP='pandas==2.2.0 s3fs'
burst_prepare() {
	if ! command -v docker >/dev/null 2>&1; then
		log "installing docker"
		if command -v apt-get >/dev/null 2>&1; then
			DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io
		elif command -v dnf >/dev/null 2>&1; then
			dnf install -y -q docker
		fi
		systemctl start docker 2>/dev/null || true
	fi
	i=0
	until docker pull -q "$BURST_IMAGE" >/dev/null; do
		i=$((i + 1))
		if [ "$i" -ge 5 ]; then
			log "cannot pull $BURST_IMAGE"
			break
		fi
		sleep 5
	done
}
burst_dask() {
	set -- --rm --name burst-workload --network host --ipc host \
		-v "$BURST_DIR:$BURST_DIR" -e BURST_IDLE_TIMEOUT \
		-e EXTRA_PIP_PACKAGES="$BURST_PIP" "$BURST_IMAGE" dask "$@"
	if command -v nvidia-smi >/dev/null 2>&1; then
		set -- --gpus all "$@"
	fi
	exec docker run "$@"
}
burst_stop_workload() {
	docker stop -t 20 burst-workload >/dev/null 2>&1 || kill -TERM "$BURST_WORKLOAD_PID" 2>/dev/null
}

# Target aws. Every instance is launched with
# InstanceInitiatedShutdownBehavior=terminate, so a guest shutdown terminates
# it and its billing stops; its encrypted root volume goes with it. The
# instance metadata service requires IMDSv2 (a session token per read, hop
# limit 2 so the container could reach it too). GPU types boot NVIDIA's deep
# learning base image, which has the driver and container toolkit. Dask
# workers take the host name (ip-10-0-1-5...), distinct within the VPC.
burst_self_remove() {
	sync
	shutdown -h now "burst: $1" || poweroff -f
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
