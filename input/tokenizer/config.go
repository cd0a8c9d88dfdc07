package tokenizer

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// template is the single-sequence form of a TemplateProcessing (or
// Bert/Roberta) post-processor: special-token ids around the sequence.
type template struct {
	before, after []int32
}

func (t *template) apply(ids []int32) []int32 {
	out := make([]int32, 0, len(t.before)+len(ids)+len(t.after))
	out = append(out, t.before...)
	out = append(out, ids...)
	return append(out, t.after...)
}

func (t *template) numAdded() int { return len(t.before) + len(t.after) }

// tokenizerJSON is the part of tokenizer.json this package reads.
type tokenizerJSON struct {
	AddedTokens   []addedTokenJSON `json:"added_tokens"`
	Normalizer    json.RawMessage  `json:"normalizer"`
	PreTokenizer  json.RawMessage  `json:"pre_tokenizer"`
	PostProcessor json.RawMessage  `json:"post_processor"`
	Decoder       json.RawMessage  `json:"decoder"`
	Model         json.RawMessage  `json:"model"`
}

func isNull(m json.RawMessage) bool {
	s := strings.TrimSpace(string(m))
	return s == "" || s == "null"
}

func parseTokenizerJSON(data []byte) (*Tokenizer, error) {
	var tj tokenizerJSON
	if err := json.Unmarshal(data, &tj); err != nil {
		return nil, fmt.Errorf("not a valid tokenizer.json: %w", err)
	}
	t := &Tokenizer{added: newAddedVocab()}
	var err error
	if t.model, err = parseModel(tj.Model); err != nil {
		return nil, err
	}
	if !isNull(tj.Normalizer) {
		if t.normalizer, err = parseNormalizer(tj.Normalizer); err != nil {
			return nil, err
		}
	}
	if !isNull(tj.PreTokenizer) {
		if t.preTok, err = parsePreTokenizer(tj.PreTokenizer); err != nil {
			return nil, err
		}
	}
	if !isNull(tj.Decoder) {
		if t.decoder, err = parseDecoder(tj.Decoder); err != nil {
			return nil, err
		}
	}
	if !isNull(tj.PostProcessor) {
		if t.post, err = parsePostProcessor(tj.PostProcessor); err != nil {
			return nil, err
		}
	}
	for _, a := range tj.AddedTokens {
		t.added.add(a.token(), a.ID)
	}
	return t, nil
}

type typed struct {
	Type string `json:"type"`
}

func typeOf(m json.RawMessage) (string, error) {
	var ty typed
	if err := json.Unmarshal(m, &ty); err != nil {
		return "", fmt.Errorf("malformed component: %w", err)
	}
	return ty.Type, nil
}

