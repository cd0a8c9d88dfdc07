package tokenizer

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// golden is the part of a tiny model's golden.json about token ids.
type golden struct {
	Cases []struct {
		Prompt               string  `json:"prompt"`
		InputIDs             []int32 `json:"input_ids"`
		QformerInputIDs      []int32 `json:"qformer_input_ids"`
		QformerAttentionMask []int32 `json:"qformer_attention_mask"`
	} `json:"cases"`
	Batch struct {
		Prompts              []string  `json:"prompts"`
		PaddingSide          string    `json:"padding_side"`
		InputIDs             [][]int32 `json:"input_ids"`
		AttentionMask        [][]int32 `json:"attention_mask"`
		QformerInputIDs      [][]int32 `json:"qformer_input_ids"`
		QformerAttentionMask [][]int32 `json:"qformer_attention_mask"`
	} `json:"batch"`
}

// numQueryTokens is processor_config.json's num_query_tokens: the processor
// puts that many <image> ids in front of the language model's ids.
func numQueryTokens(t *testing.T, dir string) int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "processor_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var pc struct {
		NumQueryTokens int `json:"num_query_tokens"`
	}
	if err := json.Unmarshal(data, &pc); err != nil {
		t.Fatal(err)
	}
	return pc.NumQueryTokens
}

// TestGoldenProcessorIDs checks the tokenizer part of the processor's
// outputs in both tiny models' golden.json: the Q-Former ids and masks
// (right-padded with [PAD] = 0 in the batch) and the language model's ids
// after the num_query_tokens image tokens (left-padded in the batch).
func TestGoldenProcessorIDs(t *testing.T) {
	for _, name := range []string{"tiny-instructblip-vicuna", "tiny-instructblip-flan-t5"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(fixtures, "models", name)
			data, err := os.ReadFile(filepath.Join(dir, "golden.json"))
			if err != nil {
				t.Fatal(err)
			}
			var g golden
			if err := json.Unmarshal(data, &g); err != nil {
				t.Fatal(err)
			}
			nq := numQueryTokens(t, dir)
			lm := mustLoad(t, dir)
			qf := mustLoad(t, filepath.Join(dir, "qformer_tokenizer"))
			imageID, ok := lm.TokenID("<image>")
			if name == "tiny-instructblip-vicuna" && !ok {
				t.Fatal("<image> is not a token of the Vicuna tokenizer")
			}
			for i, c := range g.Cases {
				if got := qf.Encode(c.Prompt, true).IDs; !slices.Equal(got, c.QformerInputIDs) {
					t.Errorf("case %d: qformer ids %v, want %v", i, got, c.QformerInputIDs)
				}
				if len(c.InputIDs) < nq {
					t.Fatalf("case %d: golden input_ids shorter than %d image tokens", i, nq)
				}
				if ok && c.InputIDs[0] != imageID {
					t.Errorf("case %d: golden input_ids start with %d, want the <image> id %d", i, c.InputIDs[0], imageID)
				}
				if got := lm.Encode(c.Prompt, true).IDs; !slices.Equal(got, c.InputIDs[nq:]) {
					t.Errorf("case %d: language-model ids %v, want %v", i, got, c.InputIDs[nq:])
				}
			}

			b := g.Batch
			ids, mask := qf.EncodeBatch(b.Prompts, BatchOptions{})
			if !slices.EqualFunc(ids, b.QformerInputIDs, slices.Equal) || !slices.EqualFunc(mask, b.QformerAttentionMask, slices.Equal) {
				t.Errorf("qformer batch\n got %v %v\nwant %v %v", ids, mask, b.QformerInputIDs, b.QformerAttentionMask)
			}
			ids, mask = lm.EncodeBatch(b.Prompts, BatchOptions{PadSide: b.PaddingSide})
			for i := range b.InputIDs {
				wantIDs, wantMask := b.InputIDs[i][nq:], b.AttentionMask[i][nq:]
				if i >= len(ids) || !slices.Equal(ids[i], wantIDs) || !slices.Equal(mask[i], wantMask) {
					t.Errorf("language-model batch row %d\n got %v %v\nwant %v %v", i, ids, mask, wantIDs, wantMask)
				}
			}
		})
	}
}

// TestEncodeBatchTruncation checks truncation on both sides keeps the
// template's special tokens, as transformers' truncation=True does.
func TestEncodeBatchTruncation(t *testing.T) {
	bert := mustLoad(t, filepath.Join(fixtures, "tokenizers", "bert-uncased"))
	llama := mustLoad(t, filepath.Join(fixtures, "tokenizers", "llama-legacy"))
	text := "What is unusual about this image?"
	tests := []struct {
		name string
		tok  *Tokenizer
		side string
		max  int
		want []int32
	}{
		// [CLS] what is un ##us ##ual about this image ? [SEP]
		{"bert right", bert, "right", 5, []int32{2, 1639, 309, 433, 3}},
		{"bert left", bert, "left", 5, []int32{2, 562, 358, 35, 3}},
		{"bert no room", bert, "right", 1, []int32{2, 3}},
		// <s> ▁W h at ▁is … ▁image ?
		{"llama left", llama, "left", 4, []int32{1, 757, 619, 928}},
		{"llama right", llama, "right", 4, []int32{1, 705, 863, 265}},
		{"longer than text", llama, "right", 100, llama.Encode(text, true).IDs},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.tok.truncationSide = tc.side
			ids, mask := tc.tok.EncodeBatch([]string{text}, BatchOptions{MaxLength: tc.max})
			if !slices.Equal(ids[0], tc.want) {
				t.Errorf("ids %v, want %v", ids[0], tc.want)
			}
			for _, m := range mask[0] {
				if m != 1 {
					t.Errorf("mask %v: a single row has no padding", mask[0])
				}
			}
		})
	}
}

