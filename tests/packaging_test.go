package tests

import (
	"bytes"
	"debug/pe"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestLinuxPackages builds the .tar.xz and the .deb, unpacks the .deb into an
// empty root and runs the installed glimpse --version.
func TestLinuxPackages(t *testing.T) {
	fyneAppBefore, err := os.ReadFile(filepath.Join(repoRoot(t), "FyneApp.toml"))
	if err != nil {
		t.Fatal(err)
	}
	dist := t.TempDir()
	run(t, repoRoot(t), "./scripts/package-linux.sh", dist)
	version := appVersion(t)

	debs, _ := filepath.Glob(filepath.Join(dist, "glimpse_"+version+"_*.deb"))
	tars, _ := filepath.Glob(filepath.Join(dist, "glimpse-"+version+"-linux-*.tar.xz"))
	if len(debs) != 1 || len(tars) != 1 {
		t.Fatalf("want one .deb and one .tar.xz in %s, got %v %v", dist, debs, tars)
	}

	root := t.TempDir()
	run(t, root, "dpkg-deb", "-x", debs[0], root)
	for _, f := range []string{
		"usr/bin/glimpse",
		"usr/share/applications/app.glimpse.Glimpse.desktop",
		"usr/share/icons/hicolor/256x256/apps/glimpse.png",
	} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Errorf("the .deb lacks %s: %v", f, err)
		}
	}
	out := run(t, root, filepath.Join(root, "usr/bin/glimpse"), "--version")
	if want := "glimpse " + version; strings.TrimSpace(out) != want {
		t.Errorf("installed glimpse --version = %q, want %q", out, want)
	}

	control := run(t, root, "dpkg-deb", "-f", debs[0], "Depends")
	// Every shared library the binary links must come from a declared dependency.
	// (ldd exits non-zero for a static binary: then there is nothing to check.)
	lddOut, _ := exec.Command("ldd", filepath.Join(root, "usr/bin/glimpse")).CombinedOutput()
	ldd := string(lddOut)
	libPkg := map[string]string{
		"libEGL.so": "libegl1", "libGL.so": "libgl1", "libX11.so": "libx11-6",
		"libXcursor.so": "libxcursor1", "libXrandr.so": "libxrandr2", "libXinerama.so": "libxinerama1",
		"libXi.so": "libxi6", "libXxf86vm.so": "libxxf86vm1", "libgtk-3.so": "libgtk-3-0",
	}
	for lib, pkg := range libPkg {
		if strings.Contains(ldd, lib) && !strings.Contains(control, pkg) {
			t.Errorf("glimpse links %s but the .deb does not depend on %s (Depends: %s)", lib, pkg, control)
		}
	}
	desktop, err := os.ReadFile(filepath.Join(root, "usr/share/applications/app.glimpse.Glimpse.desktop"))
	if err != nil || !bytes.Contains(desktop, []byte("Exec=glimpse")) {
		t.Errorf("desktop entry missing or without Exec: %v", err)
	}

	// The tarball: unpack it and install with its Makefile into a staging
	// root, as `sudo make install` would into /usr/local.
	unpacked, stage := t.TempDir(), t.TempDir()
	run(t, unpacked, "tar", "xJf", tars[0])
	top := filepath.Join(unpacked, "glimpse-"+version)
	run(t, top, "make", "install", "DESTDIR="+stage)
	for _, f := range []string{
		"usr/local/bin/glimpse",
		"usr/local/share/applications/app.glimpse.Glimpse.desktop",
		"usr/local/share/icons/hicolor/256x256/apps/glimpse.png",
	} {
		if _, err := os.Stat(filepath.Join(stage, f)); err != nil {
			t.Errorf("make install from the .tar.xz did not install %s: %v", f, err)
		}
	}
	out = run(t, stage, filepath.Join(stage, "usr/local/bin/glimpse"), "--version")
	if want := "glimpse " + version; strings.TrimSpace(out) != want {
		t.Errorf("glimpse --version installed from the .tar.xz = %q, want %q", out, want)
	}

	// Packaging must leave the app's metadata alone: other builds embed it.
	if after, err := os.ReadFile(filepath.Join(repoRoot(t), "FyneApp.toml")); err != nil || !bytes.Equal(after, fyneAppBefore) {
		t.Errorf("packaging changed FyneApp.toml (%v):\n%s", err, after)
	}
}

