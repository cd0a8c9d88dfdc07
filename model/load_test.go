package model

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"glimpse/checkpoint/safetensors"
	"glimpse/compute"
	"glimpse/compute/cpu"
)

// rewriteCheckpoint copies the vicuna fixture into a temporary folder as a
// single model.safetensors, after edit has changed its tensors.
func rewriteCheckpoint(t *testing.T, edit func(ts map[string][]float32, shapes map[string][]int)) string {
	t.Helper()
	src := filepath.Join(fixtures, "models", "tiny-instructblip-vicuna")
	set, err := safetensors.OpenDir(src)
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	ts, shapes := map[string][]float32{}, map[string][]int{}
	for _, name := range set.Names() {
		info, _ := set.Info(name)
		if ts[name], err = set.Float32(name); err != nil {
			t.Fatal(err)
		}
		shapes[name] = info.Shape
	}
	edit(ts, shapes)
	out := map[string]safetensors.Tensor{}
	for name, v := range ts {
		out[name] = safetensors.FromFloat32(shapes[name], v)
	}
	dir := t.TempDir()
	if err := safetensors.WriteFile(filepath.Join(dir, safetensors.SingleFileName), out, nil); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(src, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestVisionBiasLayouts loads the vision qkv bias in both layouts: the
// original EVA checkpoints' q_bias and v_bias (no key bias), and the fused
// qkv.bias = cat(q_bias, 0, v_bias) of re-saved ones. Both must give the
// same image embeddings.
func TestVisionBiasLayouts(t *testing.T) {
	f := loadFixtures(t)[0]
	const layers = 3
	fused := rewriteCheckpoint(t, func(ts map[string][]float32, _ map[string][]int) {
		for i := 0; i < layers; i++ {
			b := ts[vname(i, "qkv.bias")]
			n := len(b) / 3
			clear(b[n : 2*n]) // EVA has no key bias
		}
	})
	split := rewriteCheckpoint(t, func(ts map[string][]float32, shapes map[string][]int) {
		for i := 0; i < layers; i++ {
			b := ts[vname(i, "qkv.bias")]
			n := len(b) / 3
			ts[vname(i, "q_bias")], ts[vname(i, "v_bias")] = b[:n], b[2*n:]
			shapes[vname(i, "q_bias")], shapes[vname(i, "v_bias")] = []int{n}, []int{n}
			delete(ts, vname(i, "qkv.bias"))
		}
	})
	be := cpu.New()
	defer be.Close()
	var outs [][]float32
	for _, dir := range []string{fused, split} {
		m, err := Load(context.Background(), be, dir, LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var image []float32
		_, _, err = m.Forward(context.Background(), f.inputs(t, 0), func(ctx compute.Context, name string, x compute.Tensor) {
			if name == "vision_model" {
				image = ctx.Read(x)
			}
		})
		m.Close()
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, image)
	}
	if d := compare(outs[1], outs[0], 0, 0); d.maxAbs != 0 {
		t.Errorf("q_bias/v_bias and fused qkv.bias differ by %g", d.maxAbs)
	}
}

func vname(layer int, name string) string {
	return "vision_model.encoder.layers." + string(rune('0'+layer)) + ".self_attn." + name
}

// TestLoadProgressAndCancel checks the progress reports (monotonic, ending
// at the totals) and that cancelling from the callback stops loading.
func TestLoadProgressAndCancel(t *testing.T) {
	f := loadFixtures(t)[1]
	be := cpu.New()
	defer be.Close()

	var reports []LoadProgress
	m, err := Load(context.Background(), be, f.dir, LoadOptions{Progress: func(p LoadProgress) { reports = append(reports, p) }})
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	if len(reports) == 0 {
		t.Fatal("no progress reported")
	}
	for i := 1; i < len(reports); i++ {
		a, b := reports[i-1], reports[i]
		if b.Bytes < a.Bytes || b.Tensors != a.Tensors+1 || b.TotalBytes != a.TotalBytes || b.TotalTensors != a.TotalTensors {
			t.Fatalf("report %d %+v after %+v", i, b, a)
		}
	}
	last := reports[len(reports)-1]
	if last.Bytes != last.TotalBytes || last.Tensors != last.TotalTensors || last.Tensors != len(reports) {
		t.Errorf("last report %+v after %d reports", last, len(reports))
	}
	t.Logf("%d tensors, %d bytes", last.Tensors, last.Bytes)

	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	_, err = Load(ctx, be, f.dir, LoadOptions{Progress: func(p LoadProgress) {
		if calls++; calls == 5 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) || calls != 5 {
		t.Errorf("cancelled load: %v after %d tensors, want context.Canceled after 5", err, calls)
	}
}

// TestLoadErrors checks that broken model folders give errors, not panics.
func TestLoadErrors(t *testing.T) {
	src := filepath.Join(fixtures, "models", "tiny-instructblip-vicuna")
	be := cpu.New()
	defer be.Close()
	replace := func(old, new string) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			b, err := os.ReadFile(filepath.Join(dir, "config.json"))
			if err != nil || !strings.Contains(string(b), old) {
				t.Fatalf("config.json lacks %q (%v)", old, err)
			}
			b = []byte(strings.Replace(string(b), old, new, 1))
			if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	t5 := filepath.Join(fixtures, "models", "tiny-instructblip-flan-t5")
	tests := []struct {
		name   string
		edit   func(t *testing.T, dir string) // breaks the folder
		expect string                         // in the error
		src    string                         // the fixture to break; empty: Vicuna
	}{
		{"no weights", func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, "model.safetensors.index.json")); err != nil {
				t.Fatal(err)
			}
		}, "no safetensors weights", ""},
		{"no config", func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, "config.json")); err != nil {
				t.Fatal(err)
			}
		}, "config.json", ""},
		{"config disagrees with the weights",
			replace(`"intermediate_size": 256`, `"intermediate_size": 512`),
			"mlp.down_proj.weight has shape [128 256]", ""},
		{"more layers than weights",
			replace(`"num_hidden_layers": 3,
    "num_key_value_heads"`, `"num_hidden_layers": 4,
    "num_key_value_heads"`),
			"text_config.num_hidden_layers is 4, but the weights hold 3 blocks of language_model.model.layers", ""},
		// Hostile depths: refused before the layer lists are allocated
		// (this used to exhaust memory).
		{"100,000,000 text layers",
			replace(`"num_hidden_layers": 3,
    "num_key_value_heads"`, `"num_hidden_layers": 100000000,
    "num_key_value_heads"`),
			"text_config.num_hidden_layers is 100000000, but the weights hold 3 blocks", ""},
		{"100,000,000 Q-Former layers",
			replace(`"num_hidden_layers": 4,`, `"num_hidden_layers": 100000000,`),
			"qformer_config.num_hidden_layers is 100000000, but the weights hold 4 blocks of qformer.encoder.layer", ""},
		{"100,000,000 vision layers",
			replace(`"num_hidden_layers": 3,
    "patch_size"`, `"num_hidden_layers": 100000000,
    "patch_size"`),
			"vision_config.num_hidden_layers is 100000000, but the weights hold 3 blocks of vision_model.encoder.layers", ""},
		{"100,000,000 T5 encoder blocks", replace(`"num_layers": 3,`, `"num_layers": 100000000,`),
			"text_config.num_layers is 100000000, but the weights hold 3 blocks of language_model.encoder.block", t5},
		{"100,000,000 T5 decoder blocks", replace(`"num_decoder_layers": 3,`, `"num_decoder_layers": 100000000,`),
			"text_config.num_decoder_layers is 100000000, but the weights hold 3 blocks of language_model.decoder.block", t5},
		{"unknown activation", replace(`"hidden_act": "silu"`, `"hidden_act": "mish"`), `unsupported activation function "mish"`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			from := src
			if tc.src != "" {
				from = tc.src
			}
			dir := copyDir(t, from)
			tc.edit(t, dir)
			_, err := Load(context.Background(), be, dir, LoadOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.expect) {
				t.Fatalf("Load: %v, want an error containing %q", err, tc.expect)
			}
		})
	}
}

// copyDir copies a fixture folder's files (not the golden data) into a
// temporary folder.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() || strings.HasPrefix(e.Name(), "golden") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}
