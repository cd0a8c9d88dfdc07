#!/bin/sh
# package-linux.sh [DIST]: builds Glimpse's Linux packages into DIST (default dist/):
#   glimpse-VERSION-linux-ARCH.tar.xz  (fyne package: binary, icon, desktop entry, Makefile)
#   glimpse_VERSION_ARCH.deb           (desktop entry, icons, GL/EGL runtime dependencies)
# Release builds carry -tags accessibility.
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
dist=${1:-dist}
mkdir -p "$dist"
dist=$(cd "$dist" && pwd)
version=$(sed -n 's/^ *Version *= *"\(.*\)"/\1/p' FyneApp.toml)
arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
goarch=$(go env GOARCH)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The binary both packages ship.
go build -tags accessibility -trimpath -ldflags "-s -w" -o "$work/glimpse" .

# .tar.xz with fyne package. It rewrites FyneApp.toml (Build += 1): keep ours.
fyne=$(command -v fyne || echo "$(go env GOPATH)/bin/fyne")
if [ ! -x "$fyne" ]; then
	go install fyne.io/tools/cmd/fyne@v1.7.4
fi
cp FyneApp.toml "$work/FyneApp.toml.keep"
if ! "$fyne" package -os linux --tags accessibility --release --exe "$work/glimpse" >"$work/fyne.log" 2>&1; then
	cp "$work/FyneApp.toml.keep" FyneApp.toml
	cat "$work/fyne.log" >&2
	exit 1
fi
cp "$work/FyneApp.toml.keep" FyneApp.toml
mv Glimpse.tar.xz "$dist/glimpse-$version-linux-$goarch.tar.xz"

# .deb laid out by hand: dpkg-deb needs no debian/ tree.
pkg="$work/deb"
install -D -m 0755 "$work/glimpse" "$pkg/usr/bin/glimpse"
install -D -m 0644 packaging/linux/glimpse.desktop "$pkg/usr/share/applications/app.glimpse.Glimpse.desktop"
for s in 32 48 64 128 256 512; do
	d="$pkg/usr/share/icons/hicolor/${s}x${s}/apps"
	mkdir -p "$d"
	go run ./scripts/resize-icon assets/icon.png "$s" "$d/glimpse.png"
done
install -D -m 0644 README.md "$pkg/usr/share/doc/glimpse/README.md"
# Runtime libraries the binary links (checked by tests/packaging_test.go
# against ldd): EGL/GL for compute, X11 for GLFW windows, GTK for file dialogs.
depends="libc6, libegl1, libgl1, libx11-6, libxcursor1, libxrandr2, libxinerama1, libxi6, libxxf86vm1, libgtk-3-0 | libgtk-3-0t64"
size=$(du -sk "$pkg" | cut -f1)
mkdir -p "$pkg/DEBIAN"
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@DEPENDS@/$depends/" -e "s/@SIZE@/$size/" \
	packaging/linux/control.in >"$pkg/DEBIAN/control"
dpkg-deb --root-owner-group --build "$pkg" "$dist/glimpse_${version}_$arch.deb" >/dev/null
echo "$dist/glimpse-$version-linux-$goarch.tar.xz"
echo "$dist/glimpse_${version}_$arch.deb"
