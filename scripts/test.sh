#!/bin/sh
# test.sh: the whole test suite. GL tests use the machine's OpenGL (Mesa's
# llvmpipe through EGL when there is no GPU); GUI tests need an X display, so
# without one this starts Xvfb for the run, on a display number Xvfb picks
# itself (-displayfd), and stops if it did not start. Then the packages with
# concurrency run again under -race.
set -eu
cd "$(dirname "$0")/.."
if [ -z "${DISPLAY:-}" ] && command -v Xvfb >/dev/null 2>&1; then
	dfile=$(mktemp)
	Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp 3>"$dfile" >/dev/null 2>&1 &
	xvfb_pid=$!
	trap 'kill $xvfb_pid 2>/dev/null || true; rm -f "$dfile"' EXIT INT TERM
	# Xvfb writes its display number once it accepts clients.
	i=0
	while [ ! -s "$dfile" ]; do
		if ! kill -0 $xvfb_pid 2>/dev/null || [ $i -ge 100 ]; then
			echo "test.sh: Xvfb did not start; the GUI tests need it" >&2
			exit 1
		fi
		sleep 0.1
		i=$((i + 1))
	done
	DISPLAY=:$(head -n 1 "$dfile")
	export DISPLAY
	echo "test.sh: Xvfb on display $DISPLAY"
fi
# The run's caches (GL program binaries, model downloads) go to a
# temporary folder, never the user's ~/.cache; Go's build cache stays put.
GOCACHE=$(go env GOCACHE)
export GOCACHE
cache=$(mktemp -d)
trap 'rm -rf "$cache"; [ -z "${xvfb_pid:-}" ] || kill $xvfb_pid 2>/dev/null || true; rm -f "${dfile:-}"' EXIT INT TERM
XDG_CACHE_HOME=$cache
export XDG_CACHE_HOME
go test -count=1 -timeout 25m ${GOTESTFLAGS:-} ./...
# The CPU engine's SIMD kernels: its arm64 build (NEON assembly, no cgo;
# vet checks the assembly's frames against the Go declarations) under
# qemu's user-mode emulator, and the pure-Go fallback that the purego tag
# forces, so that both the assembly of the other architecture and the
# reference every kernel is tested against keep passing.
GOARCH=arm64 CGO_ENABLED=0 go vet ./compute/cpu/
GOARCH=arm64 CGO_ENABLED=0 go test -count=1 -timeout 10m -exec qemu-aarch64-static ${GOTESTFLAGS:-} ./compute/cpu/
go test -count=1 -timeout 10m -tags=accessibility,purego ${GOTESTFLAGS:-} ./compute/cpu/
# Again under the race detector, the packages whose own code runs on
# several goroutines: the engines, downloads, the history, generation and
# the UI. (app and serve run whole models, which is slow under -race: their
# goroutines are exercised by the ui and serve tests above; run
# `go test -race ./app/ ./serve/` after changing their concurrency.)
go test -race -count=1 -timeout 25m ${GOTESTFLAGS:-} ./compute/... ./downloads/... ./history/ ./generate/ ./ui/
