#!/bin/sh
# test.sh: the whole test suite. GL tests use the machine's OpenGL (Mesa's
# llvmpipe through EGL when there is no GPU); GUI tests need an X display, so
# without one this starts Xvfb for the run.
set -eu
cd "$(dirname "$0")/.."
if [ -z "${DISPLAY:-}" ] && command -v Xvfb >/dev/null 2>&1; then
	disp=:97
	Xvfb $disp -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 &
	xvfb_pid=$!
	trap 'kill $xvfb_pid 2>/dev/null || true' EXIT INT TERM
	export DISPLAY=$disp
	# Wait until the server accepts clients.
	i=0
	while [ $i -lt 50 ] && ! xdpyinfo >/dev/null 2>&1 && [ ! -e /tmp/.X11-unix/X97 ]; do sleep 0.1; i=$((i+1)); done
fi
go test -count=1 -timeout 25m ${GOTESTFLAGS:-} ./...
