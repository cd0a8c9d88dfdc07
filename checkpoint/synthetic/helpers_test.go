package synthetic_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"glimpse/checkpoint/synthetic"
)

// TokenizersEnv names the tokenizer source folder the tests read, made by
// scripts/fetch-tokenizers.sh (Makefile's test target sets it).
const TokenizersEnv = "GLIMPSE_TOKENIZERS"

// tokenizerSource returns the tokenizer source folder, failing the test
// with the way to make one when it is missing: these tests must not pass
// silently on a machine that lacks it.
func tokenizerSource(t testing.TB) string {
	t.Helper()
	dir := os.Getenv(TokenizersEnv)
	if dir == "" {
		t.Fatalf("%s is not set: run scripts/fetch-tokenizers.sh DIR (npm and the shared fixtures) and set %s=DIR", TokenizersEnv, TokenizersEnv)
	}
	for _, alternatives := range [][]string{
		{filepath.Join(synthetic.LlamaTokenizerDir, "llama-tokenizer.js"), filepath.Join(synthetic.LlamaTokenizerDir, "tokenizer.json")},
		{filepath.Join(synthetic.BertTokenizerDir, "vocab.json"), filepath.Join(synthetic.BertTokenizerDir, "vocab.txt")},
		{filepath.Join(synthetic.T5TokenizerDir, "tokenizer.json")},
	} {
		found := false
		for _, f := range alternatives {
			if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
				found = true
			}
		}
		if !found {
			t.Fatalf("%s=%s lacks %s: run scripts/fetch-tokenizers.sh %s", TokenizersEnv, dir, alternatives[0], dir)
		}
	}
	return dir
}

// testShardBytes keeps shards small so the tests read several of them.
const testShardBytes = 256 << 20

// One-layer checkpoints are a few GB each: every test binary writes each
// model at most once, into one temporary folder removed by TestMain.
var (
	cacheMu   sync.Mutex
	cacheRoot string
	cached    = map[string]string{}
)

func TestMain(m *testing.M) {
	code := m.Run()
	cacheMu.Lock()
	if cacheRoot != "" {
		os.RemoveAll(cacheRoot)
	}
	cacheMu.Unlock()
	os.Exit(code)
}

// oneLayer returns a real-width checkpoint of model with one layer per
// stack, with tokenizers, written once per test binary.
func oneLayer(t testing.TB, model string) string {
	t.Helper()
	src := tokenizerSource(t)
	cacheMu.Lock()
	defer cacheMu.Unlock()
	if dir, ok := cached[model]; ok {
		return dir
	}
	if cacheRoot == "" {
		root, err := os.MkdirTemp("", "glimpse-synthetic-")
		if err != nil {
			t.Fatal(err)
		}
		cacheRoot = root
	}
	dir := filepath.Join(cacheRoot, model)
	start := time.Now()
	err := synthetic.Write(context.Background(), dir, synthetic.Options{Model: model, Layers: 1, Seed: 7,
		ShardBytes: testShardBytes, Tokenizers: src})
	if err != nil {
		os.RemoveAll(dir)
		t.Fatalf("writing %s: %v", model, err)
	}
	t.Logf("wrote a one-layer %s in %s", model, time.Since(start).Round(time.Millisecond))
	cached[model] = dir
	return dir
}

// dropCached deletes a cached checkpoint, to keep the disk the tests hold
// small; a later oneLayer writes it again.
func dropCached(model string) {
	cacheMu.Lock()
	defer cacheMu.Unlock()
	if dir, ok := cached[model]; ok {
		os.RemoveAll(dir)
		delete(cached, model)
	}
}

// dropCachedExcept deletes every cached checkpoint but model's.
func dropCachedExcept(model string) {
	cacheMu.Lock()
	defer cacheMu.Unlock()
	for m, dir := range cached {
		if m != model {
			os.RemoveAll(dir)
			delete(cached, m)
		}
	}
}

// gb formats bytes as decimal gigabytes, as the Hub shows sizes.
func gb(n int64) string { return fmt.Sprintf("%.2f GB", float64(n)/1e9) }
