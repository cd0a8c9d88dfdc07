package tokenizer

import (
	"fmt"
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
