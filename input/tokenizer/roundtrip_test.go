package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

// legacyNormalizerDir writes the llama-legacy tokenizer in the form
// transformers 4 wrote for LLaMA/Vicuna (and the real Vicuna checkpoints
// ship): no pre-tokenizer, a Prepend("▁") + Replace(" ", "▁") normalizer.
func legacyNormalizerDir(t testing.TB) string {
	t.Helper()
	src := filepath.Join(fixtures, "tokenizers", "llama-legacy")
	data, err := os.ReadFile(filepath.Join(src, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tj map[string]json.RawMessage
	if err := json.Unmarshal(data, &tj); err != nil {
		t.Fatal(err)
	}
	tj["pre_tokenizer"] = json.RawMessage("null")
	tj["normalizer"] = json.RawMessage(`{"type": "Sequence", "normalizers": [
		{"type": "Prepend", "prepend": "▁"},
		{"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]}`)
	dir := t.TempDir()
	out, err := json.Marshal(tj)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), out, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile(filepath.Join(src, "tokenizer_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestLegacyNormalizerForm checks the Prepend+Replace form against the
// Metaspace form. The two differ only where a segment starts with a space:
// Prepend always adds "▁" while Metaspace adds it only when the text does not
// already start with one, so legacy(s) == metaspace(" " + s) for any s
// without added tokens, and legacy(s) == the fixture when s does not start
// with a space.
func TestLegacyNormalizerForm(t *testing.T) {
	legacy := mustLoad(t, legacyNormalizerDir(t))
	meta := mustLoad(t, filepath.Join(fixtures, "tokenizers", "llama-legacy"))
	compared := 0
	for _, c := range loadCases(t)["llama-legacy"] {
		if strings.ContainsAny(c.Text, "<[") || c.Text == "" {
			continue // added tokens: segments after them start with a space
		}
		got := legacy.Encode(c.Text, true)
		if want := meta.Encode(" "+c.Text, true); !slices.Equal(got.IDs, want.IDs) {
			t.Errorf("%q: legacy form %v, metaspace form of \" \"+text %v", c.Text, got.IDs, want.IDs)
		}
		if !strings.HasPrefix(c.Text, " ") && !slices.Equal(got.IDs, c.IDs) {
			t.Errorf("%q: legacy form %v, want %v", c.Text, got.IDs, c.IDs)
		}
		if d := legacy.Decode(got.IDs, true); d != c.Text {
			t.Errorf("%q: legacy form decodes to %q", c.Text, d)
		}
		compared++
	}
	if compared < 25 {
		t.Fatalf("only %d cases compared", compared)
	}
	// A leading space survives in the legacy form (Prepend adds "▁▁").
	if got := legacy.Encode(" Hello", false).Tokens; !slices.Equal(got[:1], []string{"▁▁"}) {
		t.Errorf("\" Hello\": tokens %q, want them to start with \"▁▁\"", got)
	}
}

// roundTripTokenizers are the kinds whose decode(encode(s)) is predictable,
// with the property each satisfies for text free of "▁" (decoded as a
// space) and of added-token contents:
//   - Metaspace prepend_scheme "always"/"first" (split=false): the ▁ it
//     prepends and Strip's one leading space cancel, but a text that already
//     starts with a space gets no ▁ and loses that space to Strip:
//     decode(encode(s)) == strings.TrimPrefix(s, " ").
//   - the legacy Prepend+Replace normalizer always prepends, so it is
//     lossless: decode(encode(s)) == s.
//
// Byte fallback covers every byte, so no character is lost to <unk>; the
// input must be valid UTF-8 (invalid bytes become U+FFFD, as in Rust).
func roundTripWant(kind, s string) string {
	if kind == "legacy-normalizer" {
		return s
	}
	return strings.TrimPrefix(s, " ")
}

func fuzzSeeds(f *testing.F, name string) {
	for _, c := range loadCases(f)[name] {
		f.Add(c.Text)
	}
	f.Add(strings.Repeat("a", 300))
	f.Add("\x00\xff\xfe")
	f.Add("e\u0301\u0301 ﬁ\u0301 \r\n \u3000")
}

// FuzzBPERoundTrip: no panics, and the round-trip property above, for the
// three forms of the LLaMA tokenizer.
func FuzzBPERoundTrip(f *testing.F) {
	fuzzSeeds(f, "llama-legacy")
	toks := map[string]*Tokenizer{
		"metaspace-always":  mustLoad(f, filepath.Join(fixtures, "tokenizers", "llama-legacy")),
		"metaspace-first":   mustLoad(f, filepath.Join(fixtures, "tokenizers", "llama-metaspace")),
		"legacy-normalizer": mustLoad(f, legacyNormalizerDir(f)),
	}
	added := []string{"<unk>", "<s>", "</s>", "[PAD]"}
	f.Fuzz(func(t *testing.T, s string) {
		for kind, tok := range toks {
			enc := tok.Encode(s, true)
			checkEncoding(t, tok, enc)
			if !utf8.ValidString(s) || strings.Contains(s, "▁") || slices.ContainsFunc(added, func(a string) bool { return strings.Contains(s, a) }) {
				continue
			}
			if got, want := tok.Decode(tok.Encode(s, false).IDs, false), roundTripWant(kind, s); got != want {
				t.Errorf("%s: decode(encode(%q)) = %q, want %q", kind, s, got, want)
			}
		}
	})
}

// FuzzWordPiece: no panics and consistent encodings for BERT's tokenizer,
// which is lossy by design (lower-casing, accent stripping, [UNK]).
func FuzzWordPiece(f *testing.F) {
	fuzzSeeds(f, "bert-uncased")
	tok := mustLoad(f, filepath.Join(fixtures, "tokenizers", "bert-uncased"))
	f.Fuzz(func(t *testing.T, s string) {
		enc := tok.Encode(s, true)
		checkEncoding(t, tok, enc)
		_ = tok.Decode(enc.IDs, true)
	})
}

// FuzzUnigram: no panics and consistent encodings for T5's tokenizer
// (NFKC and whitespace folding make it lossy).
func FuzzUnigram(f *testing.F) {
	fuzzSeeds(f, "t5")
	tok := mustLoad(f, filepath.Join(fixtures, "tokenizers", "t5"))
	f.Fuzz(func(t *testing.T, s string) {
		enc := tok.Encode(s, true)
		checkEncoding(t, tok, enc)
		_ = tok.Decode(enc.IDs, true)
	})
}

// FuzzDecode: any id sequence decodes without panicking.
func FuzzDecode(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3}, true)
	f.Add([]byte{0xff, 0xff, 0xff, 0x7f, 13, 0, 0, 0}, false)
	toks := []*Tokenizer{
		mustLoad(f, filepath.Join(fixtures, "tokenizers", "llama-legacy")),
		mustLoad(f, filepath.Join(fixtures, "tokenizers", "bert-uncased")),
		mustLoad(f, filepath.Join(fixtures, "tokenizers", "t5")),
	}
	f.Fuzz(func(t *testing.T, raw []byte, skip bool) {
		ids := make([]int32, len(raw)/2)
		for i := range ids {
			ids[i] = int32(int16(uint16(raw[2*i])|uint16(raw[2*i+1])<<8)) % 1200
		}
		for _, tok := range toks {
			_ = tok.Decode(ids, skip)
		}
	})
}

// checkEncoding asserts the invariants of every encoding: one token string
// per id, each id known and spelled as the vocabulary spells it.
func checkEncoding(t *testing.T, tok *Tokenizer, enc Encoding) {
	t.Helper()
	if len(enc.IDs) != len(enc.Tokens) {
		t.Fatalf("%d ids but %d tokens", len(enc.IDs), len(enc.Tokens))
	}
	for i, id := range enc.IDs {
		s, ok := tok.IDToToken(id)
		if !ok || s != enc.Tokens[i] {
			t.Fatalf("id %d: token %q (known %v), encoding says %q", id, s, ok, enc.Tokens[i])
		}
	}
}

// TestConcurrentEncode runs encodes from many goroutines (the word caches
// are shared); run with -race to check the locking.
func TestConcurrentEncode(t *testing.T) {
	tok := mustLoad(t, filepath.Join(fixtures, "tokenizers", "llama-legacy"))
	cases := loadCases(t)["llama-legacy"]
	var wg sync.WaitGroup
	errs := make(chan string, len(cases)*4)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range cases {
				c := cases[(i+g)%len(cases)]
				if got := tok.Encode(c.Text, true).IDs; !slices.Equal(got, c.IDs) {
					errs <- c.Text
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for text := range errs {
		t.Errorf("%q encoded differently under concurrency", text)
	}
}

// BenchmarkEncodeLong encodes a long text made of one repeated word and of
// many distinct words, to show the merge step is not quadratic.
func BenchmarkEncodeLong(b *testing.B) {
	tok := mustLoad(b, filepath.Join(fixtures, "tokenizers", "llama-legacy"))
	for _, bc := range []struct {
		name, text string
	}{
		{"one-long-word", strings.Repeat("abcdefgh", 16000)},
		{"many-words", strings.Repeat("What is unusual about this image? ", 1000)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.text)))
			for b.Loop() {
				tok.Encode(bc.text, true)
			}
		})
	}
}

