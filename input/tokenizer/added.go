package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// addedToken is a token added on top of the model's vocabulary
// (tokenizer.json's added_tokens): special tokens such as <s>, [CLS] or
// <image>, matched in the text before the model runs.
type addedToken struct {
	content    string
	singleWord bool // only match where no word character touches it
	lstrip     bool // swallow the whitespace on its left
	rstrip     bool // swallow the whitespace on its right
	normalized bool // match against the normalized text, not the raw text
	special    bool // skipped by Decode(ids, true)
}

// addedTokenJSON is an added token as tokenizer.json and
// tokenizer_config.json's added_tokens_decoder spell it.
type addedTokenJSON struct {
	ID         int32  `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	Lstrip     bool   `json:"lstrip"`
	Rstrip     bool   `json:"rstrip"`
	Normalized *bool  `json:"normalized"`
	Special    bool   `json:"special"`
}

func (a addedTokenJSON) token() addedToken {
	// tokenizers' default: special tokens are not normalized, others are.
	norm := !a.Special
	if a.Normalized != nil {
		norm = *a.Normalized
	}
	return addedToken{content: a.Content, singleWord: a.SingleWord, lstrip: a.Lstrip,
		rstrip: a.Rstrip, normalized: norm, special: a.Special}
}

// addedVocab finds added tokens in text the way tokenizers' AddedVocabulary
// does: leftmost-longest matching, first on the raw text for tokens with
// normalized=false, then on the normalized text for the others.
type addedVocab struct {
	byID      map[int32]addedToken
	byContent map[string]int32
	special   map[string]bool
	order     []int32 // ids in the order they were added
	raw, norm *byteTrie
}

func newAddedVocab() *addedVocab {
	return &addedVocab{byID: map[int32]addedToken{}, byContent: map[string]int32{}, special: map[string]bool{}}
}

// add registers a token under id; an empty content is ignored as tokenizers does.
func (v *addedVocab) add(a addedToken, id int32) {
	if a.content == "" {
		return
	}
	if old, ok := v.byContent[a.content]; ok {
		delete(v.byID, old)
	} else {
		v.order = append(v.order, id)
	}
	v.byContent[a.content] = id
	v.byID[id] = a
	if a.special {
		v.special[a.content] = true
	}
	v.raw, v.norm = nil, nil
}

// build prepares the matchers; norm normalizes the contents of the tokens
// that match normalized text.
func (v *addedVocab) build(norm normalizer) {
	v.raw, v.norm = &byteTrie{}, &byteTrie{}
	// tokenizers puts special tokens before the others; with leftmost-longest
	// matching the order only matters for identical patterns.
	for pass := 0; pass < 2; pass++ {
		for _, id := range v.order {
			a, ok := v.byID[id]
			if !ok || v.byContent[a.content] != id || a.special != (pass == 0) {
				continue
			}
			if a.normalized {
				p := a.content
				if norm != nil {
					p = norm.normalize(p)
				}
				v.norm.insert(p, id)
			} else {
				v.raw.insert(a.content, id)
			}
		}
	}
}

// segment is a piece of the input: an added token (id >= 0) or text for the
// model (id == -1). start is its byte offset in the string that was split.
type segment struct {
	text  string
	id    int32
	start int
}

// split cuts s around the added tokens found in it; normalizedPass selects
// the matcher for tokens with normalized=true.
func (v *addedVocab) split(s string, normalizedPass bool) []segment {
	trie := v.raw
	if normalizedPass {
		trie = v.norm
	}
	if trie == nil || trie.empty() {
		return []segment{{text: s, id: -1}}
	}
	var out []segment
	last := 0
	for i := 0; i < len(s); {
		n, id := trie.longest(s[i:])
		if n == 0 {
			i++
			continue
		}
		start, stop := i, i+n
		i = stop
		a := v.byID[id]
		if a.singleWord {
			startOK := start == 0 || !endsWithWordChar(s[:start])
			stopOK := stop == len(s) || !startsWithWordChar(s[stop:])
			if !startOK || !stopOK {
				continue
			}
		}
		if a.lstrip {
			start = max(leftmostSpaceAtEnd(s[:start]), last)
		}
		if a.rstrip {
			stop += rightmostSpaceAtStart(s[stop:])
			i = stop
		}
		if last < start {
			out = append(out, segment{text: s[last:start], id: -1, start: last})
		}
		out = append(out, segment{text: s[start:stop], id: id, start: start})
		last = stop
	}
	if last < len(s) || len(out) == 0 {
		out = append(out, segment{text: s[last:], id: -1, start: last})
	}
	return out
}

// isWordChar is the Unicode \w of Rust's regex crate: alphabetic, marks,
// decimal digits, connector punctuation and join controls.
func isWordChar(r rune) bool {
	return unicode.IsLetter(r) || unicode.Is(unicode.Nl, r) || unicode.Is(unicode.Other_Alphabetic, r) ||
		unicode.IsMark(r) || unicode.Is(unicode.Nd, r) || unicode.Is(unicode.Pc, r) ||
		r == 0x200C || r == 0x200D
}

func endsWithWordChar(s string) bool {
	r, _ := utf8.DecodeLastRuneInString(s)
	return s != "" && isWordChar(r)
}

func startsWithWordChar(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return s != "" && isWordChar(r)
}

// leftmostSpaceAtEnd is where the run of whitespace ending s begins.
func leftmostSpaceAtEnd(s string) int {
	i := len(s)
	for i > 0 {
		r, n := utf8.DecodeLastRuneInString(s[:i])
		if !unicode.IsSpace(r) {
			break
		}
		i -= n
	}
	return i
}

// rightmostSpaceAtStart is the length of the whitespace run starting s.
func rightmostSpaceAtStart(s string) int {
	i := 0
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !unicode.IsSpace(r) {
			break
		}
		i += n
	}
	return i
}

// byteTrie maps byte strings to ids and finds the longest key that prefixes
// a string.
type byteTrie struct {
	next  map[byte]*byteTrie
	id    int32
	isEnd bool
}

func (t *byteTrie) empty() bool { return len(t.next) == 0 && !t.isEnd }

func (t *byteTrie) insert(key string, id int32) {
	n := t
	for i := 0; i < len(key); i++ {
		if n.next == nil {
			n.next = map[byte]*byteTrie{}
		}
		c, ok := n.next[key[i]]
		if !ok {
			c = &byteTrie{}
			n.next[key[i]] = c
		}
		n = c
	}
	if key != "" && !n.isEnd {
		n.isEnd, n.id = true, id
	}
}

// longest returns the length of the longest key prefixing s and its id
// (length 0 when none does).
func (t *byteTrie) longest(s string) (int, int32) {
	n := t
	best, bestID := 0, int32(-1)
	for i := 0; i < len(s); i++ {
		c, ok := n.next[s[i]]
		if !ok {
			break
		}
		n = c
		if n.isEnd {
			best, bestID = i+1, n.id
		}
	}
	return best, bestID
}
