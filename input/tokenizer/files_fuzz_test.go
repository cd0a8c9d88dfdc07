package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// fuzzProbe exercises a tokenizer built from fuzzed files.
func fuzzProbe(t *Tokenizer) {
	for _, s := range []string{"", "Hello world", " a<s>b ", "数字 e\u0301 \x00"} {
		enc := t.Encode(s, true)
		_ = t.Decode(enc.IDs, false)
		_ = t.Decode(enc.IDs, true)
	}
	_, _ = t.EncodeBatch([]string{"a", "bb cc"}, BatchOptions{MaxLength: 3})
	_ = t.VocabSize()
}

// FuzzTokenizerJSON: a malformed tokenizer.json is an error, never a panic,
// and whatever loads can encode and decode.
func FuzzTokenizerJSON(f *testing.F) {
	// The fixtures' pipelines with tiny models: the fuzzer crawls on
	// 50 kB inputs.
	small := map[string]string{
		"llama-legacy": `{"type": "BPE", "fuse_unk": true, "byte_fallback": true, "vocab": {"<unk>": 0, "<s>": 1, "</s>": 2,
			"<0x41>": 3, "▁": 4, "a": 5, "b": 6, "▁a": 7, "ab": 8}, "merges": [["▁", "a"], "a b"]}`,
		"bert-uncased": `{"type": "WordPiece", "unk_token": "[UNK]", "vocab": {"[UNK]": 0, "[CLS]": 1, "[SEP]": 2, "a": 3, "##b": 4, "[PAD]": 5}}`,
		"t5":           `{"type": "Unigram", "unk_id": 2, "vocab": [["<pad>", 0], ["</s>", 0], ["<unk>", 0], ["▁", -2], ["a", -3], ["▁ab", -4]]}`,
	}
	for name, m := range small {
		data, err := os.ReadFile(filepath.Join(fixtures, "tokenizers", name, "tokenizer.json"))
		if err != nil {
			f.Fatal(err)
		}
		var tj map[string]json.RawMessage
		if err := json.Unmarshal(data, &tj); err != nil {
			f.Fatal(err)
		}
		tj["model"] = json.RawMessage(m)
		if name == "t5" {
			tj["added_tokens"] = json.RawMessage(`[{"id": 1, "content": "</s>", "special": true}]`)
			// The smallest valid charsmap: a one-unit trie, no rules.
			tj["normalizer"] = json.RawMessage(`{"type": "Precompiled", "precompiled_charsmap": "BAAAAAAAAAA="}`)
		}
		out, err := json.Marshal(tj)
		if err != nil {
			f.Fatal(err)
		}
		if _, err := parseTokenizerJSON(out); err != nil {
			f.Fatalf("%s seed does not load: %v", name, err)
		}
		f.Add(out)
	}
	f.Add([]byte(`{"model": {"type": "Unigram", "unk_id": -3, "vocab": [["a", 0], ["", 1]]}, "pre_tokenizer": {"type": "Metaspace", "replacement": ""}}`))
	f.Add([]byte(`{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"], "continuing_subword_prefix": "##"},
		"decoder": {"type": "Strip", "content": " ", "start": -1, "stop": 9}, "post_processor": {"type": "BertProcessing", "sep": ["x", 9], "cls": ["y", -1]}}`))
	f.Add([]byte(`{"model": {"type": "WordPiece", "vocab": {"a": 0}, "max_input_chars_per_word": -1},
		"added_tokens": [{"id": 7, "content": "a", "lstrip": true, "rstrip": true, "single_word": true, "normalized": true, "special": true}],
		"normalizer": {"type": "Replace", "pattern": {"Regex": "a*"}, "content": "aa"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tok, err := parseTokenizerJSON(data)
		if err != nil {
			return
		}
		tok.applyConfig(&hfConfig{raw: nil, tokens: map[string]*string{}})
		tok.added.build(tok.normalizer)
		fuzzProbe(tok)
	})
}

// FuzzSentencePieceModel: a malformed tokenizer.model is an error, never a
// panic.
func FuzzSentencePieceModel(f *testing.F) {
	pieces := []spPiece{{piece: "<unk>", typ: spUnknown}, {piece: "<s>", typ: spControl}, {piece: "a", score: -1, typ: spNormal},
		{piece: "b", score: -1, typ: spNormal}, {piece: "ab", score: -2, typ: spNormal}, {piece: "<0x61>", typ: spByte}}
	f.Add(encodeModelProto(pieces, spBPE, true, nil))
	f.Add(encodeModelProto(pieces, spUnigram, false, []byte{8, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 'x', 0}))
	f.Fuzz(func(t *testing.T, data []byte) {
		tok, err := fromSentencePiece(data, &hfConfig{raw: nil, tokens: map[string]*string{}})
		if err != nil {
			return
		}
		tok.applyConfig(&hfConfig{raw: nil, tokens: map[string]*string{}})
		tok.added.build(tok.normalizer)
		fuzzProbe(tok)
	})
}
