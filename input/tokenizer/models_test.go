package tokenizer

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// loadJSON builds a tokenizer from a tokenizer.json written to a temporary folder.
func loadJSON(t *testing.T, tokenizerJSON string) *Tokenizer {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), []byte(tokenizerJSON), 0o644); err != nil {
		t.Fatal(err)
	}
	return mustLoad(t, dir)
}

// TestWordPieceMaxChars: a word longer than max_input_chars_per_word (100)
// is [UNK] as a whole; one of exactly 100 characters is split normally.
func TestWordPieceMaxChars(t *testing.T) {
	tok := mustLoad(t, filepath.Join(fixtures, "tokenizers", "bert-uncased"))
	if got := tok.Encode(strings.Repeat("a", 101), false).Tokens; !slices.Equal(got, []string{"[UNK]"}) {
		t.Errorf("101 characters: %q, want [UNK]", got)
	}
	got := tok.Encode(strings.Repeat("a", 100), false).Tokens
	if len(got) == 0 || got[0] == "[UNK]" {
		t.Errorf("100 characters: %q, want subwords", got)
	}
}

// TestBPEUnknowns covers the unk paths of BPE: byte fallback, fused and
// unfused unk tokens, and dropping characters when there is no unk token.
func TestBPEUnknowns(t *testing.T) {
	const vocab = `{"<unk>": 0, "a": 1, "b": 2, "ab": 3, "<0xC3>": 4, "<0xA9>": 5}`
	model := func(extra string) string {
		return `{"model": {"type": "BPE", "vocab": ` + vocab + `, "merges": ["a b"]` + extra + `},
			"decoder": {"type": "Sequence", "decoders": [{"type": "ByteFallback"}, {"type": "Fuse"}]}}`
	}
	tests := []struct {
		name, extra, text string
		want              []int32
		decoded           string
	}{
		{"merge", `, "unk_token": "<unk>"`, "abab", []int32{3, 3}, "abab"},
		{"fused unk", `, "unk_token": "<unk>", "fuse_unk": true`, "axyb", []int32{1, 0, 2}, "a<unk>b"},
		{"unfused unk", `, "unk_token": "<unk>"`, "axyb", []int32{1, 0, 0, 2}, "a<unk><unk>b"},
		{"byte fallback", `, "unk_token": "<unk>", "byte_fallback": true`, "aéb", []int32{1, 4, 5, 2}, "aéb"},
		{"byte fallback missing a byte", `, "unk_token": "<unk>", "byte_fallback": true`, "aèb", []int32{1, 0, 2}, "a<unk>b"},
		{"no unk token: dropped, neighbours merge", ``, "axb", []int32{3}, "ab"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := loadJSON(t, model(tc.extra))
			got := tok.Encode(tc.text, false).IDs
			if !slices.Equal(got, tc.want) {
				t.Errorf("ids %v, want %v", got, tc.want)
			}
			if d := tok.Decode(got, false); d != tc.decoded {
				t.Errorf("decoded %q, want %q", d, tc.decoded)
			}
		})
	}
	// A lone continuation byte decodes to U+FFFD, one per byte.
	tok := loadJSON(t, model(`, "byte_fallback": true`))
	if d := tok.Decode([]int32{1, 5, 5, 2}, false); d != "a\uFFFD\uFFFDb" {
		t.Errorf("invalid UTF-8 bytes decode to %q", d)
	}
}

// TestUnigramUnknowns: unknown characters cost min_score-10 and are fused
// into one piece, which byte fallback spells in bytes when it can.
func TestUnigramUnknowns(t *testing.T) {
	model := func(byteFallback string) string {
		return `{"model": {"type": "Unigram", "unk_id": 0, "byte_fallback": ` + byteFallback + `, "vocab": [
			["<unk>", 0.0], ["a", -1.0], ["b", -1.0], ["ab", -1.5], ["<0xC3>", -8.0], ["<0xA9>", -8.0], ["<0xA8>", -8.0]]}}`
	}
	tests := []struct {
		name, byteFallback, text string
		want                     []int32
	}{
		{"best path", "false", "abab", []int32{3, 3}},
		{"fused unknowns", "false", "aéèb", []int32{1, 0, 2}},
		{"byte fallback", "true", "aéèb", []int32{1, 4, 5, 4, 6, 2}},
		{"byte fallback missing a byte", "true", "aêb", []int32{1, 0, 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := loadJSON(t, model(tc.byteFallback)).Encode(tc.text, false).IDs; !slices.Equal(got, tc.want) {
				t.Errorf("ids %v, want %v", got, tc.want)
			}
		})
	}
}
