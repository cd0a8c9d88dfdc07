package tokenizer

import (
	"errors"
	"strings"
)

// DecodeStream turns ids into text one id at a time, for showing generated
// text as it arrives. It is tokenizers' DecodeStream: each step decodes a
// short window of recent ids and returns only the new text, holding text
// back while it ends in an incomplete UTF-8 sequence (U+FFFD), so
// byte-fallback characters split over several ids come out whole and decoders
// that look at neighbouring tokens (Strip, Metaspace, WordPiece) give the
// same text as decoding everything at once.
type DecodeStream struct {
	t           *Tokenizer
	skipSpecial bool
	ids         []int32
	prefix      string
	prefixIndex int
}

// ErrStreamPrefix is returned by DecodeStream.Step when decoding a longer
// window changed text already returned (a decoder this package does not
// use could do that).
var ErrStreamPrefix = errors.New("decode stream: text already returned changed")

// NewDecodeStream starts an incremental decoding; skipSpecial leaves out
// special tokens as Decode(ids, true) does.
func (t *Tokenizer) NewDecodeStream(skipSpecial bool) *DecodeStream {
	return &DecodeStream{t: t, skipSpecial: skipSpecial}
}

// Step adds one id and returns the text it completes ("" when the text is
// not ready yet, as in the middle of a multi-byte character).
func (s *DecodeStream) Step(id int32) (string, error) {
	if s.prefix == "" && len(s.ids) > 0 {
		if p := s.t.Decode(s.ids, s.skipSpecial); !strings.HasSuffix(p, "\uFFFD") {
			s.prefix, s.prefixIndex = p, len(s.ids)
		}
	}
	s.ids = append(s.ids, id)
	text := s.t.Decode(s.ids, s.skipSpecial)
	if len(text) <= len(s.prefix) || strings.HasSuffix(text, "\uFFFD") {
		return "", nil
	}
	if !strings.HasPrefix(text, s.prefix) {
		return "", ErrStreamPrefix
	}
	out := text[len(s.prefix):]
	newPrefixIndex := len(s.ids) - s.prefixIndex
	s.ids = append([]int32(nil), s.ids[s.prefixIndex:]...)
	s.prefix = s.t.Decode(s.ids, s.skipSpecial)
	s.prefixIndex = newPrefixIndex
	return out, nil
}