// TestRandomOracle compares 1,200 random texts with independent
// implementations (testdata/oracle/README.md says which and how).
func TestRandomOracle(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "random_oracle.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	toks := map[string]*Tokenizer{}
	counts := map[string][2]int{}
	for i, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var c struct {
			Tokenizer string  `json:"tokenizer"`
			Text      string  `json:"text"`
			IDs       []int32 `json:"ids"`
		}
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		tok := toks[c.Tokenizer]
		if tok == nil {
			tok = mustLoad(t, filepath.Join(fixtures, "tokenizers", c.Tokenizer))
			toks[c.Tokenizer] = tok
		}
		n := counts[c.Tokenizer]
		n[1]++
		got := tok.Encode(c.Text, true).IDs
		if c.Tokenizer == "t5" {
			got = tok.Encode(c.Text, false).IDs // sentencepiece adds no </s>
		}
		if slices.Equal(got, c.IDs) || (len(got) == 0 && len(c.IDs) == 0) {
			n[0]++
		} else {
			t.Errorf("%s %q: ids %v, oracle %v", c.Tokenizer, c.Text, got, c.IDs)
		}
		counts[c.Tokenizer] = n
	}
	for name, n := range counts {
		t.Logf("%s: %d/%d random texts match the oracle", name, n[0], n[1])
	}
	if len(counts) != 4 {
		t.Errorf("oracle covers %d tokenizers, want 4", len(counts))
	}
}

