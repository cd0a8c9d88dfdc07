package tokenizer

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// word is a pre-tokenized piece of text. first marks the piece that starts
// at offset 0 of the original input (Metaspace's prepend_scheme "first").
type word struct {
	text  string
	first bool
}

// preTokenizer splits normalized text into the words the model sees.
type preTokenizer interface {
	preTokenize(ws []word) []word
}

type preTokSeq []preTokenizer

func (q preTokSeq) preTokenize(ws []word) []word {
	for _, p := range q {
		ws = p.preTokenize(ws)
	}
	return ws
}

// splitBehavior says what happens to the delimiters a split finds.
type splitBehavior int

const (
	removed        splitBehavior = iota // dropped
	isolated                            // each its own piece
	mergedWithNext                      // each starts the following piece
)

// splitWords splits every word at the characters isDelim accepts; each
// delimiter character is a separate match, as in tokenizers. Empty pieces
// are dropped.
func splitWords(ws []word, isDelim func(rune) bool, how splitBehavior) []word {
	var out []word
	for _, w := range ws {
		pieceStart := 0
		emit := func(from, to int) {
			if to > from {
				out = append(out, word{text: w.text[from:to], first: w.first && from == 0})
			}
		}
		for i, r := range w.text {
			if !isDelim(r) {
				continue
			}
			n := utf8.RuneLen(r)
			switch how {
			case removed:
				emit(pieceStart, i)
				pieceStart = i + n
			case isolated:
				emit(pieceStart, i)
				emit(i, i+n)
				pieceStart = i + n
			case mergedWithNext:
				emit(pieceStart, i)
				pieceStart = i
			}
		}
		emit(pieceStart, len(w.text))
	}
	return out
}

// whitespaceSplit splits on Unicode whitespace, dropping it.
type whitespaceSplit struct{}

func (whitespaceSplit) preTokenize(ws []word) []word { return splitWords(ws, unicode.IsSpace, removed) }

// bertPreTokenizer splits on whitespace, then isolates punctuation
// (ASCII punctuation and Unicode P* characters).
type bertPreTokenizer struct{}

func (bertPreTokenizer) preTokenize(ws []word) []word {
	return splitWords(splitWords(ws, unicode.IsSpace, removed), isBertPunct, isolated)
}

func isBertPunct(r rune) bool {
	return (r < 0x80 && unicode.IsPunct(r)) || (r < 0x80 && unicode.IsSymbol(r)) || unicode.IsPunct(r)
}

// punctuation isolates punctuation characters.
type punctuation struct{ how splitBehavior }

func (p punctuation) preTokenize(ws []word) []word { return splitWords(ws, isBertPunct, p.how) }

// whitespacePre is tokenizers' Whitespace pre-tokenizer: \w+|[^\w\s]+.
type whitespacePre struct{}

func (whitespacePre) preTokenize(ws []word) []word {
	var out []word
	for _, w := range ws {
		class := func(r rune) int {
			switch {
			case isWordChar(r):
				return 1
			case unicode.IsSpace(r):
				return 0
			}
			return 2
		}
		start, cur := 0, -1
		for i, r := range w.text {
			c := class(r)
			if c != cur {
				if cur > 0 {
					out = append(out, word{text: w.text[start:i], first: w.first && start == 0})
				}
				start, cur = i, c
			}
		}
		if cur > 0 {
			out = append(out, word{text: w.text[start:], first: w.first && start == 0})
		}
	}
	return out
}

// digits splits digits from the rest (individually or as runs).
type digits struct{ individual bool }

func (d digits) preTokenize(ws []word) []word {
	if d.individual {
		return splitWords(ws, unicode.IsNumber, isolated)
	}
	var out []word
	for _, w := range ws {
		start, cur := 0, -1
		for i, r := range w.text {
			c := 0
			if unicode.IsNumber(r) {
				c = 1
			}
			if c != cur && i > 0 {
				out = append(out, word{text: w.text[start:i], first: w.first && start == 0})
				start = i
			}
			cur = c
		}
		if w.text != "" {
			out = append(out, word{text: w.text[start:], first: w.first && start == 0})
		}
	}
	return out
}

// prependScheme says when Metaspace adds the replacement character in front.
type prependScheme int

const (
	prependAlways prependScheme = iota
	prependFirst                // only to the piece at the start of the input
	prependNever
)

// metaspace replaces spaces with ▁, prepends one as configured, and
// optionally splits before each ▁.
type metaspace struct {
	replacement rune
	scheme      prependScheme
	split       bool
}

func (m metaspace) preTokenize(ws []word) []word {
	rep := string(m.replacement)
	out := make([]word, 0, len(ws))
	for _, w := range ws {
		s := strings.ReplaceAll(w.text, " ", rep)
		if !strings.HasPrefix(s, rep) && (m.scheme == prependAlways || (m.scheme == prependFirst && w.first)) {
			s = rep + s
		}
		out = append(out, word{text: s, first: w.first})
	}
	if !m.split {
		return out
	}
	return splitWords(out, func(r rune) bool { return r == m.replacement }, mergedWithNext)
}
