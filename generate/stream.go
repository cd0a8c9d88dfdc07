package generate

import (
	"strings"
	"unicode/utf8"
)

// textStream turns successive decodings of a growing token sequence into
// increments that are safe to show: the text sent so far is always a prefix
// of the final text.
//
// Byte-fallback tokenizers spell a character outside the vocabulary as one
// token per UTF-8 byte, and decoding an unfinished run of them gives U+FFFD
// (or, from a decoder that keeps raw bytes, an incomplete UTF-8 sequence).
// Those trailing characters are held back until a later token completes them
// (they turn into the real character) or follows them (they were invalid
// bytes and stay U+FFFD, as transformers prints them). If a decoder ever
// rewrites text already sent, nothing more is sent until the final call,
// which sends the rest after the longest common prefix.
type textStream struct {
	sent string
}

// next takes the decoding of all tokens so far and returns what to send now.
// final flushes everything.
func (t *textStream) next(text string, final bool) string {
	if !final {
		text = holdBack(text)
	}
	if !strings.HasPrefix(text, t.sent) {
		if !final {
			return ""
		}
		n := commonPrefix(text, t.sent)
		t.sent = text
		return text[n:]
	}
	delta := text[len(t.sent):]
	t.sent = text
	return delta
}

// holdBack trims a trailing incomplete UTF-8 sequence and a trailing run of
// U+FFFD from text.
func holdBack(text string) string {
	// An incomplete multi-byte sequence at the end: at most 3 bytes.
	for n := 1; n <= 3 && n <= len(text); n++ {
		tail := text[len(text)-n:]
		if utf8.RuneStart(tail[0]) {
			if !utf8.FullRuneInString(tail) {
				text = text[:len(text)-n]
			}
			break
		}
	}
	return strings.TrimRight(text, "\uFFFD")
}

// commonPrefix is the length of the longest common prefix of a and b that
// ends on a rune boundary of a.
func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	for n > 0 && n < len(a) && !utf8.RuneStart(a[n]) {
		n--
	}
	return n
}