// TestWindowsInstaller cross-compiles with mingw-w64, builds the NSIS
// installer signed with a throw-away certificate, checks both are valid PE
// files with good signatures, installs under wine and runs the installed
// program's --version.
func TestWindowsInstaller(t *testing.T) {
	for _, tool := range []string{"x86_64-w64-mingw32-gcc", "makensis", "osslsigncode", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing: make deps-windows installs it", tool)
		}
	}
	wine := "/usr/lib/wine/wine64"
	if _, err := os.Stat(wine); err != nil {
		t.Fatalf("wine64 is missing (%v): make deps-windows installs it", err)
	}
	dir := t.TempDir()
	dist := filepath.Join(dir, "dist")
	version := appVersion(t)

	// A self-signed code-signing certificate, trusted only by this test.
	key, crt, p12 := filepath.Join(dir, "key.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "cert.p12")
	run(t, dir, "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
		"-subj", "/CN=Glimpse test signing", "-addext", "extendedKeyUsage=codeSigning",
		"-keyout", key, "-out", crt)
	run(t, dir, "openssl", "pkcs12", "-export", "-inkey", key, "-in", crt, "-out", p12, "-passout", "pass:test")

	cmd := exec.Command("./scripts/package-windows.sh", dist)
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(), "GLIMPSE_SIGN_PKCS12="+p12, "GLIMPSE_SIGN_PASSWORD=test")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("package-windows.sh: %v\n%s", err, out)
	}
	setup := filepath.Join(dist, "glimpse-"+version+"-windows-amd64-setup.exe")
	exe := filepath.Join(dist, "glimpse.exe")
	for _, f := range []string{setup, exe} {
		p, err := pe.Open(f)
		if err != nil {
			t.Fatalf("%s is not a PE file: %v", f, err)
		}
		if p.Machine != pe.IMAGE_FILE_MACHINE_AMD64 {
			t.Errorf("%s: machine %#x, want amd64", f, p.Machine)
		}
		p.Close()
		out := run(t, dir, "osslsigncode", "verify", "-CAfile", crt, "-in", f)
		if !strings.Contains(out, "Signature verification: ok") {
			t.Errorf("%s: signature does not verify:\n%s", f, out)
		}
	}
	if raw, err := os.ReadFile(exe); err != nil || !bytes.Contains(raw, utf16("ProductVersion")) {
		t.Errorf("glimpse.exe has no version resource (%v)", err)
	}

	// Wine: Go 1.26 binaries need bcryptprimitives.dll's ProcessPrng, which
	// Debian's wine 8 lacks, and Go loads it from system32 only.
	prefix := filepath.Join(dir, "wine")
	env := append(os.Environ(), "WINEPREFIX="+prefix, "WINEDEBUG=-all", "WINEDLLOVERRIDES=mscoree,mshtml=")
	wineRun(t, env, wine, "wineboot", "-i")
	stub := filepath.Join(prefix, "drive_c/windows/system32/bcryptprimitives.dll")
	run(t, dir, "x86_64-w64-mingw32-gcc", "-shared", "-O2", "-o", stub,
		filepath.Join(repoRoot(t), "packaging/windows/bcryptprimitives.c"), "-ladvapi32")

	wineRun(t, env, wine, setup, "/S")
	installed := filepath.Join(prefix, "drive_c/Program Files/Glimpse")
	for _, f := range []string{"glimpse.exe", "uninstall.exe"} {
		if _, err := os.Stat(filepath.Join(installed, f)); err != nil {
			t.Errorf("installer did not install %s: %v", f, err)
		}
	}
	lnk, _ := filepath.Glob(filepath.Join(prefix, "drive_c/ProgramData/Microsoft/Windows/Start Menu/Programs/Glimpse/Glimpse.lnk"))
	if len(lnk) != 1 {
		t.Errorf("no Start-menu shortcut for all users")
	}
	out := wineRun(t, env, wine, filepath.Join(installed, "glimpse.exe"), "--version")
	if want := "glimpse " + version; !strings.Contains(out, want) {
		t.Errorf("installed glimpse.exe --version printed %q, want %q", out, want)
	}
	wineRun(t, env, wine, filepath.Join(installed, "uninstall.exe"), "/S", "_?="+`C:\Program Files\Glimpse`)
	if _, err := os.Stat(filepath.Join(installed, "glimpse.exe")); !os.IsNotExist(err) {
		t.Errorf("uninstaller left glimpse.exe behind (%v)", err)
	}
}

func wineRun(t *testing.T, env []string, wine string, args ...string) string {
	t.Helper()
	cmd := exec.Command(wine, args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("wine %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func utf16(s string) []byte {
	b := make([]byte, 0, 2*len(s))
	for _, r := range s {
		b = append(b, byte(r), 0)
	}
	return b
}

func appVersion(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "FyneApp.toml"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*Version\s*=\s*"([^"]+)"`).FindSubmatch(b)
	if m == nil {
		t.Fatal("FyneApp.toml has no Version")
	}
	return string(m[1])
}
