package tokenizer

import "unicode/utf8"

// wordPiece is tokenizers' WordPiece model: greedy longest-match-first
// subwords, continuations spelled with a prefix ("##"); a word with an
// unmatchable part, or longer than maxChars characters, becomes the unk token.
type wordPiece struct {
	vocab    map[string]int32
	ids      map[int32]string
	unk      string
	prefix   string
	maxChars int
}

func newWordPiece(vocab map[string]int32, unk, prefix string, maxChars int) *wordPiece {
	w := &wordPiece{vocab: vocab, ids: make(map[int32]string, len(vocab)), unk: unk, prefix: prefix, maxChars: maxChars}
	for tok, id := range vocab {
		w.ids[id] = tok
	}
	return w
}

func (w *wordPiece) tokenToID(tok string) (int32, bool) { id, ok := w.vocab[tok]; return id, ok }
func (w *wordPiece) idToToken(id int32) (string, bool)  { s, ok := w.ids[id]; return s, ok }
func (w *wordPiece) size() int                          { return len(w.vocab) }

func (w *wordPiece) unkOr(out []int32) []int32 {
	// tokenizers fails the whole encode when the unk token is missing;
	// Glimpse drops the word instead of failing.
	if id, ok := w.vocab[w.unk]; ok {
		return append(out, id)
	}
	return out
}

func (w *wordPiece) tokenize(s string, out []int32) []int32 {
	if utf8.RuneCountInString(s) > w.maxChars {
		return w.unkOr(out)
	}
	mark := len(out)
	for start := 0; start < len(s); {
		end := len(s)
		found := false
		for start < end {
			sub := s[start:end]
			if start > 0 {
				sub = w.prefix + sub
			}
			if id, ok := w.vocab[sub]; ok {
				out = append(out, id)
				found = true
				break
			}
			_, n := utf8.DecodeLastRuneInString(s[start:end])
			end -= n
		}
		if !found {
			return w.unkOr(out[:mark])
		}
		start = end
	}
	return out
}
