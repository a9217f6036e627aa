#!/bin/sh
# burst bootstrap: cluster demo, role worker, target azure.
# Rendered by burst. Runs the workload (none) and a watchdog that
# removes this machine when the workload ends, the cluster is idle, or the
# deadline passes, whether or not burst itself is still running.
set -u

BURST_CLUSTER='demo'
BURST_ROLE='worker'
BURST_TARGET='azure'
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

# Target azure: a guest shutdown leaves an Azure VM allocated and billed, so
# the machine deletes itself through ARM with the cluster's user-assigned
# managed identity, whose only role is Virtual Machine Contributor on the
# cluster's resource group (no credential is in this script: IMDS hands out
# the token). Deleting a VM of a Flexible scale set also lowers the set's
# capacity, and the VM's NIC and disk go with it (deleteOption Delete). If
# every attempt fails the machine powers off, and `burst down` or `burst gc`
# deletes the VM.
BURST_ARM_API='https://management.azure.com'
BURST_IMDS=http://169.254.169.254/metadata
# curl retries what is transient (timeouts, 429, 5xx) and fails at once on
# the rest (403: the identity has no role here; 404: no identity).
burst_curl() {
	curl -fsS --max-time 30 --retry 4 --retry-delay 3 "$@"
}
burst_imds() {
	burst_curl -H 'Metadata: true' "$BURST_IMDS/$1"
}
burst_self_remove() {
	token=$(burst_imds "identity/oauth2/token?api-version=2018-02-01&resource=$BURST_ARM_API/" | sed -n 's/.*"access_token" *: *"\([^"]*\)".*/\1/p')
	id=$(burst_imds 'instance/compute/resourceId?api-version=2021-02-01&format=text')
	if [ -n "$token" ] && [ -n "$id" ] && burst_curl -X DELETE -H "Authorization: Bearer $token" \
		"$BURST_ARM_API$id?api-version=2024-07-01&forceDeletion=true" >/dev/null; then
		log "delete requested"
		return 0
	fi
	log "self-delete failed; powering off (burst down or burst gc deletes the VM)"
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
