package synthetic

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"glimpse/checkpoint/config"
	"glimpse/checkpoint/safetensors"
)

func values(b []byte) []float32 {
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

func TestFillNormal(t *testing.T) {
	b := make([]byte, 4<<20)
	s := streamFor(1, "x")
	fillBytes(b, normal, &s)
	v := values(b)
	var sum, sq, peak float64
	for _, x := range v {
		sum += float64(x)
		sq += float64(x) * float64(x)
		peak = max(peak, math.Abs(float64(x)))
	}
	mean := sum / float64(len(v))
	std := math.Sqrt(sq/float64(len(v)) - mean*mean)
	// Four 16-bit lanes bound the values at √3·2 ≈ 3.46 standard deviations.
	if math.Abs(mean) > 1e-4 || math.Abs(std-0.02) > 2e-4 || peak > 3.47*0.02 {
		t.Errorf("mean %g, std %g, largest |value| %g; want 0, 0.02, below %g", mean, std, peak, 3.47*0.02)
	}
	for _, c := range []struct {
		f    fill
		want float32
	}{{ones, 1}, {zeros, 0}} {
		b := bytes.Repeat([]byte{0xff}, 64)
		fillBytes(b, c.f, &s)
		for _, x := range values(b) {
			if x != c.want {
				t.Fatalf("fill %d gave %v, want %v", c.f, x, c.want)
			}
		}
	}
}

func TestStreamsDependOnSeedAndName(t *testing.T) {
	draw := func(seed uint64, name string) []byte {
		b := make([]byte, 64)
		s := streamFor(seed, name)
		fillBytes(b, normal, &s)
		return b
	}
	if !bytes.Equal(draw(3, "a.weight"), draw(3, "a.weight")) {
		t.Error("the same seed and name gave different values")
	}
	if bytes.Equal(draw(3, "a.weight"), draw(4, "a.weight")) || bytes.Equal(draw(3, "a.weight"), draw(3, "b.weight")) {
		t.Error("another seed or name gave the same values")
	}
}

func TestPlanShards(t *testing.T) {
	specs := []spec{{"c", []int{10}, normal}, {"a", []int{10}, ones}, {"big", []int{100}, normal}, {"b", []int{5}, zeros}, {"d", []int{5}, zeros}}
	got := planShards(specs, 80) // bytes: 40, 40, 400, 20, 20
	want := []struct {
		file  string
		names []string
		bytes int64
	}{
		{"model-00001-of-00003.safetensors", []string{"a", "c"}, 80},
		{"model-00002-of-00003.safetensors", []string{"big"}, 400},
		{"model-00003-of-00003.safetensors", []string{"b", "d"}, 40},
	}
	if len(got) != len(want) {
		t.Fatalf("%d shards, want %d", len(got), len(want))
	}
	for i, w := range want {
		var names []string
		for _, s := range got[i].tensors {
			names = append(names, s.name)
		}
		if got[i].file != w.file || !slices.Equal(names, w.names) || got[i].bytes != w.bytes {
			t.Errorf("shard %d: %s %v %d bytes, want %s %v %d", i, got[i].file, names, got[i].bytes, w.file, w.names, w.bytes)
		}
	}
}

// TestWriteShard writes tensors larger than a chunk, reads them back with
// the safetensors reader and checks that a tensor's values do not depend
// on its neighbours.
func TestWriteShard(t *testing.T) {
	dir := t.TempDir()
	big := spec{"big.weight", []int{3, chunkBytes/8 + 1}, normal} // 1.5 chunks
	shards := planShards([]spec{{"norm.weight", []int{7}, ones}, big, {"b.bias", []int{3}, zeros}}, 1<<40)
	var written int64
	if err := writeShard(context.Background(), dir, shards[0], 9, map[string]string{"format": "pt"}, func(n int64) { written += n }); err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.Open(filepath.Join(dir, shards[0].file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if written != shards[0].bytes || f.Metadata()["format"] != "pt" {
		t.Errorf("reported %d bytes of %d, metadata %v", written, shards[0].bytes, f.Metadata())
	}
	if got, _ := f.Float32("norm.weight"); !slices.Equal(got, []float32{1, 1, 1, 1, 1, 1, 1}) {
		t.Errorf("norm.weight = %v", got)
	}
	if got, _ := f.Float32("b.bias"); !slices.Equal(got, []float32{0, 0, 0}) {
		t.Errorf("b.bias = %v", got)
	}
	got, err := f.Float32(big.name)
	if err != nil {
		t.Fatal(err)
	}
	alone := make([]byte, 4*big.elements())
	s := streamFor(9, big.name)
	fillBytes(alone, normal, &s)
	if !slices.Equal(got, values(alone)) {
		t.Error("big.weight differs from its values drawn alone")
	}
}

func TestWriteShardCancelled(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	shards := planShards([]spec{{"w", []int{chunkBytes}, normal}}, 1<<40)
	err := writeShard(ctx, dir, shards[0], 1, nil, func(int64) {})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if names, _ := os.ReadDir(dir); len(names) != 0 {
		t.Errorf("a cancelled write left %v", names)
	}
}

// TestConfigFullDepth parses each full-depth config.json with the
// repository's parser: the real layer counts.
func TestConfigFullDepth(t *testing.T) {
	want := map[string][3]int{"vicuna-7b": {39, 12, 32}, "vicuna-13b": {39, 12, 40}, "flan-t5-xl": {39, 12, 24}, "flan-t5-xxl": {39, 12, 24}}
	for _, name := range Models() {
		a, _ := lookup(name)
		js, err := marshalJSON(configJSON(a, depthOf(a, 0)), "  ")
		if err != nil {
			t.Fatal(err)
		}
		m, err := config.Parse(js)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		text := 0
		switch l := m.Text.Language.(type) {
		case *config.Llama:
			text = l.NumHiddenLayers
		case *config.T5:
			if l.NumDecoderLayers != l.NumLayers {
				t.Errorf("%s: %d encoder and %d decoder blocks", name, l.NumLayers, l.NumDecoderLayers)
			}
			text = l.NumLayers
		}
		if got := [3]int{m.Vision.NumHiddenLayers, m.QFormer.NumHiddenLayers, text}; got != want[name] {
			t.Errorf("%s: layers %v, want %v", name, got, want[name])
		}
	}
}

func TestOptionErrors(t *testing.T) {
	full := t.TempDir()
	os.WriteFile(filepath.Join(full, "x"), nil, 0o644)
	cases := []struct {
		name string
		dir  string
		opt  Options
		want string
	}{
		{"unknown model", t.TempDir(), Options{Model: "blip2-opt"}, "unknown model"},
		{"negative layers", t.TempDir(), Options{Model: "vicuna-7b", Layers: -1}, "layers"},
		{"not empty", full, Options{Model: "vicuna-7b", Layers: 1}, "not empty"},
		{"no tokenizers", t.TempDir(), Options{Model: "flan-t5-xl", Layers: 1, Tokenizers: filepath.Join(full, "absent")}, "fetch-tokenizers"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Write(context.Background(), c.dir, c.opt)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one mentioning %q", err, c.want)
			}
		})
	}
	for _, name := range []string{"instructblip-flan-t5-xl", "Salesforce/instructblip-Vicuna-13B"} {
		if _, err := lookup(name); err != nil {
			t.Errorf("lookup(%q): %v", name, err)
		}
	}
}

// TestTokenizerSourceChecks feeds the tokenizer readers vocabularies that
// are not the real ones.
func TestTokenizerSourceChecks(t *testing.T) {
	write := func(t *testing.T, name, body string) string {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	// Mistral's tokenizer has LLaMA's size and specials but "▁" at 28705.
	vocab := make([]string, 32000)
	for i := range vocab {
		vocab[i] = "t" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + string(rune(0x4e00+i))
	}
	copy(vocab, []string{"<unk>", "<s>", "</s>"})
	vocab[28705] = "▁"
	var js strings.Builder
	js.WriteString(`{"model":{"type":"BPE","merges":[],"vocab":{`)
	for i, tok := range vocab {
		if i > 0 {
			js.WriteByte(',')
		}
		js.Write(rawJSON(tok))
		js.WriteString(":" + string(rawJSON(i)))
	}
	js.WriteString(`}}}`)
	if _, _, err := readLlama(write(t, "tokenizer.json", js.String())); err == nil || !strings.Contains(err.Error(), "not LLaMA's") {
		t.Errorf("a non-LLaMA vocabulary: %v", err)
	}
	if _, _, err := parseLlamaTokenizerJS([]byte(`const llama_vocab_base64 = "YQpi";`)); err == nil {
		t.Error("llama-tokenizer.js without merges was accepted")
	}
	if _, err := readBertVocab(write(t, "vocab.txt", "[PAD]\n[UNK]\n")); err == nil || !strings.Contains(err.Error(), "30522") {
		t.Errorf("a 2-token vocab.txt: %v", err)
	}
	if _, err := readBertVocab(write(t, "vocab.json", `["[PAD]","▁","a","▁a","a"]`)); err == nil || !strings.Contains(err.Error(), "repeated") {
		t.Errorf("a vocab.json with a repeated token: %v", err)
	}
}
