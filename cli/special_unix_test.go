//go:build unix

package cli

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"glimpse/checkpoint/safetensors"
)

// specialFiles makes a named pipe nobody writes to or reads from, a
// symbolic link to a file and a folder, and returns them with /dev/null and
// /dev/full, by what each is called in messages.
func specialFiles(t *testing.T) (dir string, files []struct{ path, kind string }) {
	t.Helper()
	dir = t.TempDir()
	fifo := filepath.Join(dir, "pipe.png")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(dir, "target.txt")
	if err := os.WriteFile(target, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.json")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	folder := filepath.Join(dir, "folder.md")
	if err := os.Mkdir(folder, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, []struct{ path, kind string }{
		{fifo, "a named pipe"}, {link, "a symbolic link"}, {folder, "a folder"},
		{"/dev/null", "a device"}, {"/dev/full", "a device"},
	}
}

// runWithin runs the command line and fails the test if it has not ended
// after the deadline: a named pipe must never make a command wait.
func runWithin(t *testing.T, d time.Duration, args []string, stdout *os.File) (int, string, string) {
	t.Helper()
	type result struct {
		code     int
		out, err string
	}
	done := make(chan result, 1)
	go func() {
		var out, errb bytes.Buffer
		env := Env{Version: "1.2.3", Stdout: &out, Stderr: &errb}
		if stdout != nil {
			env.Stdout = stdout
		}
		code := Main(args, env)
		done <- result{code, out.String(), errb.String()}
	}()
	select {
	case r := <-done:
		return r.code, r.out, r.err
	case <-time.After(d):
		t.Fatalf("glimpse %s still runs after %v", strings.Join(args, " "), d)
		return 0, "", ""
	}
}

// TestOutRefusesSpecialFiles: --out naming a named pipe, a link, a folder
// or a device is refused at once with one line naming the path and what
// it is, and the thing is left as it was: no device node replaced, no link
// swapped for a file, no images folder made beside it.
func TestOutRefusesSpecialFiles(t *testing.T) {
	_, zebra, _ := historySeed(t)
	z := strconv.FormatInt(zebra, 10)
	dir, files := specialFiles(t)
	vicuna := filepath.Join(askFixtures, "models", "tiny-instructblip-vicuna")
	img := filepath.Join(askFixtures, "images", "tiny.png")
	commands := []struct {
		name string
		args func(out string) []string
	}{
		{"preprocess", func(out string) []string {
			return []string{"preprocess", "--model", vicuna, "--image", img, "--out", out}
		}},
		{"export md", func(out string) []string { return []string{"history", "export", z, "--format", "md", "--out", out} }},
		{"export json", func(out string) []string { return []string{"history", "export", z, "--format", "json", "--out", out} }},
	}
	for _, c := range commands {
		for _, f := range files {
			t.Run(c.name+"/"+f.path, func(t *testing.T) {
				before, err := os.Lstat(f.path)
				if err != nil {
					t.Fatal(err)
				}
				code, _, stderr := runWithin(t, 5*time.Second, c.args(f.path), nil)
				want := "glimpse: cannot write " + f.path + ": it is " + f.kind + ", not a file (name a new file, or a file to replace)\n"
				if code != 1 || stderr != want {
					t.Errorf("exit %d, stderr %q; want exit 1 and %q", code, stderr, want)
				}
				after, err := os.Lstat(f.path)
				if err != nil || after.Mode() != before.Mode() || after.Sys().(*syscall.Stat_t).Ino != before.Sys().(*syscall.Stat_t).Ino {
					t.Errorf("%s changed: %v, then %v (%v)", f.path, before.Mode(), after.Mode(), err)
				}
				base := strings.TrimSuffix(f.path, filepath.Ext(f.path))
				if _, err := os.Lstat(base + "-images"); err == nil {
					os.RemoveAll(base + "-images")
					t.Errorf("a refused export made %s-images", base)
				}
			})
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "target.txt")); string(b) != "keep" {
		t.Errorf("the link's target now holds %q", b)
	}
}

// TestOutWritesFiles: --out writes a new file, replaces a regular one, and
// - is standard output.
func TestOutWritesFiles(t *testing.T) {
	vicuna := filepath.Join(askFixtures, "models", "tiny-instructblip-vicuna")
	img := filepath.Join(askFixtures, "images", "tiny.png")
	dir := t.TempDir()
	old := filepath.Join(dir, "old.safetensors")
	if err := os.WriteFile(old, []byte("an earlier file"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{filepath.Join(dir, "new.safetensors"), old} {
		code, stdout, stderr := runWithin(t, time.Minute, []string{"preprocess", "--model", vicuna, "--image", img, "--out", out}, nil)
		if code != 0 || !strings.HasSuffix(stdout, "written to "+out+"\n") {
			t.Fatalf("--out %s: exit %d, stdout %q, stderr %q", out, code, stdout, stderr)
		}
		f, err := safetensors.Open(out)
		if err != nil {
			t.Fatalf("--out %s: %v", out, err)
		}
		f.Close()
	}
	if st, _ := os.Stat(old); st.Mode().Perm() != 0o600 {
		t.Errorf("the replaced file's mode is %v, want its own 0600", st.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("the folder holds %d entries, want the 2 outputs and no temporary file", len(entries))
	}
	// - writes the data to standard output and the summary to standard error.
	stdout, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	defer stdout.Close()
	code, _, stderr := runWithin(t, time.Minute, []string{"preprocess", "--model", vicuna, "--image", img, "--out", "-"}, stdout)
	if code != 0 || !strings.HasSuffix(stderr, "written to -\n") {
		t.Fatalf("--out -: exit %d, stderr %q", code, stderr)
	}
	f, err := safetensors.Open(stdout.Name())
	if err != nil {
		t.Fatalf("--out - wrote no safetensors: %v", err)
	}
	f.Close()
}

// TestStdoutDevFull runs commands with /dev/full as standard output: each
// exits with code 1 and says so in one line.
func TestStdoutDevFull(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer full.Close()
	_, zebra, _ := historySeed(t)
	t.Setenv("HF_HUB_CACHE", t.TempDir())
	vicuna := filepath.Join(askFixtures, "models", "tiny-instructblip-vicuna")
	for _, args := range [][]string{
		{"history", "list"},
		{"history", "show", strconv.FormatInt(zebra, 10)},
		{"models", "list"},
		{"ask", "--model", vicuna, "--image", filepath.Join(askFixtures, "images", "shapes.png"), "--prompt", "What is it?",
			"--backend", "cpu", "--num-beams", "1", "--max-new-tokens", "8"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, _, stderr := runWithin(t, time.Minute, args, full)
			want := "glimpse: cannot write to standard output: no space left on device"
			if got := errorLines(stderr); code != 1 || len(got) != 1 || got[0] != want {
				t.Errorf("exit %d, stderr %q; want exit 1 and %q", code, stderr, want)
			}
		})
	}
}

// TestImageNotAFile: an --image (or a file to caption) that is a named
// pipe nobody writes to, an endless device or a folder is refused at once
// with one line, before any model is loaded.
func TestImageNotAFile(t *testing.T) {
	dir, files := specialFiles(t)
	vicuna := filepath.Join(askFixtures, "models", "tiny-instructblip-vicuna")
	cases := []struct{ path, what string }{
		{files[0].path, "is a named pipe, not an image file"},
		{"/dev/zero", "is a device, not an image file"},
		{dir, "is a folder: choose an image file"},
	}
	for _, c := range cases {
		for _, args := range [][]string{
			{"ask", "--model", vicuna, "--backend", "cpu", "--prompt", "What is it?", "--image", c.path},
			{"bench", "--model", vicuna, "--backend", "cpu", "--image", c.path},
		} {
			t.Run(args[0]+"/"+c.path, func(t *testing.T) {
				code, _, stderr := runWithin(t, 2*time.Second, args, nil)
				if want := "glimpse: " + c.path + " " + c.what + "\n"; code != 1 || stderr != want {
					t.Errorf("exit %d, stderr %q; want exit 1 and %q", code, stderr, want)
				}
			})
		}
	}
	// Captioning goes on past an image it cannot read, and says which.
	code, _, stderr := runWithin(t, time.Minute, []string{"caption", "--model", vicuna, "--backend", "cpu", "--num-beams", "1",
		"--max-new-tokens", "2", files[0].path, "/dev/zero", filepath.Join(askFixtures, "images", "tiny.png")}, nil)
	for _, want := range []string{files[0].path + " is a named pipe, not an image file", "/dev/zero is a device, not an image file",
		"2 of 3 images could not be captioned"} {
		if code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("caption: exit %d, stderr %q; want exit 1 and %q", code, stderr, want)
		}
	}
	// preprocess reads the image itself.
	code, _, stderr = runWithin(t, 2*time.Second, []string{"preprocess", "--model", vicuna, "--image", files[0].path,
		"--out", filepath.Join(t.TempDir(), "x.safetensors")}, nil)
	if code != 1 || !strings.Contains(stderr, "not a regular file (it is a named pipe)") {
		t.Errorf("preprocess: exit %d, stderr %q", code, stderr)
	}
	if st, err := os.Lstat(files[0].path); err != nil || st.Mode().Type() != fs.ModeNamedPipe {
		t.Errorf("the pipe is now %v (%v)", st.Mode(), err)
	}
}
