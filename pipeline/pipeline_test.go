package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"glimpse/compute"
	"glimpse/compute/cpu"
	"glimpse/generate"
	"glimpse/input/imageproc"
	"glimpse/model"
)

const fixtures = "../../shared/fixtures"

type goldenFile struct {
	Cases []struct {
		Image, Prompt string
		Generate      map[string]struct {
			Sequence []int32
			Text     string
		}
	}
}

func readGolden(t *testing.T, name string) goldenFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, "models", name, "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g goldenFile
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

// TestAskMatchesTransformers runs the whole pipeline, folder to text, on both
// tiny models with the greedy and the seed's beam settings.
func TestAskMatchesTransformers(t *testing.T) {
	settings := map[string]func() generate.Config{
		"greedy": func() generate.Config {
			c := generate.DefaultConfig()
			c.NumBeams, c.MaxNewTokens = 1, 24
			return c
		},
		// The golden file's kwargs: InstructBLIP's published settings
		// with a shorter max_length.
		"beam5_seed_settings": func() generate.Config {
			c := generate.DefaultConfig()
			c.NumBeams, c.MaxLength, c.MinLength = 5, 48, 1
			c.TopP, c.RepetitionPenalty, c.LengthPenalty, c.Temperature = 0.9, 1.5, 1, 1
			return c
		},
	}
	for _, name := range []string{"tiny-instructblip-vicuna", "tiny-instructblip-flan-t5"} {
		t.Run(name, func(t *testing.T) {
			var progressed bool
			p, err := Open(context.Background(), filepath.Join(fixtures, "models", name),
				Options{Backend: "cpu", Progress: func(model.LoadProgress) { progressed = true }})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			if !progressed {
				t.Error("no loading progress reported")
			}
			d := p.Describe()
			if d.Backend != "cpu" || d.Precision != "fp32" || d.Name != name || d.WeightBytes <= 0 || d.NoGPU != "" {
				t.Errorf("Describe() = %+v", d)
			}
			g := readGolden(t, name)
			c := g.Cases[0]
			img, _, err := imageproc.DecodeFile(filepath.Join(fixtures, "images", c.Image))
			if err != nil {
				t.Fatal(err)
			}
			for setting, cfg := range settings {
				want := c.Generate[setting]
				var streamed strings.Builder
				res, err := p.Ask(context.Background(), []image.Image{img}, []string{c.Prompt}, cfg(),
					func(e generate.Event) {
						if e.Index == 0 {
							streamed.WriteString(e.Text)
						}
					})
				if err != nil {
					t.Fatalf("%s: %v", setting, err)
				}
				a := res.Answers[0]
				if !slices.Equal(a.Sequence, want.Sequence) {
					t.Errorf("%s: sequence\n got %v\nwant %v", setting, a.Sequence, want.Sequence)
				}
				if !strings.HasSuffix(want.Text, a.Text) || a.Text == "" {
					t.Errorf("%s: text %q, want the answer part of %q", setting, a.Text, want.Text)
				}
				if setting == "greedy" && streamed.String() != a.Text {
					t.Errorf("%s: streamed %q, answer %q", setting, streamed.String(), a.Text)
				}
				if res.Timings.Prefill <= 0 {
					t.Errorf("%s: no prefill time measured", setting)
				}
				// The timed session hands generation the model's token
				// selection on the device: decoding reads back ids (a
				// greedy step 4 bytes, a beam step 10 pairs of 8), never
				// the logits, and uploads nothing but the token ids and,
				// for beams, the cache's rows index.
				dc, n := res.Timings.DecodeCounts, int64(res.Timings.Steps)
				maxRead := int64(4)
				if setting != "greedy" {
					maxRead = 2 * 5 * 8
				}
				if n == 0 || dc.Readbacks != n || dc.ReadbackBytes > n*maxRead {
					t.Errorf("%s: %d steps read back %d times, %d bytes; want one readback of at most %d bytes per step",
						setting, n, dc.Readbacks, dc.ReadbackBytes, maxRead)
				}
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	tiny := filepath.Join(fixtures, "models", "tiny-instructblip-vicuna")
	tests := []struct {
		name, model string
		opt         Options
		want        string
	}{
		{"bad backend", tiny, Options{Backend: "tpu"}, "backend \"tpu\""},
		{"bad precision", tiny, Options{Backend: "cpu", Precision: "fp8"}, "precision \"fp8\""},
		{"empty folder", t.TempDir(), Options{Backend: "cpu"}, "lacks"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Open(context.Background(), tt.model, tt.opt)
			if err == nil {
				p.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
	if _, err := Open(context.Background(), tiny, Options{Backend: "tpu"}); !errors.Is(err, ErrBadOption) {
		t.Errorf("bad backend error %v is not ErrBadOption", err)
	}
}

func TestSnapshotCommit(t *testing.T) {
	const c = "92cb457daed1ceefd6fd7f53294ee42085575cdc"
	tests := []struct{ dir, want string }{
		{"/home/u/.cache/huggingface/hub/models--Salesforce--instructblip-vicuna-7b/snapshots/" + c, c},
		{"/home/u/.cache/huggingface/hub/models--Salesforce--instructblip-vicuna-7b/snapshots/" + c + "/", c},
		{"/models/vicuna/" + c, ""},
		{"/x/snapshots/main", ""},
		{"/x/snapshots/" + strings.ToUpper(c), ""},
	}
	for _, tt := range tests {
		if got := snapshotCommit(tt.dir); got != tt.want {
			t.Errorf("snapshotCommit(%q) = %q, want %q", tt.dir, got, tt.want)
		}
	}
}

// TestAutoFallsBackToCPU: where OpenGL 4.3 cannot start (macOS), "auto"
// runs on the CPU and the description says why, for the app to show.
func TestAutoFallsBackToCPU(t *testing.T) {
	reason := fmt.Errorf("%w: macOS offers OpenGL 4.1 at most; compute shaders need 4.3", compute.ErrUnavailable)
	old := newGL
	newGL = func() (compute.Backend, error) { return nil, reason }
	defer func() { newGL = old }()
	var told error
	p, err := Open(context.Background(), filepath.Join(fixtures, "models", "tiny-instructblip-vicuna"),
		Options{Backend: "auto", Fallback: func(err error) { told = err }})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	d := p.Describe()
	if d.Backend != "cpu" || d.Precision != "fp32" || !strings.Contains(d.NoGPU, "OpenGL 4.1") || told != reason {
		t.Errorf("Describe() = %+v, Fallback told %v", d, told)
	}
	if _, err := Open(context.Background(), filepath.Join(fixtures, "models", "tiny-instructblip-vicuna"),
		Options{Backend: "gl"}); !errors.Is(err, compute.ErrUnavailable) {
		t.Errorf("backend gl without GL: %v, want ErrUnavailable", err)
	}
}

// TestAutoSkipsSoftwareGL: where the only OpenGL is one that renders on
// the CPU (CI's Mesa llvmpipe), "auto" runs on the CPU engine and says
// why, while "gl" still uses it when asked for. The GL constructor is
// replaced by one whose backend reports llvmpipe as its device.
func TestAutoSkipsSoftwareGL(t *testing.T) {
	const device = "llvmpipe (LLVM 15.0.6, 256 bits)"
	dir := filepath.Join(fixtures, "models", "tiny-instructblip-vicuna")
	old := newGL
	closed := 0
	newGL = func() (compute.Backend, error) {
		return &renamed{Backend: cpu.New(), device: device, closed: &closed}, nil
	}
	defer func() { newGL = old }()
	var told error
	p, err := Open(context.Background(), dir, Options{Backend: "auto", Fallback: func(err error) { told = err }})
	if err != nil {
		t.Fatal(err)
	}
	d := p.Describe()
	p.Close()
	if d.Backend != "cpu" || !errors.Is(told, ErrSoftwareGL) || !strings.Contains(d.NoGPU, device) || closed != 1 {
		t.Errorf("auto: backend %q, NoGPU %q, Fallback told %v, software GL closed %d times; want cpu because of %s, closed once",
			d.Backend, d.NoGPU, told, closed, device)
	}
	g, err := Open(context.Background(), dir, Options{Backend: "gl"})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if d := g.Describe(); d.Backend != "gl" || d.Device != device || !d.Software {
		t.Errorf("gl: backend %q on %q, software %v; want gl on %s, software", d.Backend, d.Device, d.Software, device)
	}
}

// renamed is a backend that reports another device name.
type renamed struct {
	compute.Backend
	device string
	closed *int
}

func (r *renamed) Info() compute.Info {
	i := r.Backend.Info()
	i.Device = r.device
	return i
}

func (r *renamed) Close() error {
	*r.closed++
	return r.Backend.Close()
}
