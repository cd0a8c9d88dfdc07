package processor

import (
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"glimpse/checkpoint/config"
	"glimpse/checkpoint/safetensors"
	"glimpse/input/imageproc"
)

const (
	fixtureModels = "../../../shared/fixtures/models"
	fixtureImages = "../../../shared/fixtures/images"
)

var models = []string{"tiny-instructblip-vicuna", "tiny-instructblip-flan-t5"}

type goldenCase struct {
	Image                string    `json:"image"`
	Prompt               string    `json:"prompt"`
	InputIDs             [][]int32 `json:"-"`
	RawInputIDs          []int32   `json:"input_ids"`
	AttentionMask        []int32   `json:"attention_mask"`
	QFormerInputIDs      []int32   `json:"qformer_input_ids"`
	QFormerAttentionMask []int32   `json:"qformer_attention_mask"`
}

type golden struct {
	Cases []goldenCase `json:"cases"`
	Batch struct {
		Images               []string  `json:"images"`
		Prompts              []string  `json:"prompts"`
		PaddingSide          string    `json:"padding_side"`
		InputIDs             [][]int32 `json:"input_ids"`
		AttentionMask        [][]int32 `json:"attention_mask"`
		QFormerInputIDs      [][]int32 `json:"qformer_input_ids"`
		QFormerAttentionMask [][]int32 `json:"qformer_attention_mask"`
	} `json:"batch"`
}

func loadGolden(t *testing.T, model string) *golden {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtureModels, model, "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Cases) == 0 || len(g.Batch.Prompts) == 0 {
		t.Fatal("golden.json has no cases")
	}
	return &g
}

func decode(t *testing.T, name string) image.Image {
	t.Helper()
	img, _, err := imageproc.DecodeFile(filepath.Join(fixtureImages, name))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// comparePixels checks pixel values against transformers' within the
// issue's tolerances (in fact every byte matches; only float32 rounding of
// the normalization differs).
func comparePixels(t *testing.T, got, want []float32, name string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d pixel values, want %d", name, len(got), len(want))
	}
	var maxAbs, sum float64
	for i := range got {
		d := math.Abs(float64(got[i] - want[i]))
		maxAbs = math.Max(maxAbs, d)
		sum += d
	}
	mean := sum / float64(len(got))
	limMax, limMean := 0.04, 0.001
	if strings.HasSuffix(name, ".jpg") {
		limMax, limMean = 0.06, 0.002
	}
	t.Logf("%s: pixel values max abs diff %.5f, mean %.6f", name, maxAbs, mean)
	if maxAbs > limMax || mean > limMean {
		t.Errorf("%s: pixel values differ by max %.5f, mean %.6f", name, maxAbs, mean)
	}
}

