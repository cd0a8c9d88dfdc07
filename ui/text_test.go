package ui

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"glimpse/app"
	"glimpse/downloads"
)

// TestPastedPath recognises file paths in pasted text and leaves other text alone.
func TestPastedPath(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "my photo.png")
	os.WriteFile(file, []byte("x"), 0o644)
	cases := map[string]string{
		file:                                file,
		"  " + file + "\n":                  file,
		`"` + file + `"`:                    file,
		"'" + file + "'":                    file,
		"file://" + dir + "/my%20photo.png": file,
		dir:                                 "", // a folder is not an image
		file + "\nsecond line":              "",
		"what is in " + file + "?":          "",
		filepath.Join(dir, "gone.png"):      "",
		"":                                  "",
	}
	for in, want := range cases {
		if got := pastedPath(in); got != want {
			t.Errorf("pastedPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestProgressText words download progress for the model manager.
func TestProgressText(t *testing.T) {
	cases := []struct {
		p    downloads.Progress
		want string
	}{
		{downloads.Progress{Bytes: 1_200_000_000, Total: 16_000_000_000, Speed: 35_000_000, ETA: 7 * time.Minute},
			"1.2 GB of 16.0 GB · 35.0 MB/s · 7 min left"},
		{downloads.Progress{Bytes: 0, Total: 1000}, "0 B of 1.0 kB"},
		{downloads.Progress{Bytes: 500, Total: 1000, Paused: true, Speed: 9}, "500 B of 1.0 kB · paused"},
		{downloads.Progress{Bytes: 5, Total: 10, Speed: 1, ETA: 90 * time.Minute}, "5 B of 10 B · 1 B/s · 1 h 30 min left"},
		{downloads.Progress{Bytes: 5, Total: 10, Speed: 1, ETA: 12 * time.Second}, "5 B of 10 B · 1 B/s · 12 s left"},
	}
	for _, c := range cases {
		if got := progressText(c.p); got != c.want {
			t.Errorf("progressText(%+v) = %q, want %q", c.p, got, c.want)
		}
	}
}

// TestEngineText says what runs in the status bar.
func TestEngineText(t *testing.T) {
	cases := []struct {
		d    app.Description
		want string
	}{
		{app.Description{Name: "instructblip-vicuna-7b", Backend: "gl", Device: "NVIDIA H100 80GB HBM3", Precision: "fp16"},
			"instructblip-vicuna-7b · fp16 · GPU: NVIDIA H100 80GB HBM3"},
		{app.Description{Name: "tiny", Backend: "cpu", Device: "AMD Ryzen 9", Precision: "fp32"}, "tiny · fp32 · CPU: AMD Ryzen 9"},
		{app.Description{Name: "tiny", Backend: "cpu", Precision: "fp32"}, "tiny · fp32 · CPU"},
		// Mesa's llvmpipe, asked for with "gl": it is no GPU.
		{app.Description{Name: "tiny", Backend: "gl", Device: "llvmpipe (LLVM 15.0.6, 256 bits)", Software: true, Precision: "fp16"},
			"tiny · fp16 · CPU: llvmpipe (LLVM 15.0.6, 256 bits) (OpenGL in software)"},
		{app.Description{Name: "tiny", Backend: "cpu", Device: "Apple M2", Precision: "fp32",
			NoGPU: "macOS offers OpenGL 4.1 at most; compute shaders need 4.3"},
			"tiny · fp32 · CPU: Apple M2 (no GPU compute: macOS offers OpenGL 4.1 at most; compute shaders need 4.3)"},
	}
	for _, c := range cases {
		if got := engineText(c.d); got != c.want {
			t.Errorf("engineText(%+v) = %q, want %q", c.d, got, c.want)
		}
	}
	for in, want := range map[string]string{
		"/models/tiny-instructblip-vicuna/": "tiny-instructblip-vicuna",
		`C:\models\tiny`:                    "tiny",
		"instructblip-flan-t5-xl":           "instructblip-flan-t5-xl",
	} {
		if got := displayName(in); got != want {
			t.Errorf("displayName(%q) = %q, want %q", in, got, want)
		}
	}
}
