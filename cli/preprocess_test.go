package cli

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"glimpse/checkpoint/safetensors"
)

const (
	preprocessModel  = "../../shared/fixtures/models/tiny-instructblip-vicuna"
	preprocessImages = "../../shared/fixtures/images"
)

func runPreprocessWith(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(append([]string{"preprocess"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// TestPreprocessCommand writes each fixture image's pixel values and
// compares them with transformers': every byte matches, so only the
// normalization's float32 rounding may differ.
func TestPreprocessCommand(t *testing.T) {
	ref, err := safetensors.Open(filepath.Join(preprocessImages, "pixel_values.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	cases := []struct {
		image        string
		maxAbs, mean float64
	}{
		{"shapes.png", 1e-6, 1e-7},
		{"palette.png", 1e-6, 1e-7},
		{"noise.jpg", 1e-6, 1e-7},
	}
	for _, c := range cases {
		t.Run(c.image, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "px.safetensors")
			code, stdout, stderr := runPreprocessWith("--model", preprocessModel, "--image", filepath.Join(preprocessImages, c.image), "--out", out)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if !strings.Contains(stdout, "[1 3 224 224]") {
				t.Errorf("stdout %q", stdout)
			}
			f, err := safetensors.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			info, ok := f.Info("pixel_values")
			if !ok || info.DType != safetensors.F32 || !reflect.DeepEqual(info.Shape, []int{1, 3, 224, 224}) || len(f.Names()) != 1 {
				t.Fatalf("tensors %v, pixel_values %+v", f.Names(), info)
			}
			got, _ := f.Float32("pixel_values")
			want, err := ref.Float32(c.image + ".slow")
			if err != nil {
				t.Fatal(err)
			}
			var maxAbs, sum float64
			for i := range got {
				d := math.Abs(float64(got[i] - want[i]))
				maxAbs = math.Max(maxAbs, d)
				sum += d
			}
			t.Logf("%s: max abs diff %.5f, mean %.6f", c.image, maxAbs, sum/float64(len(got)))
			if maxAbs > c.maxAbs || sum/float64(len(got)) > c.mean {
				t.Errorf("%s: max %.5f, mean %.6f", c.image, maxAbs, sum/float64(len(got)))
			}
			if f.Metadata()["image"] != c.image {
				t.Errorf("metadata %v", f.Metadata())
			}
		})
	}
}

func TestPreprocessCommandErrors(t *testing.T) {
	dir := t.TempDir()
	notImage := filepath.Join(dir, "notes.png")
	os.WriteFile(notImage, []byte("not a picture"), 0o644)
	out := filepath.Join(dir, "out.safetensors")
	img := filepath.Join(preprocessImages, "tiny.png")
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no flags", nil, 2, "Usage"},
		{"no output", []string{"--model", preprocessModel, "--image", img}, 2, "Usage"},
		{"stray argument", []string{"--model", preprocessModel, "--image", img, "--out", out, "extra"}, 2, "Usage"},
		{"help", []string{"-h"}, 0, "Usage"},
		{"not an image", []string{"--model", preprocessModel, "--image", notImage, "--out", out}, 1, "not a supported image"},
		{"missing image", []string{"--model", preprocessModel, "--image", filepath.Join(dir, "none.jpg"), "--out", out}, 1, "none.jpg"},
		{"not a model folder", []string{"--model", dir, "--image", img, "--out", out}, 1, "config.json"},
		{"unwritable output", []string{"--model", preprocessModel, "--image", img, "--out", filepath.Join(dir, "no", "such", "dir.safetensors")}, 1, "cannot write " + filepath.Join(dir, "no", "such", "dir.safetensors") + ": "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := runPreprocessWith(c.args...)
			if code != c.code || !strings.Contains(stderr, c.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, c.code, c.want)
			}
		})
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Error("a failed run left an output file")
	}
}