// TestPrecompiledGraphemeQuirk pins tokenizers' Precompiled behaviour where
// it departs from sentencepiece: a grapheme cluster under 6 bytes whose
// first character has a rule is replaced whole by that rule, so trailing
// combining marks vanish (sentencepiece keeps them, as <unk> here).
func TestPrecompiledGraphemeQuirk(t *testing.T) {
	tok := mustLoad(t, filepath.Join(fixtures, "tokenizers", "t5"))
	tests := []struct{ in, want string }{
		{"ﬀ\u0362d", "ffd"},                 // ligature + combining mark: one 5-byte cluster
		{"Ⅻ\u0301", "XII"},                  // roman numeral + acute
		{"①\u0301@", "1@"},                  // circled digit + acute
		{"e\u0301", "\u00e9"},               // the whole cluster has a rule: composed
		{"ﬁ\u0301\u0301", "fi\u0301\u0301"}, // 7 bytes: char by char, marks kept
	}
	for _, tc := range tests {
		if got := tok.normalizer.normalize(tc.in); got != tc.want {
			t.Errorf("normalize(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestDecodeStream: the text a stream returns step by step adds up to
// Decode of all ids, for every fixture case of every tokenizer, with and
// without special tokens, and no step ends inside a character.
func TestDecodeStream(t *testing.T) {
	for name, cases := range loadCases(t) {
		tok := mustLoad(t, filepath.Join(fixtures, "tokenizers", name))
		for _, c := range cases {
			for _, skip := range []bool{false, true} {
				s := tok.NewDecodeStream(skip)
				var got strings.Builder
				for _, id := range c.IDs {
					piece, err := s.Step(id)
					if err != nil {
						t.Fatalf("%s %q: %v", name, c.Text, err)
					}
					if strings.HasSuffix(piece, "\uFFFD") {
						t.Errorf("%s %q: step returned a broken character %q", name, c.Text, piece)
					}
					got.WriteString(piece)
				}
				want := c.Decoded
				if skip {
					want = c.DecodedSkipSpecial
				}
				if got.String() != want {
					t.Errorf("%s %q (skip %v): stream %q, want %q", name, c.Text, skip, got.String(), want)
				}
			}
		}
	}
}
