// Package tokenizer turns text into token ids and back exactly as Hugging Face
// tokenizers 0.23 and transformers 5.17 do, for the tokenizer kinds that
// InstructBLIP uses: byte-fallback BPE (LLaMA/Vicuna), WordPiece with BERT's
// normalizer (the Q-Former's bert-base-uncased) and Unigram with a
// SentencePiece precompiled charsmap (T5/Flan-T5).
//
// It is pure Go: a model folder's tokenizer.json is the main source, and
// folders that only have vocab.txt (WordPiece) or tokenizer.model /
// spiece.model (SentencePiece) load too, with tokenizer_config.json,
// special_tokens_map.json and added_tokens.json honoured. docs/tokenizers.md
// explains why Glimpse has its own implementation.
//
// The encoding pipeline mirrors tokenizers' own: added (special) tokens are cut
// out of the raw text first, the rest is normalized, pre-tokenized into words,
// each word is run through the model, and a template adds BOS/EOS or
// [CLS]/[SEP]. Decoding maps ids back to token strings and runs the decoder
// chain (ByteFallback, Fuse, Strip, Replace, Metaspace, WordPiece).
//
// A Tokenizer is safe for concurrent use.
package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"
)

// Encoding is the result of encoding one text: the token ids and, for each,
// the token's string as the vocabulary spells it (what transformers'
// convert_ids_to_tokens returns).
type Encoding struct {
	IDs    []int32
	Tokens []string
}

// BatchOptions controls EncodeBatch.
type BatchOptions struct {
	// MaxLength truncates each encoding (special tokens included) to at most
	// this many ids when > 0.
	MaxLength int
	// PadSide overrides the tokenizer's padding side when set: "left" or "right".
	PadSide string
}

// ErrNoTokenizer is returned by Load when a folder holds none of the files a
// tokenizer can be built from.
var ErrNoTokenizer = errors.New("no tokenizer files (tokenizer.json, vocab.txt, tokenizer.model or spiece.model)")

// model is one tokenization algorithm: it turns one pre-tokenized word into ids.
type model interface {
	tokenize(word string, out []int32) []int32
	tokenToID(tok string) (int32, bool)
	idToToken(id int32) (string, bool)
	// size is the number of entries in the model's vocabulary.
	size() int
}

// Tokenizer encodes and decodes text for one model. Build it with Load.
type Tokenizer struct {
	model      model
	normalizer normalizer // nil: identity
	preTok     preTokenizer
	decoder    decoder // nil: join tokens with spaces
	post       *template
	added      *addedVocab

	// From tokenizer_config.json / special_tokens_map.json.
	bos, eos, pad, unk string
	hasBOS, hasEOS     bool
	hasPad, hasUnk     bool
	paddingSide        string
	truncationSide     string
	modelMaxLength     int
	cleanup            bool
}

// Load builds the tokenizer stored in dir: tokenizer.json when present,
// otherwise tokenizer.model/spiece.model (SentencePiece) or vocab.txt
// (WordPiece). tokenizer_config.json, special_tokens_map.json and
// added_tokens.json are read when present.
func Load(dir string) (*Tokenizer, error) {
	cfg, err := readConfig(dir)
	if err != nil {
		return nil, err
	}
	var t *Tokenizer
	llamaTemplate := false
	switch {
	case exists(filepath.Join(dir, "tokenizer.json")):
		data, err := os.ReadFile(filepath.Join(dir, "tokenizer.json"))
		if err != nil {
			return nil, fmt.Errorf("reading tokenizer: %w", err)
		}
		t, err = parseTokenizerJSON(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "tokenizer.json"), err)
		}
		// transformers' LlamaTokenizer rebuilds the template from
		// add_bos_token / add_eos_token and the configured tokens
		// (update_post_processor), whatever tokenizer.json says.
		llamaTemplate = cfg.className() == "LlamaTokenizer"
		addConfigTokens(t, cfg)
	case exists(filepath.Join(dir, "tokenizer.model")) || exists(filepath.Join(dir, "spiece.model")):
		name := filepath.Join(dir, "tokenizer.model")
		if !exists(name) {
			name = filepath.Join(dir, "spiece.model")
		}
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("reading tokenizer: %w", err)
		}
		t, err = fromSentencePiece(data, cfg)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	case exists(filepath.Join(dir, "vocab.txt")):
		data, err := os.ReadFile(filepath.Join(dir, "vocab.txt"))
		if err != nil {
			return nil, fmt.Errorf("reading tokenizer: %w", err)
		}
		t, err = fromVocabTxt(data, cfg)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "vocab.txt"), err)
		}
	default:
		return nil, fmt.Errorf("%s: %w", dir, ErrNoTokenizer)
	}
	t.applyConfig(cfg)
	if llamaTemplate {
		t.post = spTemplate(t, cfg, spBPE)
	}
	t.added.build(t.normalizer)
	return t, nil
}

