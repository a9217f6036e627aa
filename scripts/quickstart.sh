#!/bin/sh
# quickstart.sh BURST: a Dask cluster on this machine, used and removed.
set -eu
burst=${1:-bin/burst}
name=quickstart

# The Python that has Dask (burst finds the same one).
py=""
for p in python3 /usr/bin/python3 python; do
	if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import distributed' 2>/dev/null; then py=$p; break; fi
done
if [ -z "$py" ]; then echo "quickstart: no Python with Dask; run make deps" >&2; exit 1; fi

trap '"$burst" down "$name" --yes >/dev/null 2>&1 || true' EXIT INT TERM
"$burst" up "$name" -n 3 --yes
addr=$("$burst" status "$name" -o json | "$py" -c 'import json, sys; print(json.load(sys.stdin)["scheduler_address"])')
PYTHONWARNINGS=ignore "$py" examples/quickstart.py "$addr"
"$burst" down "$name" --yes
trap - EXIT INT TERM