// TestConfigAccessors checks what tokenizer_config.json says is exposed:
// special-token ids, sides, max length, vocabulary size and specialness.
func TestConfigAccessors(t *testing.T) {
	type idOK struct {
		id int32
		ok bool
	}
	tests := []struct {
		dir                 string
		bos, eos, pad, unk  idOK
		padSide, truncSide  string
		vocab               int
		special, notSpecial []int32
	}{
		{dir: "tokenizers/llama-legacy", bos: idOK{1, true}, eos: idOK{2, true}, pad: idOK{1000, true}, unk: idOK{0, true},
			padSide: "right", truncSide: "left", vocab: 1001, special: []int32{0, 1, 2, 1000}, notSpecial: []int32{3, 500}},
		{dir: "models/tiny-instructblip-vicuna", bos: idOK{2, true}, eos: idOK{2, true}, pad: idOK{1000, true}, unk: idOK{2, true},
			padSide: "right", truncSide: "left", vocab: 1002, special: []int32{1, 2, 1000, 1001}, notSpecial: []int32{0, 705}},
		{dir: "tokenizers/bert-uncased", bos: idOK{2000, true}, eos: idOK{0, false}, pad: idOK{0, true}, unk: idOK{1, true},
			padSide: "right", truncSide: "right", vocab: 2001, special: []int32{0, 1, 2, 3, 4, 2000}, notSpecial: []int32{5, 1639}},
		{dir: "tokenizers/t5", bos: idOK{0, false}, eos: idOK{1, true}, pad: idOK{0, true}, unk: idOK{2, true},
			padSide: "right", truncSide: "right", vocab: 1100, special: []int32{0, 1, 2, 1000, 1099}, notSpecial: []int32{3, 999}},
	}
	for _, tc := range tests {
		t.Run(tc.dir, func(t *testing.T) {
			tok := mustLoad(t, filepath.Join(fixtures, tc.dir))
			for _, c := range []struct {
				name string
				f    func() (int32, bool)
				want idOK
			}{{"BOS", tok.BOS, tc.bos}, {"EOS", tok.EOS, tc.eos}, {"PAD", tok.PAD, tc.pad}, {"UNK", tok.UNK, tc.unk}} {
				id, ok := c.f()
				if ok != c.want.ok || (ok && id != c.want.id) {
					t.Errorf("%s() = %d, %v; want %d, %v", c.name, id, ok, c.want.id, c.want.ok)
				}
			}
			if got := tok.PaddingSide(); got != tc.padSide {
				t.Errorf("PaddingSide() = %q, want %q", got, tc.padSide)
			}
			if got := tok.TruncationSide(); got != tc.truncSide {
				t.Errorf("TruncationSide() = %q, want %q", got, tc.truncSide)
			}
			if got := tok.ModelMaxLength(); got != math.MaxInt32 {
				t.Errorf("ModelMaxLength() = %d, want the clamp %d", got, math.MaxInt32)
			}
			if got := tok.VocabSize(); got != tc.vocab {
				t.Errorf("VocabSize() = %d, want %d", got, tc.vocab)
			}
			for _, id := range tc.special {
				if !tok.IsSpecial(id) {
					t.Errorf("IsSpecial(%d) = false", id)
				}
			}
			for _, id := range tc.notSpecial {
				if tok.IsSpecial(id) {
					t.Errorf("IsSpecial(%d) = true", id)
				}
			}
		})
	}
}

// TestLlamaTemplateFromConfig: for LlamaTokenizer, add_bos_token and
// add_eos_token in tokenizer_config.json decide the special tokens, as
// transformers' update_post_processor does.
func TestLlamaTemplateFromConfig(t *testing.T) {
	for _, tc := range []struct {
		set  map[string]any
		want []int32
	}{
		{map[string]any{}, []int32{1, 482}},
		{map[string]any{"add_eos_token": true}, []int32{1, 482, 2}},
		{map[string]any{"add_bos_token": false, "add_eos_token": true}, []int32{482, 2}},
		{map[string]any{"bos_token": "</s>"}, []int32{2, 482}},
	} {
		dir := t.TempDir()
		data, err := os.ReadFile(filepath.Join(fixtures, "tokenizers", "llama-legacy", "tokenizer.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		writeConfig(t, "llama-legacy", dir, tc.set)
		if got := mustLoad(t, dir).Encode("A", true).IDs; !slices.Equal(got, tc.want) {
			t.Errorf("%v: ids %v, want %v", tc.set, got, tc.want)
		}
	}
}

// TestCleanUpTokenizationSpaces: with clean_up_tokenization_spaces the
// decoded text goes through transformers' clean_up_tokenization.
func TestCleanUpTokenizationSpaces(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile(filepath.Join(fixtures, "tokenizers", "bert-uncased", "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	writeConfig(t, "bert-uncased", dir, map[string]any{"clean_up_tokenization_spaces": true})
	tok := mustLoad(t, dir)
	const text = "It's 3:45pm — the café's crème brûlée costs €12.50!"
	// Without cleanup (the fixture): "it ' s 3 : 45pm — the cafe ' s creme brulee costs €12. 50!"
	want := "it's 3 : 45pm — the cafe's creme brulee costs €12. 50!"
	if got := tok.Decode(tok.Encode(text, true).IDs, true); got != want {
		t.Errorf("decoded %q, want %q", got, want)
	}
}
