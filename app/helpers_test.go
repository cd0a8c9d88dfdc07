package app

import (
	"context"
	"encoding/json"
	"image"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"glimpse/generate"
)

// fixtures is the shared ground truth, seen from app/.
const fixtures = "../../shared/fixtures"

var (
	tinyVicuna = filepath.Join(fixtures, "models", "tiny-instructblip-vicuna")
	tinyT5     = filepath.Join(fixtures, "models", "tiny-instructblip-flan-t5")
)

// golden is a fixture model's golden.json: transformers' answers.
type golden struct {
	Kind  string `json:"kind"`
	Cases []struct {
		Image    string `json:"image"`
		Prompt   string `json:"prompt"`
		Generate map[string]struct {
			Kwargs   map[string]any `json:"kwargs"`
			Sequence []int32        `json:"sequence"`
			Text     string         `json:"text"`
		} `json:"generate"`
	} `json:"cases"`
}

func readGolden(t *testing.T, modelDir string) golden {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(modelDir, "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

// greedy is the golden files' "greedy" setting: one beam, 24 new tokens,
// transformers' defaults otherwise.
func greedy() generate.Config {
	c := generate.DefaultConfig()
	c.NumBeams, c.MaxNewTokens = 1, 24
	return c
}

// tiny is the tiny Vicuna fixture open on the CPU, shared by the tests of
// the package; Ask runs one at a time, as the app's worker runs it.
var tiny struct {
	once sync.Once
	m    *Model
	err  error
	mu   sync.Mutex
}

func tinyModel(t *testing.T) *Model {
	t.Helper()
	tiny.once.Do(func() {
		tiny.m, tiny.err = Open(context.Background(), tinyVicuna, OpenOptions{Backend: "cpu"})
	})
	if tiny.err != nil {
		t.Fatal(tiny.err)
	}
	return tiny.m
}

// tinyAsk is an AskFunc on the shared tiny model; asks, when not nil,
// counts the images it is given.
func tinyAsk(t *testing.T, asks *[]int) AskFunc {
	t.Helper()
	ask := tinyModel(t).AskFunc()
	var mu sync.Mutex
	return func(ctx context.Context, images []image.Image, prompts []string, cfg generate.Config) (*Result, error) {
		if asks != nil {
			mu.Lock()
			*asks = append(*asks, len(images))
			mu.Unlock()
		}
		tiny.mu.Lock()
		defer tiny.mu.Unlock()
		return ask(ctx, images, prompts, cfg)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
