#!/bin/sh
# Runs every test of civicd, the browser end-to-end tests included.
# It first installs the Debian packages the tests need, only when missing.
set -eu
cd "$(dirname "$0")/.."

need=""
command -v chromium >/dev/null 2>&1 || need="$need chromium"
command -v node >/dev/null 2>&1 || need="$need nodejs"
command -v sipp >/dev/null 2>&1 || need="$need sip-tester"
command -v baresip >/dev/null 2>&1 || need="$need baresip"
command -v ffmpeg >/dev/null 2>&1 || need="$need ffmpeg"

if [ -n "$need" ]; then
	echo "installing test packages:$need"
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	$sudo apt-get update -q
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends $need
fi

# With CI=true an end-to-end test whose tool is missing fails instead of
# skipping; the tools were installed above, so that is the right default.
export CI="${CI:-true}"
exec go test -race -count=1 -timeout 25m ./...
