// Package tests holds Glimpse's end-to-end tests: the real glimpse binary,
// built once per run, driven the way people and scripts drive it, and the
// packages the release ships.
package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	rootOnce sync.Once
	rootDir  string
)

// repoRoot returns the repository root (the parent of tests/).
func repoRoot(t *testing.T) string {
	t.Helper()
	rootOnce.Do(func() {
		wd, err := os.Getwd()
		if err == nil {
			rootDir = filepath.Dir(wd)
		}
	})
	if rootDir == "" {
		t.Fatal("cannot find the repository root")
	}
	return rootDir
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binOut  []byte
)

// glimpseBin builds the glimpse binary once for the whole test run.
func glimpseBin(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "glimpse-e2e")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "glimpse")
		cmd := exec.Command("go", "build", "-o", binPath, ".")
		cmd.Dir = repoRoot(t)
		binOut, binErr = cmd.CombinedOutput()
	})
	if binErr != nil {
		t.Fatalf("building glimpse: %v\n%s", binErr, binOut)
	}
	return binPath
}

// run runs a command in dir and returns its combined output, failing the
// test if it exits non-zero.
func run(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestVersion(t *testing.T) {
	out := run(t, t.TempDir(), glimpseBin(t), "--version")
	if want := "glimpse " + appVersion(t) + "\n"; out != want {
		t.Errorf("glimpse --version = %q, want %q", out, want)
	}
}
