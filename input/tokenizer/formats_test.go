package tokenizer

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The fixtures only have tokenizer.json files; these tests build the other
// formats a Hub repo may carry (vocab.txt, SentencePiece's ModelProto) from
// the same data and check they tokenize exactly like the tokenizer.json path
// on every fixture case.

// readTokenizerJSON returns a fixture's tokenizer.json as generic JSON.
func readTokenizerJSON(t *testing.T, name string) map[string]json.RawMessage {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fixtures, "tokenizers", name, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// writeConfig copies a fixture's tokenizer_config.json into dir with the
// given keys changed.
func writeConfig(t *testing.T, name, dir string, set map[string]any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fixtures, "tokenizers", name, "tokenizer_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	for k, v := range set {
		cfg[k] = v
	}
	writeJSON(t, filepath.Join(dir, "tokenizer_config.json"), cfg)
}

func writeJSON(t *testing.T, name string, v any) {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestVocabTxt writes bert-uncased's vocabulary as vocab.txt, with [DEC] in
// added_tokens.json as the real Q-Former tokenizer folder has it.
func TestVocabTxt(t *testing.T) {
	var model struct {
		Vocab map[string]int32 `json:"vocab"`
	}
	if err := json.Unmarshal(readTokenizerJSON(t, "bert-uncased")["model"], &model); err != nil {
		t.Fatal(err)
	}
	lines := make([]string, len(model.Vocab))
	for tok, id := range model.Vocab {
		lines[id] = tok
	}
	dir := t.TempDir()
	// Windows line ends, as some repos have: Python's universal newlines drop the CR.
	if err := os.WriteFile(filepath.Join(dir, "vocab.txt"), []byte(strings.Join(lines, "\r\n")+"\r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	writeConfig(t, "bert-uncased", dir, nil)
	writeJSON(t, filepath.Join(dir, "added_tokens.json"), map[string]int{"[DEC]": 2000})
	tok := mustLoad(t, dir)
	cases := loadCases(t)["bert-uncased"]
	pass := checkCases(t, tok, cases)
	t.Logf("vocab.txt: %d/%d cases match transformers", pass, len(cases))
	if id, ok := tok.BOS(); !ok || id != 2000 || !tok.IsSpecial(2000) {
		t.Errorf("BOS() = %d, %v; want the special [DEC] 2000", id, ok)
	}
}

// protoWriter writes protobuf wire format for the test models.
type protoWriter struct{ b []byte }

func (w *protoWriter) key(field, wire int) { w.b = binary.AppendUvarint(w.b, uint64(field<<3|wire)) }
func (w *protoWriter) varint(field int, v uint64) {
	w.key(field, 0)
	w.b = binary.AppendUvarint(w.b, v)
}
func (w *protoWriter) bytes(field int, p []byte) {
	w.key(field, 2)
	w.b = binary.AppendUvarint(w.b, uint64(len(p)))
	w.b = append(w.b, p...)
}
func (w *protoWriter) float(field int, f float32) {
	w.key(field, 5)
	w.b = binary.LittleEndian.AppendUint32(w.b, math.Float32bits(f))
}

// encodeModelProto writes a SentencePiece ModelProto; unknown fields are
// sprinkled in to check the reader skips them.
func encodeModelProto(pieces []spPiece, modelType int, byteFallback bool, charsmap []byte) []byte {
	var m protoWriter
	for _, p := range pieces {
		var pw protoWriter
		pw.bytes(1, []byte(p.piece))
		pw.float(2, p.score)
		if p.typ != spNormal {
			pw.varint(3, uint64(p.typ))
		}
		m.bytes(1, pw.b)
	}
	var tr protoWriter
	tr.bytes(1, []byte("corpus.txt")) // input: ignored
	tr.varint(3, uint64(modelType))
	tr.varint(4, 1000) // vocab_size: ignored
	if byteFallback {
		tr.varint(35, 1)
	}
	m.bytes(2, tr.b)
	var ns protoWriter
	ns.bytes(1, []byte("nmt_nfkc"))
	if charsmap != nil {
		ns.bytes(2, charsmap)
	}
	ns.varint(3, 1) // add_dummy_prefix
	m.bytes(3, ns.b)
	return m.b
}

// TestSentencePieceUnigram writes t5's pieces, scores and charsmap as
// spiece.model and checks parity with tokenizer.json on every case.
func TestSentencePieceUnigram(t *testing.T) {
	tj := readTokenizerJSON(t, "t5")
	var model struct {
		Vocab [][2]json.RawMessage `json:"vocab"`
	}
	if err := json.Unmarshal(tj["model"], &model); err != nil {
		t.Fatal(err)
	}
	var norm struct {
		Charsmap string `json:"precompiled_charsmap"`
	}
	if err := json.Unmarshal(tj["normalizer"], &norm); err != nil {
		t.Fatal(err)
	}
	charsmap, err := base64.StdEncoding.DecodeString(norm.Charsmap)
	if err != nil {
		t.Fatal(err)
	}
	var pieces []spPiece
	for _, v := range model.Vocab {
		var p spPiece
		var score float64
		if json.Unmarshal(v[0], &p.piece) != nil || json.Unmarshal(v[1], &score) != nil {
			t.Fatal("malformed t5 vocab")
		}
		if strings.HasPrefix(p.piece, "<extra_id_") {
			break // T5Tokenizer adds these itself (extra_ids: 100)
		}
		p.score, p.typ = float32(score), spNormal
		switch p.piece {
		case "<pad>", "</s>":
			p.typ = spControl
		case "<unk>":
			p.typ = spUnknown
		}
		pieces = append(pieces, p)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "spiece.model"), encodeModelProto(pieces, spUnigram, false, charsmap), 0o644); err != nil {
		t.Fatal(err)
	}
	writeConfig(t, "t5", dir, nil)
	if out := os.Getenv("TOKENIZER_ORACLE_DIR"); out != "" {
		// testdata/oracle/mkoracle.py feeds this model to sentencepiece.
		if err := os.WriteFile(filepath.Join(out, "spiece.model"), encodeModelProto(pieces, spUnigram, false, charsmap), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tok := mustLoad(t, dir)
	cases := loadCases(t)["t5"]
	pass := checkCases(t, tok, cases)
	t.Logf("spiece.model (Unigram): %d/%d cases match transformers", pass, len(cases))
	if id, ok := tok.TokenID("<extra_id_0>"); !ok || id != 1099 || !tok.IsSpecial(id) {
		t.Errorf("<extra_id_0> = %d, %v; want special 1099", id, ok)
	}
	if got := tok.VocabSize(); got != 1100 {
		t.Errorf("VocabSize() = %d, want 1100", got)
	}
}

// TestSentencePieceBPE writes the LLaMA fixtures' vocabulary as a BPE
// tokenizer.model. SentencePiece BPE stores scores, not merges: a piece made
// by merge number k gets score -k, and the merges transformers derives from
// the scores must tokenize every case as tokenizer.json's merges do. The
// legacy flag picks the Metaspace prepend scheme.
func TestSentencePieceBPE(t *testing.T) {
	for _, tc := range []struct {
		name   string
		legacy bool
	}{{"llama-legacy", true}, {"llama-metaspace", false}} {
		t.Run(tc.name, func(t *testing.T) {
			tj := readTokenizerJSON(t, tc.name)
			var model struct {
				Vocab  map[string]int32 `json:"vocab"`
				Merges [][2]string      `json:"merges"`
			}
			if err := json.Unmarshal(tj["model"], &model); err != nil {
				t.Fatal(err)
			}
			rank := map[string]int{}
			for k, m := range model.Merges {
				if _, ok := rank[m[0]+m[1]]; !ok {
					rank[m[0]+m[1]] = k
				}
			}
			pieces := make([]spPiece, len(model.Vocab))
			for p, id := range model.Vocab {
				sp := spPiece{piece: p, typ: spNormal, score: -1e6}
				if k, ok := rank[p]; ok {
					sp.score = -float32(k)
				}
				switch {
				case p == "<unk>":
					sp.typ = spUnknown
				case p == "<s>" || p == "</s>":
					sp.typ = spControl
				case len(p) == 6 && strings.HasPrefix(p, "<0x"):
					sp.typ = spByte
				}
				pieces[id] = sp
			}
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "tokenizer.model"), encodeModelProto(pieces, spBPE, true, nil), 0o644); err != nil {
				t.Fatal(err)
			}
			writeConfig(t, tc.name, dir, map[string]any{"legacy": tc.legacy})

			tok := mustLoad(t, dir)
			cases := loadCases(t)[tc.name]
			pass := checkCases(t, tok, cases)
			t.Logf("tokenizer.model (BPE): %d/%d cases match transformers", pass, len(cases))
		})
	}
}

// TestSpMergesOrder checks the derived merge order on a hand-made
// vocabulary: score first, then longer left part, then longer right part,
// then vocabulary order.
func TestSpMergesOrder(t *testing.T) {
	pieces := []spPiece{{piece: "a"}, {piece: "b"}, {piece: "c"}, {piece: "ab", score: -1},
		{piece: "bc", score: -2}, {piece: "abc", score: -3}, {piece: "ca", score: -1}}
	vocab := map[string]int32{}
	for i, p := range pieces {
		vocab[p.piece] = int32(i)
	}
	got := spMerges(pieces, vocab)
	want := [][2]string{{"a", "b"}, {"c", "a"}, {"b", "c"}, {"ab", "c"}, {"a", "bc"}}
	if len(got) != len(want) {
		t.Fatalf("merges %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("merges %q, want %q", got, want)
		}
	}
}

// TestMalformedModelFiles checks that broken files give errors, not panics.
func TestMalformedModelFiles(t *testing.T) {
	tests := []struct {
		file string
		data string
	}{
		{"tokenizer.json", "{"},
		{"tokenizer.json", `{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]}}`},
		{"tokenizer.json", `{"model": {"type": "Unigram", "vocab": [["a", 0]], "unk_id": 5}}`},
		{"tokenizer.json", `{"model": {"type": "Mystery"}}`},
		{"tokenizer.json", `{"model": {"type": "WordPiece", "vocab": {}}, "normalizer": {"type": "Precompiled", "precompiled_charsmap": "AAAA"}}`},
		{"tokenizer.json", `{"model": {"type": "WordPiece", "vocab": {}}, "decoder": {"type": "Nope"}}`},
		{"tokenizer.model", "\x0a\xff\xff\xff\xff\x0f"},
		{"tokenizer.model", ""},
		{"spiece.model", "\x12\x02\x18\x03\x0a\x03\x0a\x01a"},
		{"vocab.txt", ""},
	}
	for _, tc := range tests {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, tc.file), []byte(tc.data), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(dir); err == nil {
			t.Errorf("%s %q: Load succeeded", tc.file, tc.data)
		}
	}
}