func exists(name string) bool {
	st, err := os.Stat(name)
	return err == nil && !st.IsDir()
}

// Encode tokenizes text; with addSpecial the template's special tokens
// (BOS, EOS, [CLS], [SEP]) are added as transformers does by default.
func (t *Tokenizer) Encode(text string, addSpecial bool) Encoding {
	ids := t.encodeIDs(text)
	if addSpecial && t.post != nil {
		ids = t.post.apply(ids)
	}
	return Encoding{IDs: ids, Tokens: t.tokensOf(ids)}
}

// encodeIDs runs the pipeline up to (not including) the post-processor.
func (t *Tokenizer) encodeIDs(text string) []int32 {
	if !utf8.ValidString(text) {
		// Rust strings are always valid UTF-8; invalid bytes become U+FFFD.
		text = strings.ToValidUTF8(text, "\uFFFD")
	}
	var ids []int32
	for _, seg := range t.added.split(text, false) {
		if seg.id >= 0 {
			ids = append(ids, seg.id)
			continue
		}
		norm := seg.text
		if t.normalizer != nil {
			norm = t.normalizer.normalize(norm)
		}
		for j, piece := range t.added.split(norm, true) {
			if piece.id >= 0 {
				ids = append(ids, piece.id)
				continue
			}
			if piece.text == "" {
				continue
			}
			words := []word{{text: piece.text, first: seg.start == 0 && j == 0 && piece.start == 0}}
			if t.preTok != nil {
				words = t.preTok.preTokenize(words)
			}
			for _, w := range words {
				if w.text != "" {
					ids = t.model.tokenize(w.text, ids)
				}
			}
		}
	}
	return ids
}

func (t *Tokenizer) tokensOf(ids []int32) []string {
	toks := make([]string, len(ids))
	for i, id := range ids {
		toks[i], _ = t.IDToToken(id)
	}
	return toks
}

// IDToToken returns the token string of id (added tokens first, then the
// model's vocabulary).
func (t *Tokenizer) IDToToken(id int32) (string, bool) {
	if a, ok := t.added.byID[id]; ok {
		return a.content, true
	}
	return t.model.idToToken(id)
}

// TokenID returns the id of a token string, looking at added tokens first.
func (t *Tokenizer) TokenID(token string) (int32, bool) {
	if id, ok := t.added.byContent[token]; ok {
		return id, true
	}
	return t.model.tokenToID(token)
}

// VocabSize is the number of distinct tokens, base vocabulary plus added
// tokens that are not already in it (transformers' len(tokenizer)).
func (t *Tokenizer) VocabSize() int {
	n := t.model.size()
	for content := range t.added.byContent {
		if _, ok := t.model.tokenToID(content); !ok {
			n++
		}
	}
	return n
}

// IsSpecial reports whether id is a special token (skipped by
// Decode(ids, true)).
func (t *Tokenizer) IsSpecial(id int32) bool {
	tok, ok := t.IDToToken(id)
	return ok && t.added.special[tok]
}

// Decode turns ids back into text. Ids outside the vocabulary are dropped, as
// tokenizers does; with skipSpecial special tokens are left out.
func (t *Tokenizer) Decode(ids []int32, skipSpecial bool) string {
	toks := make([]string, 0, len(ids))
	for _, id := range ids {
		tok, ok := t.IDToToken(id)
		if !ok || (skipSpecial && t.added.special[tok]) {
			continue
		}
		toks = append(toks, tok)
	}
	var s string
	if t.decoder == nil {
		s = strings.Join(toks, " ")
	} else {
		s = strings.Join(t.decoder.decode(toks), "")
	}
	if t.cleanup {
		s = cleanUpTokenization(s)
	}
	return s
}

// cleanUpTokenization is transformers' clean_up_tokenization, applied when
// tokenizer_config.json sets clean_up_tokenization_spaces.
func cleanUpTokenization(s string) string {
	return strings.NewReplacer(" .", ".", " ?", "?", " !", "!", " ,", ",", " ' ", "'",
		" n't", "n't", " 'm", "'m", " 's", "'s", " 've", "'ve", " 're", "'re").Replace(s)
}

func (t *Tokenizer) specialID(tok string, has bool) (int32, bool) {
	if !has {
		return 0, false
	}
	return t.TokenID(tok)
}

// BOS returns the id of the configured beginning-of-sequence token.
func (t *Tokenizer) BOS() (int32, bool) { return t.specialID(t.bos, t.hasBOS) }

// EOS returns the id of the configured end-of-sequence token.
func (t *Tokenizer) EOS() (int32, bool) { return t.specialID(t.eos, t.hasEOS) }