func parseModel(m json.RawMessage) (model, error) {
	if isNull(m) {
		return nil, fmt.Errorf("tokenizer.json has no model")
	}
	var raw struct {
		Type                    string          `json:"type"`
		Vocab                   json.RawMessage `json:"vocab"`
		Merges                  json.RawMessage `json:"merges"`
		UnkToken                *string         `json:"unk_token"`
		UnkID                   *int32          `json:"unk_id"`
		ContinuingSubwordPrefix *string         `json:"continuing_subword_prefix"`
		EndOfWordSuffix         *string         `json:"end_of_word_suffix"`
		FuseUnk                 bool            `json:"fuse_unk"`
		ByteFallback            bool            `json:"byte_fallback"`
		IgnoreMerges            bool            `json:"ignore_merges"`
		MaxInputCharsPerWord    *int            `json:"max_input_chars_per_word"`
	}
	if err := json.Unmarshal(m, &raw); err != nil {
		return nil, fmt.Errorf("malformed model: %w", err)
	}
	if raw.Type == "" {
		// Old files leave the type out; the fields tell.
		switch {
		case raw.Merges != nil:
			raw.Type = "BPE"
		case raw.UnkID != nil:
			raw.Type = "Unigram"
		default:
			raw.Type = "WordPiece"
		}
	}
	switch raw.Type {
	case "BPE":
		var vocab map[string]int32
		if err := json.Unmarshal(raw.Vocab, &vocab); err != nil {
			return nil, fmt.Errorf("malformed BPE vocab: %w", err)
		}
		merges, err := parseMerges(raw.Merges)
		if err != nil {
			return nil, err
		}
		prefix := ""
		if raw.ContinuingSubwordPrefix != nil {
			prefix = *raw.ContinuingSubwordPrefix
		}
		b, err := newBPE(vocab, merges, prefix)
		if err != nil {
			return nil, err
		}
		if raw.UnkToken != nil {
			b.unk, b.hasUnk = *raw.UnkToken, true
		}
		if raw.EndOfWordSuffix != nil {
			b.suffix = *raw.EndOfWordSuffix
		}
		b.fuseUnk, b.byteFallback, b.ignoreMerges = raw.FuseUnk, raw.ByteFallback, raw.IgnoreMerges
		b.finish()
		return b, nil
	case "WordPiece":
		var vocab map[string]int32
		if err := json.Unmarshal(raw.Vocab, &vocab); err != nil {
			return nil, fmt.Errorf("malformed WordPiece vocab: %w", err)
		}
		unk, prefix, maxChars := "[UNK]", "##", 100
		if raw.UnkToken != nil {
			unk = *raw.UnkToken
		}
		if raw.ContinuingSubwordPrefix != nil {
			prefix = *raw.ContinuingSubwordPrefix
		}
		if raw.MaxInputCharsPerWord != nil {
			maxChars = *raw.MaxInputCharsPerWord
		}
		return newWordPiece(vocab, unk, prefix, maxChars), nil
	case "Unigram":
		var vocab [][2]json.RawMessage
		if err := json.Unmarshal(raw.Vocab, &vocab); err != nil {
			return nil, fmt.Errorf("malformed Unigram vocab: %w", err)
		}
		pieces := make([]string, len(vocab))
		scores := make([]float64, len(vocab))
		for i, v := range vocab {
			if json.Unmarshal(v[0], &pieces[i]) != nil || json.Unmarshal(v[1], &scores[i]) != nil {
				return nil, fmt.Errorf("malformed Unigram vocab entry %d", i)
			}
		}
		unkID := int32(-1)
		if raw.UnkID != nil {
			unkID = *raw.UnkID
		}
		return newUnigram(pieces, scores, unkID, raw.ByteFallback)
	}
	return nil, fmt.Errorf("unsupported tokenizer model %q", raw.Type)
}

