#!/bin/sh
# install-deps.sh PKG...: install the Debian packages that are missing.
# Uses apt-get as root, or through sudo; otherwise says what to run.
set -eu
missing=""
for p in "$@"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
	echo "burst: please install:$missing (Debian/Ubuntu package names; with pip: pip install 'dask[distributed]')" >&2
	exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
		echo "burst: run as root: apt-get install -y$missing" >&2
		exit 1
	fi
fi
echo "installing:$missing" >&2
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
# shellcheck disable=SC2086 # $missing is a list of words
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