// PAD returns the id of the configured padding token.
func (t *Tokenizer) PAD() (int32, bool) { return t.specialID(t.pad, t.hasPad) }

// UNK returns the id of the configured unknown token.
func (t *Tokenizer) UNK() (int32, bool) { return t.specialID(t.unk, t.hasUnk) }

// PaddingSide is "left" or "right" (tokenizer_config.json, default "right").
func (t *Tokenizer) PaddingSide() string { return t.paddingSide }

// TruncationSide is "left" or "right" (tokenizer_config.json, default "right").
func (t *Tokenizer) TruncationSide() string { return t.truncationSide }

// ModelMaxLength is tokenizer_config.json's model_max_length; the huge
// "no limit" values transformers writes clamp to math.MaxInt32.
func (t *Tokenizer) ModelMaxLength() int { return t.modelMaxLength }

// NumSpecialToAdd is how many ids Encode(text, true) adds around the text.
func (t *Tokenizer) NumSpecialToAdd() int {
	if t.post == nil {
		return 0
	}
	return t.post.numAdded()
}

// EncodeBatch encodes texts with special tokens, truncates each to
// opts.MaxLength (if > 0) on the tokenizer's truncation side, keeping the
// special tokens the template adds (as transformers does), and pads every row
// to the longest on the padding side (or opts.PadSide if set) with the PAD id
// (0 when the tokenizer has none). mask is 1 on real tokens, 0 on padding.
func (t *Tokenizer) EncodeBatch(texts []string, opts BatchOptions) (ids, mask [][]int32) {
	ids = make([][]int32, len(texts))
	longest := 0
	for i, text := range texts {
		row := t.encodeIDs(text)
		if opts.MaxLength > 0 {
			keep := max(opts.MaxLength-t.NumSpecialToAdd(), 0)
			if len(row) > keep {
				if t.truncationSide == "left" {
					row = row[len(row)-keep:]
				} else {
					row = row[:keep]
				}
			}
		}
		if t.post != nil {
			row = t.post.apply(row)
		}
		ids[i] = row
		longest = max(longest, len(row))
	}
	side := t.paddingSide
	if opts.PadSide != "" {
		side = opts.PadSide
	}
	padID, _ := t.PAD()
	mask = make([][]int32, len(texts))
	for i, row := range ids {
		n := longest - len(row)
		padded := make([]int32, 0, longest)
		m := make([]int32, 0, longest)
		if side == "left" {
			for range n {
				padded = append(padded, padID)
				m = append(m, 0)
			}
		}
		padded = append(padded, row...)
		for range row {
			m = append(m, 1)
		}
		if side != "left" {
			for range n {
				padded = append(padded, padID)
				m = append(m, 0)
			}
		}
		ids[i], mask[i] = padded, m
	}
	return ids, mask
}

// hfConfig is what tokenizer_config.json, special_tokens_map.json and
// added_tokens.json say, merged (special_tokens_map.json wins, as in
// transformers).
type hfConfig struct {
	raw          map[string]json.RawMessage
	tokens       map[string]*string // bos_token, eos_token, ...: nil value = explicitly none
	addedDecoder map[int32]addedToken
	addedJSON    map[string]int32
}

// value reads a config key; null counts as absent (transformers' None).
func (c *hfConfig) value(key string, into any) bool {
	v, ok := c.raw[key]
	return ok && !isNull(v) && json.Unmarshal(v, into) == nil
}

func (c *hfConfig) str(key string) (string, bool) {
	var s string
	if c.value(key, &s) {
		return s, true
	}
	return "", false
}

func (c *hfConfig) boolean(key string, def bool) bool {
	var b bool
	if c.value(key, &b) {
		return b
	}
	return def
}

func (c *hfConfig) integer(key string, def int) int {
	var f float64
	if c.value(key, &f) {
		if f > math.MaxInt32 {
			return math.MaxInt32
		}
		return int(f)
	}
	return def
}

var specialKeys = []string{"bos_token", "eos_token", "unk_token", "pad_token", "sep_token", "cls_token", "mask_token"}

// tokenContent reads a special-token entry: a string or an AddedToken object.
func tokenContent(v json.RawMessage) (*string, bool) {
	var s *string
	if json.Unmarshal(v, &s) == nil {
		return s, true
	}
	var obj struct {
		Content string `json:"content"`
	}
	if json.Unmarshal(v, &obj) == nil {
		return &obj.Content, true
	}
	return nil, false
}