// parseMerges accepts both spellings tokenizers writes: "a b" strings and
// [a, b] pairs.
func parseMerges(m json.RawMessage) ([][2]string, error) {
	if isNull(m) {
		return nil, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(m, &items); err != nil {
		return nil, fmt.Errorf("malformed BPE merges: %w", err)
	}
	out := make([][2]string, len(items))
	for i, it := range items {
		var s string
		if json.Unmarshal(it, &s) == nil {
			a, b, ok := strings.Cut(s, " ")
			if !ok {
				return nil, fmt.Errorf("malformed BPE merge %q", s)
			}
			out[i] = [2]string{a, b}
			continue
		}
		var pair []string
		if err := json.Unmarshal(it, &pair); err != nil || len(pair) != 2 {
			return nil, fmt.Errorf("malformed BPE merge %d", i)
		}
		out[i] = [2]string{pair[0], pair[1]}
	}
	return out, nil
}

// pattern is tokenizers' {"String": …} or {"Regex": …}.
type pattern struct {
	String *string `json:"String"`
	Regex  *string `json:"Regex"`
}

func (p pattern) replace(content string) (replace, error) {
	switch {
	case p.String != nil:
		return replace{literal: *p.String, content: content}, nil
	case p.Regex != nil:
		r, err := regexReplace(*p.Regex, content)
		if err != nil {
			return replace{}, fmt.Errorf("unsupported Replace pattern %q: %w", *p.Regex, err)
		}
		return r, nil
	}
	return replace{}, fmt.Errorf("Replace without a pattern")
}

// parseSequence parses a "Sequence" component: its list under key, each
// element parsed with parse (which recurses for nested sequences).
func parseSequence[T any](m json.RawMessage, key, what string, parse func(json.RawMessage) (T, error)) ([]T, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(m, &raw); err != nil {
		return nil, fmt.Errorf("malformed %s: %w", what, err)
	}
	var list []json.RawMessage
	if r, ok := raw[key]; ok {
		if err := json.Unmarshal(r, &list); err != nil {
			return nil, fmt.Errorf("malformed %s: %w", what, err)
		}
	}
	seq := make([]T, 0, len(list))
	for _, e := range list {
		sub, err := parse(e)
		if err != nil {
			return nil, err
		}
		seq = append(seq, sub)
	}
	return seq, nil
}

func parseNormalizer(m json.RawMessage) (normalizer, error) {
	ty, err := typeOf(m)
	if err != nil {
		return nil, err
	}
	switch ty {
	case "Sequence":
		seq, err := parseSequence(m, "normalizers", "normalizer", parseNormalizer)
		if err != nil {
			return nil, err
		}
		return normalizerSeq(seq), nil
	case "NFC":
		return unicodeNorm{norm.NFC}, nil
	case "NFD":
		return unicodeNorm{norm.NFD}, nil
	case "NFKC":
		return unicodeNorm{norm.NFKC}, nil
	case "NFKD":
		return unicodeNorm{norm.NFKD}, nil
	case "Lowercase":
		return lowercase{}, nil
	case "StripAccents":
		return stripAccents{}, nil
	case "Strip":
		var s struct {
			Left  bool `json:"strip_left"`
			Right bool `json:"strip_right"`
		}
		if err := json.Unmarshal(m, &s); err != nil {
			return nil, fmt.Errorf("malformed Strip normalizer: %w", err)
		}
		return strip{left: s.Left, right: s.Right}, nil
	case "Prepend":
		var s struct {
			Prepend string `json:"prepend"`
		}
		if err := json.Unmarshal(m, &s); err != nil {
			return nil, fmt.Errorf("malformed Prepend normalizer: %w", err)
		}
		return prepend{prefix: s.Prepend}, nil
	case "Replace":
		var s struct {
			Pattern pattern `json:"pattern"`
			Content string  `json:"content"`
		}
		if err := json.Unmarshal(m, &s); err != nil {
			return nil, fmt.Errorf("malformed Replace normalizer: %w", err)
		}
		return s.Pattern.replace(s.Content)
	case "BertNormalizer":
		s := struct {
			CleanText    *bool `json:"clean_text"`
			ChineseChars *bool `json:"handle_chinese_chars"`
			StripAccents *bool `json:"strip_accents"`
			Lowercase    *bool `json:"lowercase"`
		}{}
		if err := json.Unmarshal(m, &s); err != nil {
			return nil, fmt.Errorf("malformed BertNormalizer: %w", err)
		}
		b := bertNormalizer{cleanText: true, chineseChars: true, lowercase: true}
		if s.CleanText != nil {
			b.cleanText = *s.CleanText
		}
		if s.ChineseChars != nil {
			b.chineseChars = *s.ChineseChars
		}
		if s.Lowercase != nil {
			b.lowercase = *s.Lowercase
		}
		// strip_accents: null follows lowercase, as in tokenizers.
		b.stripAccents = b.lowercase
		if s.StripAccents != nil {
			b.stripAccents = *s.StripAccents
		}
		return b, nil
	case "Precompiled":
		var s struct {
			Charsmap *string `json:"precompiled_charsmap"`
		}
		if err := json.Unmarshal(m, &s); err != nil {
			return nil, fmt.Errorf("malformed Precompiled normalizer: %w", err)
		}
		if s.Charsmap == nil || *s.Charsmap == "" {
			return normalizerSeq{}, nil
		}
		raw, err := base64.StdEncoding.DecodeString(*s.Charsmap)
		if err != nil {
			return nil, fmt.Errorf("malformed precompiled_charsmap: %w", err)
		}
		return parsePrecompiled(raw)
	}
	return nil, fmt.Errorf("unsupported normalizer %q", ty)
}

// metaspaceJSON covers both the current (prepend_scheme, split) and the old
// (add_prefix_space) Metaspace spellings.
type metaspaceJSON struct {
	Replacement    string  `json:"replacement"`
	PrependScheme  *string `json:"prepend_scheme"`
	AddPrefixSpace *bool   `json:"add_prefix_space"`
	Split          *bool   `json:"split"`
}

func (mj metaspaceJSON) parse() (metaspace, error) {
	m := metaspace{replacement: '▁', scheme: prependAlways, split: true}
	if mj.Replacement != "" {
		r, n := utf8.DecodeRuneInString(mj.Replacement)
		if n != len(mj.Replacement) {
			return m, fmt.Errorf("Metaspace replacement %q is not one character", mj.Replacement)
		}
		m.replacement = r
	}
	if mj.AddPrefixSpace != nil && !*mj.AddPrefixSpace {
		m.scheme = prependNever
	}
	if mj.PrependScheme != nil {
		switch *mj.PrependScheme {
		case "always":
			m.scheme = prependAlways
		case "first":
			m.scheme = prependFirst
		case "never":
			m.scheme = prependNever
		default:
			return m, fmt.Errorf("unknown Metaspace prepend_scheme %q", *mj.PrependScheme)
		}
	}
	if mj.Split != nil {
		m.split = *mj.Split
	}
	return m, nil
}

func parsePreTokenizer(m json.RawMessage) (preTokenizer, error) {
	ty, err := typeOf(m)
	if err != nil {
		return nil, err
	}
	switch ty {
	case "Sequence":
		seq, err := parseSequence(m, "pretokenizers", "pre-tokenizer", parsePreTokenizer)
		if err != nil {
			return nil, err
		}
		return preTokSeq(seq), nil
	case "Metaspace":
		var mj metaspaceJSON
		if err := json.Unmarshal(m, &mj); err != nil {
			return nil, fmt.Errorf("malformed Metaspace: %w", err)
		}
		return mj.parse()
	case "WhitespaceSplit":
		return whitespaceSplit{}, nil
	case "Whitespace":
		return whitespacePre{}, nil
	case "BertPreTokenizer":
		return bertPreTokenizer{}, nil
	case "Punctuation":
		var s struct {
			Behavior string `json:"behavior"`
		}
		if err := json.Unmarshal(m, &s); err != nil {
			return nil, fmt.Errorf("malformed Punctuation: %w", err)
		}
		switch s.Behavior {
		case "", "Isolated":
			return punctuation{how: isolated}, nil
		case "Removed":
			return punctuation{how: removed}, nil
		case "MergedWithNext":
			return punctuation{how: mergedWithNext}, nil
		}
		return nil, fmt.Errorf("unsupported Punctuation behavior %q", s.Behavior)
	case "Digits":
		var s struct {
			Individual bool `json:"individual_digits"`
		}
		if err := json.Unmarshal(m, &s); err != nil {
			return nil, fmt.Errorf("malformed Digits: %w", err)
		}
		return digits{individual: s.Individual}, nil
	}
	return nil, fmt.Errorf("unsupported pre-tokenizer %q", ty)
}

func parseDecoder(m json.RawMessage) (decoder, error) {
	ty, err := typeOf(m)
	if err != nil {
		return nil, err
	}
	switch ty {
	case "Sequence":
		seq, err := parseSequence(m, "decoders", "decoder", parseDecoder)
		if err != nil {
			return nil, err
		}
		return decoderSeq(seq), nil
	case "ByteFallback":
		return byteFallbackDec{}, nil
	case "Fuse":
		return fuseDec{}, nil
	case "Strip":
		var s struct {
			Content string `json:"content"`
			Start   int    `json:"start"`
			Stop    int    `json:"stop"`
		}
		if err := json.Unmarshal(m, &s); err != nil {
			return nil, fmt.Errorf("malformed Strip decoder: %w", err)
		}
		r, n := utf8.DecodeRuneInString(s.Content)
		if n == 0 || n != len(s.Content) {
			return nil, fmt.Errorf("Strip decoder content %q is not one character", s.Content)
		}
		return stripDec{content: r, start: max(s.Start, 0), stop: max(s.Stop, 0)}, nil
	case "Replace":
		var s struct {
			Pattern pattern `json:"pattern"`
			Content string  `json:"content"`
		}
		if err := json.Unmarshal(m, &s); err != nil {
			return nil, fmt.Errorf("malformed Replace decoder: %w", err)
		}
		r, err := s.Pattern.replace(s.Content)
		if err != nil {
			return nil, err
		}
		return replaceDec{r}, nil
	case "Metaspace":
		var mj metaspaceJSON
		if err := json.Unmarshal(m, &mj); err != nil {
			return nil, fmt.Errorf("malformed Metaspace decoder: %w", err)
		}
		ms, err := mj.parse()
		if err != nil {
			return nil, err
		}
		return metaspaceDec{replacement: ms.replacement, scheme: ms.scheme}, nil
	case "WordPiece":
		s := struct {
			Prefix  *string `json:"prefix"`
			Cleanup *bool   `json:"cleanup"`
		}{}
		if err := json.Unmarshal(m, &s); err != nil {
			return nil, fmt.Errorf("malformed WordPiece decoder: %w", err)
		}
		d := wordPieceDec{prefix: "##", cleanup: true}
		if s.Prefix != nil {
			d.prefix = *s.Prefix
		}
		if s.Cleanup != nil {
			d.cleanup = *s.Cleanup
		}
		return d, nil
	}
	return nil, fmt.Errorf("unsupported decoder %q", ty)
}

func parsePostProcessor(m json.RawMessage) (*template, error) {
	ty, err := typeOf(m)
	if err != nil {
		return nil, err
	}
	switch ty {
	case "TemplateProcessing":
		var s struct {
			Single []struct {
				SpecialToken *struct {
					ID string `json:"id"`
				} `json:"SpecialToken"`
				Sequence *struct {
					ID string `json:"id"`
				} `json:"Sequence"`
			} `json:"single"`
			SpecialTokens map[string]struct {
				IDs []int32 `json:"ids"`
			} `json:"special_tokens"`
		}
		if err := json.Unmarshal(m, &s); err != nil {
			return nil, fmt.Errorf("malformed TemplateProcessing: %w", err)
		}
		t := &template{}
		seen := false
		for _, item := range s.Single {
			switch {
			case item.Sequence != nil:
				seen = true
			case item.SpecialToken != nil:
				st, ok := s.SpecialTokens[item.SpecialToken.ID]
				if !ok {
					return nil, fmt.Errorf("template uses undefined special token %q", item.SpecialToken.ID)
				}
				if seen {
					t.after = append(t.after, st.IDs...)
				} else {
					t.before = append(t.before, st.IDs...)
				}
			}
		}
		return t, nil
	case "BertProcessing", "RobertaProcessing":
		var s struct {
			Sep [2]json.RawMessage `json:"sep"`
			Cls [2]json.RawMessage `json:"cls"`
		}
		if err := json.Unmarshal(m, &s); err != nil {
			return nil, fmt.Errorf("malformed %s: %w", ty, err)
		}
		var sep, cls int32
		if json.Unmarshal(s.Sep[1], &sep) != nil || json.Unmarshal(s.Cls[1], &cls) != nil {
			return nil, fmt.Errorf("malformed %s", ty)
		}
		return &template{before: []int32{cls}, after: []int32{sep}}, nil
	case "ByteLevel":
		return nil, nil
	}
	return nil, fmt.Errorf("unsupported post-processor %q", ty)
}
