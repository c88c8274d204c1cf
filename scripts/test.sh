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
command -v ip >/dev/null 2>&1 || need="$need iproute2"
# The real RTSP camera of the camera tests: GStreamer's RTSP server from
# Debian's python3 (TESTING.md section 3), with x264enc and rtph264pay.
if ! [ -x /usr/bin/python3 ] ||
	! /usr/bin/python3 -c "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer" >/dev/null 2>&1 ||
	! command -v gst-inspect-1.0 >/dev/null 2>&1 || ! gst-inspect-1.0 x264enc >/dev/null 2>&1 ||
	! gst-inspect-1.0 rtph264pay >/dev/null 2>&1; then
	need="$need python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly"
fi

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