func readConfig(dir string) (*hfConfig, error) {
	c := &hfConfig{raw: map[string]json.RawMessage{}, tokens: map[string]*string{}}
	readJSON := func(name string, into any) error {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading %s: %w", name, err)
		}
		if err := json.Unmarshal(data, into); err != nil {
			return fmt.Errorf("%s is not valid JSON: %w", filepath.Join(dir, name), err)
		}
		return nil
	}
	if err := readJSON("tokenizer_config.json", &c.raw); err != nil {
		return nil, err
	}
	stm := map[string]json.RawMessage{}
	if err := readJSON("special_tokens_map.json", &stm); err != nil {
		return nil, err
	}
	for _, k := range specialKeys {
		if v, ok := c.raw[k]; ok {
			if s, ok := tokenContent(v); ok {
				c.tokens[k] = s
			}
		}
		if v, ok := stm[k]; ok {
			if s, ok := tokenContent(v); ok {
				c.tokens[k] = s
			}
		}
	}
	for _, k := range []string{"additional_special_tokens", "extra_special_tokens"} {
		for _, src := range []map[string]json.RawMessage{c.raw, stm} {
			v, ok := src[k]
			if !ok {
				continue
			}
			// A list of tokens, or (transformers 5) a map of named ones
			// such as {"image_token": "<image>"}.
			var list []json.RawMessage
			if json.Unmarshal(v, &list) != nil {
				var named map[string]json.RawMessage
				if json.Unmarshal(v, &named) != nil {
					continue
				}
				for _, item := range named {
					list = append(list, item)
				}
			}
			for _, item := range list {
				if s, ok := tokenContent(item); ok && s != nil {
					c.tokens["additional:"+*s] = s
				}
			}
		}
	}
	if v, ok := c.raw["added_tokens_decoder"]; ok {
		var dec map[string]addedTokenJSON
		if json.Unmarshal(v, &dec) == nil {
			c.addedDecoder = map[int32]addedToken{}
			for k, a := range dec {
				var id int32
				if _, err := fmt.Sscan(k, &id); err == nil {
					c.addedDecoder[id] = a.token()
				}
			}
		}
	}
	if err := readJSON("added_tokens.json", &c.addedJSON); err != nil {
		return nil, err
	}
	return c, nil
}

// classDefaults are the special tokens each transformers tokenizer class
// assumes when its config does not name them.
var classDefaults = map[string]map[string]string{
	"LlamaTokenizer": {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"},
	"T5Tokenizer":    {"eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"},
	"BertTokenizer":  {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]", "mask_token": "[MASK]"},
}

// className is tokenizer_class without the "Fast" suffix transformers 4 wrote.
func (c *hfConfig) className() string {
	s, _ := c.str("tokenizer_class")
	return strings.TrimSuffix(s, "Fast")
}

// specialToken resolves one special-token key through the config and the
// class defaults.
func (c *hfConfig) specialToken(key string) (string, bool) {
	if s, ok := c.tokens[key]; ok {
		if s == nil {
			return "", false
		}
		return *s, true
	}
	if d, ok := classDefaults[c.className()][key]; ok {
		return d, true
	}
	return "", false
}

func (t *Tokenizer) applyConfig(c *hfConfig) {
	t.bos, t.hasBOS = c.specialToken("bos_token")
	t.eos, t.hasEOS = c.specialToken("eos_token")
	t.pad, t.hasPad = c.specialToken("pad_token")
	t.unk, t.hasUnk = c.specialToken("unk_token")
	t.paddingSide = "right"
	if s, ok := c.str("padding_side"); ok && (s == "left" || s == "right") {
		t.paddingSide = s
	}
	t.truncationSide = "right"
	if s, ok := c.str("truncation_side"); ok && (s == "left" || s == "right") {
		t.truncationSide = s
	}
	t.modelMaxLength = c.integer("model_max_length", math.MaxInt32)
	t.cleanup = c.boolean("clean_up_tokenization_spaces", false)
	// transformers registers every configured special token with the
	// tokenizer as a special added token, so it is matched in raw text and
	// skipped by skip_special_tokens even where tokenizer.json did not list it.
	keys := make([]string, 0, len(c.tokens))
	for k := range c.tokens {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if s := c.tokens[k]; s != nil && *s != "" {
			t.addSpecial(*s)
		}
	}
	for _, k := range []string{"bos_token", "eos_token", "unk_token", "pad_token"} {
		if s, ok := c.specialToken(k); ok {
			t.addSpecial(s)
		}
	}
}

// addSpecial makes tok a special added token, giving it the next free id when
// neither the model nor the added vocabulary knows it.
func (t *Tokenizer) addSpecial(tok string) {
	if _, ok := t.added.byContent[tok]; ok {
		t.added.special[tok] = true
		return
	}
	id, ok := t.model.tokenToID(tok)
	if !ok {
		id = int32(t.model.size())
		for aid := range t.added.byID {
			id = max(id, aid+1)
		}
	}
	t.added.add(addedToken{content: tok, special: true}, id)
}
