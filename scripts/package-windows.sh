#!/bin/sh
# package-windows.sh [DIST]: cross-compiles Glimpse for Windows with mingw-w64
# and builds DIST/glimpse-VERSION-windows-amd64-setup.exe with NSIS (Start-menu
# shortcut, uninstaller, version resource). DIST/glimpse.exe is kept beside it.
# With GLIMPSE_SIGN_PKCS12 (a .p12/.pfx file) and GLIMPSE_SIGN_PASSWORD set,
# both executables are Authenticode-signed with osslsigncode.
set -eu
cd "$(dirname "$0")/.."
dist=${1:-dist}
mkdir -p "$dist"
dist=$(cd "$dist" && pwd)
version=$(sed -n 's/^ *Version *= *"\(.*\)"/\1/p' FyneApp.toml)
build=$(sed -n 's/^ *Build *= *\([0-9]*\)/\1/p' FyneApp.toml)
cc=${CC_WINDOWS:-x86_64-w64-mingw32-gcc}
windres=${WINDRES:-x86_64-w64-mingw32-windres}
for tool in "$cc" "$windres" makensis; do
	command -v "$tool" >/dev/null 2>&1 || { echo "missing $tool: run make deps-windows" >&2; exit 1; }
done
work=$(mktemp -d)
syso=rsrc_windows_amd64.syso
trap 'rm -rf "$work" "$syso"' EXIT

# Version resource and icon, linked in through a .syso file.
go run ./scripts/resize-icon assets/icon.png ico "$work/glimpse.ico"
IFS=. read -r v1 v2 v3 <<EOV
$version
EOV
sed -e "s/@V1@/${v1:-0}/g" -e "s/@V2@/${v2:-0}/g" -e "s/@V3@/${v3:-0}/g" -e "s/@BUILD@/${build:-0}/g" \
	-e "s/@VERSION@/$version/g" -e "s|@ICON@|$work/glimpse.ico|" packaging/windows/glimpse.rc.in >"$work/glimpse.rc"
"$windres" -O coff -i "$work/glimpse.rc" -o "$syso"

CC="$cc" GOOS=windows GOARCH=amd64 CGO_ENABLED=1 \
	go build -tags accessibility -trimpath -ldflags "-s -w" -o "$work/glimpse.exe" .
rm -f "$syso"

sign() {
	[ -n "${GLIMPSE_SIGN_PKCS12:-}" ] || return 0
	osslsigncode sign -pkcs12 "$GLIMPSE_SIGN_PKCS12" -pass "${GLIMPSE_SIGN_PASSWORD:-}" \
		-n Glimpse -i https://github.com/glimpse-app/glimpse -h sha256 -in "$1" -out "$1.signed"
	mv "$1.signed" "$1"
}
sign "$work/glimpse.exe"

out="$dist/glimpse-$version-windows-amd64-setup.exe"
makensis -V2 -DVERSION="$version" -DVERSION4="${v1:-0}.${v2:-0}.${v3:-0}.${build:-0}" \
	-DSRC="$work" -DOUT="$out" packaging/windows/glimpse.nsi
sign "$out"
cp "$work/glimpse.exe" "$dist/glimpse.exe"
echo "$out"
echo "$dist/glimpse.exe"
