#!/bin/sh
# deps.sh PKG...: make sure the named Debian/Ubuntu packages are installed.
# Installs the missing ones with apt-get (through sudo when not root); on other
# systems prints what Glimpse needs instead.
set -eu
# Go itself is not a Debian package new enough (bookworm has 1.19).
if ! command -v go >/dev/null 2>&1; then
	echo "Glimpse needs Go 1.26 or newer, and 'go' is not on PATH: install it from https://go.dev/dl/" >&2
	exit 1
fi
gov=$(go env GOVERSION | sed 's/^go//')
case "$gov" in
	1.2[6-9]*|1.[3-9][0-9]*|[2-9].*) ;;
	*) echo "Glimpse needs Go 1.26 or newer; this is Go $gov: see https://go.dev/dl/" >&2; exit 1 ;;
esac
missing=""
if command -v dpkg-query >/dev/null 2>&1; then
	for p in "$@"; do
		st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
		case "$st" in *"ok installed"*) ;; *) missing="$missing $p" ;; esac
	done
else
	echo "This is not a Debian/Ubuntu system. Glimpse needs: Go 1.26+, a C compiler, and the"
	echo "development files of OpenGL/EGL, X11 (Xcursor, Xrandr, Xinerama, Xi, Xxf86vm) and GTK 3."
	echo "On Fedora: dnf install gcc mesa-libGL-devel mesa-libEGL-devel libX11-devel libXcursor-devel"
	echo "  libXrandr-devel libXinerama-devel libXi-devel libXxf86vm-devel gtk3-devel xorg-x11-server-Xvfb"
	echo "On macOS: Xcode command line tools (xcode-select --install)."
	exit 0
fi
[ -z "$missing" ] && exit 0
echo "Installing:$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
if [ -n "$SUDO" ] && ! command -v sudo >/dev/null 2>&1; then
	echo "Missing packages:$missing. Install them as root: apt-get install$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
