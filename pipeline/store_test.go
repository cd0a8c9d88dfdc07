package pipeline

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"image"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"glimpse/checkpoint/store"
	"glimpse/generate"
	"glimpse/input/imageproc"
	"glimpse/model"
)

// copyFixture copies a fixture model folder, so that a test may change its
// shards.
func copyFixture(t *testing.T, name string) string {
	t.Helper()
	src := filepath.Join(fixtures, "models", name)
	dst := filepath.Join(t.TempDir(), name)
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

// addMetadata rewrites a safetensors file with an extra __metadata__ entry:
// the same tensors, another header, as a re-save of the same weights makes.
func addMetadata(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(b)
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(b[8:8+n], &hdr); err != nil {
		t.Fatal(err)
	}
	hdr["__metadata__"] = json.RawMessage(`{"format":"pt","note":"re-saved"}`)
	js, err := json.Marshal(hdr)
	if err != nil {
		t.Fatal(err)
	}
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(js)))
	out = append(append(out, js...), b[8+n:]...)
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// editStore changes the one store file in root.
func editStore(t *testing.T, root string, edit func([]byte) []byte) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(root, "*"+store.Ext))
	if len(files) != 1 {
		t.Fatalf("store files %v, want one", files)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(files[0], edit(b), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestConvertedStore loads a model again and again through the store,
// damaging it between loads: every load answers as transformers does, a
// load after a good one reads the store without converting, and a damaged
// or stale store is rebuilt with a warning.
func TestConvertedStore(t *testing.T) {
	const name = "tiny-instructblip-flan-t5"
	dir := copyFixture(t, name)
	root := filepath.Join(t.TempDir(), "converted")
	g := readGolden(t, name)
	c := g.Cases[0]
	img, _, err := imageproc.DecodeFile(filepath.Join(fixtures, "images", c.Image))
	if err != nil {
		t.Fatal(err)
	}
	want := c.Generate["greedy"].Sequence
	cfg := generate.DefaultConfig()
	cfg.NumBeams, cfg.MaxNewTokens = 1, 24

	flipData := func(b []byte) []byte { b[store.Align+100] ^= 0x40; return b }
	steps := []struct {
		name      string
		precision string // "" for fp32, whose answers are transformers'
		before    func()
		source    model.WeightSource
		warning   string // a part of the one-line warning; "" for none
	}{
		{"first load converts", "", nil, model.Converting, ""},
		{"second load reads the store", "", nil, model.FromStore, ""},
		{"flipped data byte", "", func() { editStore(t, root, flipData) }, model.Converting, "damaged"},
		{"rebuilt store is read", "", nil, model.FromStore, ""},
		{"truncated", "", func() { editStore(t, root, func(b []byte) []byte { return b[:len(b)/2] }) }, model.Converting, "damaged"},
		{"flipped index byte", "", func() { editStore(t, root, func(b []byte) []byte { b[len(b)-10] ^= 1; return b }) }, model.Converting, "damaged"},
		{"other format version", "", func() {
			editStore(t, root, func(b []byte) []byte { binary.LittleEndian.PutUint32(b[8:], store.FormatVersion+1); return b })
		}, model.Converting, "out of date"},
		{"re-saved shard", "", func() { addMetadata(t, filepath.Join(dir, "model-00003-of-00011.safetensors")) }, model.Converting, "model-00003-of-00011.safetensors changed"},
		{"read again", "", nil, model.FromStore, ""},
		// fp16 matrices stay packed: the CPU reads them in place from the
		// mapped store file.
		{"fp16 converts", "fp16", nil, model.Converting, ""},
		{"fp16 reads the store", "fp16", nil, model.FromStore, ""},
	}
	var fp16 []int32
	for _, st := range steps {
		if st.before != nil {
			st.before()
		}
		var sources []model.WeightSource
		var warnings []string
		p, err := Open(context.Background(), dir, Options{Backend: "cpu", Precision: st.precision, StoreDir: root, Progress: func(lp model.LoadProgress) {
			if len(sources) == 0 || sources[len(sources)-1] != lp.Source {
				sources = append(sources, lp.Source)
			}
			if lp.Warning != "" && !slices.Contains(warnings, lp.Warning) {
				warnings = append(warnings, lp.Warning)
			}
		}})
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		d := p.Describe()
		if len(sources) == 0 || sources[len(sources)-1] != st.source || d.Weights != st.source.String() {
			t.Errorf("%s: progress sources %v, Describe().Weights %q; want %v", st.name, sources, d.Weights, st.source)
		}
		switch {
		case st.warning == "" && (len(warnings) != 0 || d.WeightsWarning != ""):
			t.Errorf("%s: warnings %q / %q, want none", st.name, warnings, d.WeightsWarning)
		case st.warning != "" && (len(warnings) != 1 || !strings.Contains(warnings[0], st.warning) || strings.Contains(warnings[0], "\n")):
			t.Errorf("%s: warnings %q, want one line about %q", st.name, warnings, st.warning)
		}
		res, err := p.Ask(context.Background(), []image.Image{img}, []string{c.Prompt}, cfg, nil)
		p.Close()
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		got := res.Answers[0].Sequence
		switch {
		case st.precision == "fp16" && fp16 == nil:
			fp16 = got
		case st.precision == "fp16" && !slices.Equal(got, fp16):
			t.Errorf("%s: sequence\n got %v\nwant %v, as when converting", st.name, got, fp16)
		case st.precision == "" && !slices.Equal(got, want):
			t.Errorf("%s: sequence\n got %v\nwant %v", st.name, got, want)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(root, "*.tmp")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}
