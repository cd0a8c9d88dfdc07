#!/bin/sh
# package-macos.sh [DIST]: on macOS, builds Glimpse.app with fyne package and
# wraps it in DIST/glimpse-VERSION-macos-ARCH.dmg. macOS has no OpenGL 4.3
# compute, so there Glimpse runs the CPU backend (the app says so).
set -eu
cd "$(dirname "$0")/.."
if [ "$(uname -s)" != Darwin ]; then
	echo "package-macos runs on macOS (it needs Apple's SDK and hdiutil)" >&2
	exit 1
fi
dist=${1:-dist}
mkdir -p "$dist"
version=$(sed -n 's/^ *Version *= *"\(.*\)"/\1/p' FyneApp.toml)
arch=$(go env GOARCH)
command -v fyne >/dev/null 2>&1 || go install fyne.io/tools/cmd/fyne@v1.7.4
fyne=$(command -v fyne || echo "$(go env GOPATH)/bin/fyne")
cp FyneApp.toml /tmp/FyneApp.toml.keep
"$fyne" package -os darwin --tags accessibility --release
cp /tmp/FyneApp.toml.keep FyneApp.toml
rm -rf "$dist/Glimpse.app"
mv Glimpse.app "$dist/"
hdiutil create -volname Glimpse -srcfolder "$dist/Glimpse.app" -ov -format UDZO \
	"$dist/glimpse-$version-macos-$arch.dmg"
echo "$dist/glimpse-$version-macos-$arch.dmg"
