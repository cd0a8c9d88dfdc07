package tokenizer

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// extract runs the two added-token passes of Encode (raw text, then
// normalized text) and returns the pieces as "text|id" strings.
func extract(v *addedVocab, n normalizer, text string) []string {
	var out []string
	for _, seg := range v.split(text, false) {
		if seg.id >= 0 {
			out = append(out, fmt.Sprintf("%s|%d", seg.text, seg.id))
			continue
		}
		for _, p := range v.split(n.normalize(seg.text), true) {
			if p.text != "" {
				out = append(out, fmt.Sprintf("%s|%d", p.text, p.id))
			}
		}
	}
	return out
}

// TestAddedTokenOptions replays the cases of tokenizers' own
// added_vocabulary tests (lower-casing normalizer; non-special tokens match
// the normalized text, special ones the raw text).
func TestAddedTokenOptions(t *testing.T) {
	type tok struct {
		a  addedToken
		id int32
	}
	tests := []struct {
		name   string
		tokens []tok
		text   string
		want   []string
	}{
		{
			name: "lstrip, rstrip, single_word, normalized",
			tokens: []tok{
				{addedToken{content: "my", lstrip: true, rstrip: true, normalized: true}, 0},
				{addedToken{content: "name", normalized: true}, 1},
				{addedToken{content: "ony", singleWord: true, normalized: true}, 2},
				{addedToken{content: "[CLS]", special: true}, 3},
				{addedToken{content: "[SEP]", special: true}, 4},
			},
			text: "[CLS] My name is Anthony [SEP]",
			want: []string{"[CLS]|3", " my |0", "name|1", " is anthony |-1", "[SEP]|4"},
		},
		{
			name:   "single word",
			tokens: []tok{{addedToken{content: "<mask>", singleWord: true, normalized: true}, 0}},
			text:   "<mask> My name <mask> A<mask> <mask>ony <mask>",
			want:   []string{"<mask>|0", " my name |-1", "<mask>|0", " a<mask> <mask>ony |-1", "<mask>|0"},
		},
		{
			name:   "single word, Unicode word characters",
			tokens: []tok{{addedToken{content: "<mask>", singleWord: true, normalized: true}, 0}},
			text:   "<mask>, <mask>- ◌̰<mask>",
			want:   []string{"<mask>|0", ", |-1", "<mask>|0", "- ◌̰<mask>|-1"},
		},
		{
			name:   "strip Unicode spaces",
			tokens: []tok{{addedToken{content: "<mask>", lstrip: true, rstrip: true, singleWord: true, normalized: true}, 0}},
			text:   "Hi <mask> there\t<mask>\t<mask>\u2000",
			want:   []string{"hi|-1", " <mask> |0", "there|-1", "\t<mask>\t|0", "<mask>\u2000|0"},
		},
		{
			name: "leftmost longest",
			tokens: []tok{
				{addedToken{content: "<a>", special: true}, 0},
				{addedToken{content: "<a><b>", special: true}, 1},
				{addedToken{content: "b>x", special: true}, 2},
			},
			text: "x<a><b>x<a>",
			want: []string{"x|-1", "<a><b>|1", "x|-1", "<a>|0"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := newAddedVocab()
			for _, tk := range tc.tokens {
				v.add(tk.a, tk.id)
			}
			v.build(lowercase{})
			if got := extract(v, lowercase{}, tc.text); !slices.Equal(got, tc.want) {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

// TestPrependSchemeAroundSpecialTokens: Metaspace "always" prepends ▁ to
// the text after a special token, "first" only to the start of the input
// (expected tokens from tokenizers.js on the fixture tokenizers).
func TestPrependSchemeAroundSpecialTokens(t *testing.T) {
	tests := []struct {
		dir, text string
		want      []string
	}{
		{"llama-legacy", "<s>Hello", []string{"<s>", "▁H", "el", "lo"}},
		{"llama-legacy", "Hi</s>there", []string{"▁H", "i", "</s>", "▁th", "er", "e"}},
		{"llama-legacy", " <s> x", []string{"▁", "<s>", "▁", "x"}},
		{"llama-metaspace", "<s>Hello", []string{"<s>", "H", "el", "lo"}},
		{"llama-metaspace", "Hi</s>there", []string{"▁H", "i", "</s>", "th", "er", "e"}},
		{"llama-metaspace", " <s> x", []string{"▁", "<s>", "▁", "x"}},
	}
	for _, tc := range tests {
		tok := mustLoad(t, filepath.Join(fixtures, "tokenizers", tc.dir))
		if got := tok.Encode(tc.text, false).Tokens; !slices.Equal(got, tc.want) {
			t.Errorf("%s %q: %q, want %q", tc.dir, tc.text, got, tc.want)
		}
	}
}

// TestConfigSpecialTokens: tokens named in tokenizer_config.json and
// special_tokens_map.json (lists or transformers 5's named maps) become
// special added tokens, cut out of raw text, even when tokenizer.json did
// not list them; special_tokens_map.json wins for the named roles.
func TestConfigSpecialTokens(t *testing.T) {
	dir := t.TempDir()
	tj := `{"model": {"type": "WordPiece", "unk_token": "[UNK]", "vocab": {"[UNK]": 0, "a": 1, "<x>": 2, "[P]": 3}},
		"pre_tokenizer": {"type": "WhitespaceSplit"}}`
	files := map[string]string{
		"tokenizer.json":          tj,
		"tokenizer_config.json":   `{"pad_token": "[UNK]", "extra_special_tokens": {"image_token": "<img>"}, "padding_side": "left"}`,
		"special_tokens_map.json": `{"pad_token": {"content": "[P]", "lstrip": false}, "additional_special_tokens": ["<x>"]}`,
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tok := mustLoad(t, dir)
	if id, ok := tok.PAD(); !ok || id != 3 {
		t.Errorf("PAD() = %d, %v; want [P] 3 from special_tokens_map.json", id, ok)
	}
	// <img> is new: it gets the next id after the vocabulary.
	if id, ok := tok.TokenID("<img>"); !ok || id != 4 || !tok.IsSpecial(4) {
		t.Errorf("<img> = %d, %v; want special 4", id, ok)
	}
	if got := tok.Encode("a<x>a<img>", false).IDs; !slices.Equal(got, []int32{1, 2, 1, 4}) {
		t.Errorf("ids %v, want [1 2 1 4]", got)
	}
	if got := tok.Decode([]int32{1, 2, 1, 4, 3}, true); got != "a a" {
		t.Errorf("decoded skipping special tokens %q, want %q", got, "a a")
	}
	if tok.PaddingSide() != "left" {
		t.Errorf("PaddingSide() = %q", tok.PaddingSide())
	}
}

// TestAddedTokensFromConfigFiles: added_tokens.json and
// added_tokens_decoder entries missing from tokenizer.json are added (as an
// older repo that lists <image> only in added_tokens.json needs).
func TestAddedTokensFromConfigFiles(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile(filepath.Join(fixtures, "tokenizers", "llama-legacy", "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	writeConfig(t, "llama-legacy", dir, map[string]any{"added_tokens_decoder": map[string]any{
		"1002": map[string]any{"content": "<video>", "special": true, "normalized": false},
		"1":    map[string]any{"content": "<s>", "special": true, "normalized": false},
	}})
	writeJSON(t, filepath.Join(dir, "added_tokens.json"), map[string]int{"<image>": 1001, "[PAD]": 1000})
	tok := mustLoad(t, dir)
	if got := tok.Encode("a<image>b<video>", false).Tokens; !slices.Equal(got, []string{"▁a", "<image>", "▁b", "<video>"}) {
		t.Errorf("tokens %q", got)
	}
	if id, _ := tok.TokenID("<image>"); id != 1001 || tok.IsSpecial(1001) {
		t.Errorf("<image> = %d (special %v), want the plain added token 1001", id, tok.IsSpecial(1001))
	}
	if !tok.IsSpecial(1002) {
		t.Error("<video> is not special")
	}
	if got := tok.VocabSize(); got != 1003 {
		t.Errorf("VocabSize() = %d, want 1003", got)
	}
}
