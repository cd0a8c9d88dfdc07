package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// fixtures is ../shared/fixtures relative to the repository root.
const fixtures = "../../../shared/fixtures"

// fixtureCase is one entry of tokenizers/cases.json: what transformers 5.17
// produced for one text.
type fixtureCase struct {
	Text               string   `json:"text"`
	IDs                []int32  `json:"ids"`
	IDsNoSpecial       []int32  `json:"ids_no_special"`
	Tokens             []string `json:"tokens"`
	Decoded            string   `json:"decoded"`
	DecodedSkipSpecial string   `json:"decoded_skip_special"`
}

func loadCases(t testing.TB) map[string][]fixtureCase {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fixtures, "tokenizers", "cases.json"))
	if err != nil {
		t.Fatalf("reading fixtures: %v", err)
	}
	var raw map[string]struct {
		Cases []fixtureCase `json:"cases"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	out := map[string][]fixtureCase{}
	for k, v := range raw {
		out[k] = v.Cases
	}
	return out
}

func mustLoad(t testing.TB, dir string) *Tokenizer {
	t.Helper()
	tok, err := Load(dir)
	if err != nil {
		t.Fatalf("Load(%s): %v", dir, err)
	}
	return tok
}

// checkCases compares tok against every case and returns how many passed.
func checkCases(t *testing.T, tok *Tokenizer, cases []fixtureCase) int {
	t.Helper()
	pass := 0
	for i, c := range cases {
		ok := true
		enc := tok.Encode(c.Text, true)
		if !slices.Equal(enc.IDs, c.IDs) {
			t.Errorf("case %d %q: ids\n got %v\nwant %v", i, c.Text, enc.IDs, c.IDs)
			ok = false
		}
		if !slices.Equal(enc.Tokens, c.Tokens) {
			t.Errorf("case %d %q: tokens\n got %q\nwant %q", i, c.Text, enc.Tokens, c.Tokens)
			ok = false
		}
		if got := tok.Encode(c.Text, false).IDs; !slices.Equal(got, c.IDsNoSpecial) {
			t.Errorf("case %d %q: ids without special tokens\n got %v\nwant %v", i, c.Text, got, c.IDsNoSpecial)
			ok = false
		}
		if got := tok.Decode(c.IDs, false); got != c.Decoded {
			t.Errorf("case %d %q: decoded %q, want %q", i, c.Text, got, c.Decoded)
			ok = false
		}
		if got := tok.Decode(c.IDs, true); got != c.DecodedSkipSpecial {
			t.Errorf("case %d %q: decoded skipping special %q, want %q", i, c.Text, got, c.DecodedSkipSpecial)
			ok = false
		}
		if ok {
			pass++
		}
	}
	return pass
}

// TestFixtureCases checks every case of cases.json: ids with and without
// special tokens, token strings, and both decodings.
func TestFixtureCases(t *testing.T) {
	all := loadCases(t)
	for _, name := range []string{"llama-legacy", "llama-metaspace", "bert-uncased", "t5"} {
		t.Run(name, func(t *testing.T) {
			cases := all[name]
			if len(cases) == 0 {
				t.Fatalf("no cases for %s", name)
			}
			tok := mustLoad(t, filepath.Join(fixtures, "tokenizers", name))
			pass := checkCases(t, tok, cases)
			t.Logf("%s: %d/%d cases match transformers", name, pass, len(cases))
		})
	}
}
