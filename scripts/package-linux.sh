#!/bin/sh
# package-linux.sh [DIST]: builds Glimpse's Linux packages into DIST (default dist/):
#   glimpse-VERSION-linux-ARCH.tar.xz  (binary, desktop entry, icons and a Makefile to install them)
#   glimpse_VERSION_ARCH.deb           (desktop entry, icons, GL/EGL runtime dependencies)
# Release builds carry -tags accessibility. Both are laid out by hand rather
# than with fyne package, which rebuilds everything with its own flags and
# rewrites FyneApp.toml (its Build number) while other builds may read it.
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

# .tar.xz: the same files under usr/local, and a Makefile that installs them.
tarroot="$work/glimpse-$version"
mkdir -p "$tarroot/usr/local"
cp -R "$pkg/usr/bin" "$pkg/usr/share" "$tarroot/usr/local/"
rm -rf "$tarroot/usr/local/share/doc"
cp packaging/linux/Makefile.tar "$tarroot/Makefile"
cp README.md "$tarroot/README.md"
tar -C "$work" --owner=0 --group=0 -cJf "$dist/glimpse-$version-linux-$goarch.tar.xz" "glimpse-$version"
echo "$dist/glimpse-$version-linux-$goarch.tar.xz"
echo "$dist/glimpse_${version}_$arch.deb"