func TestGoldenCases(t *testing.T) {
	for _, model := range models {
		t.Run(model, func(t *testing.T) {
			dir := filepath.Join(fixtureModels, model)
			p, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			ref, err := safetensors.Open(filepath.Join(dir, "golden.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			defer ref.Close()
			g := loadGolden(t, model)
			for i, c := range g.Cases {
				in, err := p.Process([]image.Image{decode(t, c.Image)}, []string{c.Prompt})
				if err != nil {
					t.Fatal(err)
				}
				check := func(what string, got [][]int32, want []int32) {
					if !reflect.DeepEqual(got, [][]int32{want}) {
						t.Errorf("case %d %s:\n got %v\nwant %v", i, what, got, [][]int32{want})
					}
				}
				check("input_ids", in.InputIDs, c.RawInputIDs)
				check("attention_mask", in.AttentionMask, c.AttentionMask)
				check("qformer_input_ids", in.QFormerInputIDs, c.QFormerInputIDs)
				check("qformer_attention_mask", in.QFormerAttentionMask, c.QFormerAttentionMask)
				if len(in.Warnings) != 0 {
					t.Errorf("case %d: unexpected warnings %v", i, in.Warnings)
				}
				want, err := ref.Float32(fmt.Sprintf("case%d.pixel_values", i))
				if err != nil {
					t.Fatal(err)
				}
				comparePixels(t, in.PixelValues, want, c.Image)
			}
		})
	}
}

func TestGoldenBatch(t *testing.T) {
	for _, model := range models {
		t.Run(model, func(t *testing.T) {
			p, err := Load(filepath.Join(fixtureModels, model))
			if err != nil {
				t.Fatal(err)
			}
			g := loadGolden(t, model)
			b := g.Batch
			p.PaddingSide = b.PaddingSide
			var images []image.Image
			for _, name := range b.Images {
				images = append(images, decode(t, name))
			}
			in, err := p.Process(images, b.Prompts)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				what      string
				got, want [][]int32
			}{
				{"input_ids", in.InputIDs, b.InputIDs},
				{"attention_mask", in.AttentionMask, b.AttentionMask},
				{"qformer_input_ids", in.QFormerInputIDs, b.QFormerInputIDs},
				{"qformer_attention_mask", in.QFormerAttentionMask, b.QFormerAttentionMask},
			} {
				if !reflect.DeepEqual(c.got, c.want) {
					t.Errorf("%s:\n got %v\nwant %v", c.what, c.got, c.want)
				}
			}
			if in.Batch != 2 || in.Height != 224 || in.Width != 224 || len(in.PixelValues) != 2*3*224*224 {
				t.Errorf("pixel batch %d×3×%d×%d with %d values", in.Batch, in.Height, in.Width, len(in.PixelValues))
			}
			// Each row's pixels are that image's own preprocessing.
			for i, img := range images {
				one, err := imageproc.Preprocess(img, p.Image)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(in.PixelValues[i*len(one):(i+1)*len(one)], one) {
					t.Errorf("row %d pixels are not image %d's", i, i)
				}
			}
		})
	}
}

// TestRightPadding checks the other padding side: the pads go after the text.
func TestRightPadding(t *testing.T) {
	p, err := Load(filepath.Join(fixtureModels, "tiny-instructblip-vicuna"))
	if err != nil {
		t.Fatal(err)
	}
	p.PaddingSide = "right"
	img := imageproc.NewRGB(3, 3)
	in, err := p.Process([]image.Image{img, img}, []string{"Hi", "What is unusual about this image?"})
	if err != nil {
		t.Fatal(err)
	}
	row, mask := in.InputIDs[0], in.AttentionMask[0]
	pad, _ := p.Tokenizer.PAD()
	if len(row) != len(in.InputIDs[1]) || row[len(row)-1] != pad || mask[len(mask)-1] != 0 || row[p.NumQueryTokens] != 2 {
		t.Errorf("right-padded row %v mask %v", row, mask)
	}
}

// TestTruncation checks that an over-long prompt is cut from the left (the
// tokenizer's truncation side), keeps BOS and the image tokens, and that the
// caller is told.
func TestTruncation(t *testing.T) {
	for _, model := range models {
		t.Run(model, func(t *testing.T) {
			p, err := Load(filepath.Join(fixtureModels, model))
			if err != nil {
				t.Fatal(err)
			}
			p.MaxTextTokens, p.MaxQFormerTokens = 12, 9
			long := strings.Repeat("What is unusual about this image? ", 5) + "Describe it."
			full := p.Tokenizer.Encode(long, true).IDs
			in, err := p.Process([]image.Image{imageproc.NewRGB(5, 5)}, []string{long})
			if err != nil {
				t.Fatal(err)
			}
			ids := in.InputIDs[0]
			if len(ids) != p.NumQueryTokens+12 || len(in.QFormerInputIDs[0]) != 9 {
				t.Fatalf("lengths %d and %d, want %d and 9", len(ids), len(in.QFormerInputIDs[0]), p.NumQueryTokens+12)
			}
			for k := 0; k < p.NumQueryTokens; k++ {
				if ids[k] != p.ImageTokenID {
					t.Fatalf("image tokens lost: %v", ids)
				}
			}
			// The tokenizer's truncation side decides which end goes (the left
			// for Vicuna, the right for this T5 tokenizer); the special tokens
			// the template adds stay.
			text := ids[p.NumQueryTokens:]
			word := "start"
			switch {
			case p.Tokenizer.TruncationSide() == "left" && model == "tiny-instructblip-vicuna":
				// BOS first, then the last 11 ids of the prompt.
				if text[0] != full[0] || !reflect.DeepEqual(text[1:], full[len(full)-11:]) {
					t.Errorf("kept %v, want BOS and the last 11 of %v", text, full)
				}
			case model == "tiny-instructblip-flan-t5":
				word = "end"
				// The first 11 ids of the prompt, then </s>.
				if !reflect.DeepEqual(text[:11], full[:11]) || text[11] != full[len(full)-1] {
					t.Errorf("kept %v, want the first 11 of %v and </s>", text, full)
				}
			default:
				t.Fatalf("%s truncates on the %s", model, p.Tokenizer.TruncationSide())
			}
			if len(in.Warnings) != 2 || !strings.Contains(in.Warnings[0], "cut from its "+word) || !strings.Contains(in.Warnings[1], "Q-Former") {
				t.Errorf("warnings %q", in.Warnings)
			}
		})
	}
}

func TestProcessErrors(t *testing.T) {
	p, err := Load(filepath.Join(fixtureModels, "tiny-instructblip-vicuna"))
	if err != nil {
		t.Fatal(err)
	}
	img := imageproc.NewRGB(4, 4)
	cases := []struct {
		name    string
		images  []image.Image
		prompts []string
		want    string
	}{
		{"no prompts", nil, nil, "no prompt"},
		{"more prompts than images", []image.Image{img}, []string{"a", "b"}, "1 images for 2 prompts"},
		{"nil image", []image.Image{nil}, []string{"a"}, "image 1 is missing"},
		{"empty image", []image.Image{imageproc.NewRGB(0, 0)}, []string{"a"}, "no pixels"},
	}
	for _, c := range cases {
		if _, err := p.Process(c.images, c.prompts); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
	if _, err := p.ProcessFiles([]string{filepath.Join(t.TempDir(), "none.png")}, []string{"a"}); err == nil {
		t.Error("a missing image file was accepted")
	}
	in, err := p.ProcessFiles([]string{filepath.Join(fixtureImages, "tiny.png")}, []string{"Describe the image in detail."})
	if err != nil || len(in.InputIDs) != 1 {
		t.Errorf("ProcessFiles: %v", err)
	}
}

// copyDir copies a fixture model folder so a test can remove parts of it.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	err := filepath.Walk(src, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if strings.HasSuffix(path, ".safetensors") {
			return nil // weights are not needed here
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestLoadErrors(t *testing.T) {
	src := filepath.Join(fixtureModels, "tiny-instructblip-vicuna")
	cases := []struct {
		name   string
		remove string
		want   string
	}{
		{"no Q-Former tokenizer", QFormerTokenizerDir, "qformer_tokenizer"},
		{"no config", "config.json", "config.json"},
		{"no processor settings", "processor_config.json", "preprocessor_config.json"},
		{"no tokenizer", "tokenizer.json", "tokenizer"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyDir(t, src)
			if err := os.RemoveAll(filepath.Join(dir, c.remove)); err != nil {
				t.Fatal(err)
			}
			_, err := Load(dir)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one naming %q", err, c.want)
			}
		})
	}
	if _, err := Load(filepath.Join(t.TempDir(), "absent")); !errors.Is(err, config.ErrMissing) {
		t.Errorf("absent folder: %v", err)
	}
}

func TestLoadSettings(t *testing.T) {
	for _, c := range []struct {
		model   string
		image   int32
		maxText int
	}{
		// Vicuna: 512 positions less 8 image tokens. T5: its tokenizer sets
		// no limit, so n_positions does (absent: 512, the input length
		// Flan-T5 was trained on), less 8 image tokens.
		{"tiny-instructblip-vicuna", 1001, 504},
		{"tiny-instructblip-flan-t5", 1100, 504},
	} {
		p, err := Load(filepath.Join(fixtureModels, c.model))
		if err != nil {
			t.Fatal(err)
		}
		if p.ImageTokenID != c.image || p.MaxTextTokens != c.maxText || p.MaxQFormerTokens != 512 || p.NumQueryTokens != 8 {
			t.Errorf("%s: image token %d, max text %d, max Q-Former %d, queries %d", c.model, p.ImageTokenID, p.MaxTextTokens, p.MaxQFormerTokens, p.NumQueryTokens)
		}
	}
}
