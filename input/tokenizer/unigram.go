package tokenizer

import (
	"fmt"
	"math"
	"unicode/utf8"
)

// unigram is tokenizers' Unigram model: the Viterbi segmentation of a word
// that maximizes the sum of the pieces' log-probability scores. A character
// no piece covers costs min_score - 10 and becomes unk; consecutive unknowns
// are fused into one unk, and with byte_fallback an unknown piece becomes
// its <0xNN> byte tokens instead.
type unigram struct {
	pieces       []string
	scores       []float64
	vocab        map[string]int32
	unkID        int32 // -1: none
	byteFallback bool
	minScore     float64
	trie         *pieceTrie
	cache        wordCache
}

const unkPenalty = 10.0

func newUnigram(pieces []string, scores []float64, unkID int32, byteFallback bool) (*unigram, error) {
	if unkID >= int32(len(pieces)) {
		return nil, fmt.Errorf("unk_id %d is outside the vocabulary of %d pieces", unkID, len(pieces))
	}
	u := &unigram{pieces: pieces, scores: scores, vocab: make(map[string]int32, len(pieces)),
		unkID: unkID, byteFallback: byteFallback, minScore: math.Inf(1), trie: &pieceTrie{}}
	for i, p := range pieces {
		u.vocab[p] = int32(i) // a repeated piece maps to its last id, as in tokenizers
		u.minScore = math.Min(u.minScore, scores[i])
		u.trie.insert(p)
	}
	u.cache.init(10000)
	return u, nil
}

func (u *unigram) tokenToID(tok string) (int32, bool) { id, ok := u.vocab[tok]; return id, ok }
func (u *unigram) idToToken(id int32) (string, bool) {
	if id < 0 || int(id) >= len(u.pieces) {
		return "", false
	}
	return u.pieces[id], true
}
func (u *unigram) size() int { return len(u.pieces) }

func (u *unigram) tokenize(s string, out []int32) []int32 {
	if s == "" {
		return out
	}
	ids, ok := u.cache.get(s)
	if !ok {
		ids = u.encode(s)
		u.cache.put(s, ids)
	}
	return append(out, ids...)
}

func (u *unigram) encode(s string) []int32 {
	var ids []int32
	for _, piece := range u.viterbi(s) {
		if id, ok := u.vocab[piece]; ok {
			ids = append(ids, id)
			continue
		}
		if u.byteFallback {
			var bytes []int32
			for i := 0; i < len(piece); i++ {
				id, ok := u.vocab[fmt.Sprintf("<0x%02X>", piece[i])]
				if !ok {
					bytes = nil
					break
				}
				bytes = append(bytes, id)
			}
			if bytes != nil {
				ids = append(ids, bytes...)
				continue
			}
		}
		if u.unkID >= 0 {
			ids = append(ids, u.unkID)
		}
	}
	return ids
}

// viterbi is tokenizers' encode_optimized: the best path over byte
// positions, returned as the pieces' strings, with runs of unknowns fused.
func (u *unigram) viterbi(s string) []string {
	type node struct {
		id    int32
		score float64
		start int // -1: unreached
	}
	best := make([]node, len(s)+1)
	for i := range best {
		best[i].start = -1
	}
	unkScore := u.minScore - unkPenalty
	for start := 0; start < len(s); {
		base := best[start].score
		_, mblen := utf8.DecodeRuneInString(s[start:])
		single := false
		u.trie.prefixes(s[start:], func(n int) {
			id := u.vocab[s[start:start+n]]
			cand := base + u.scores[id]
			t := &best[start+n]
			if t.start < 0 || cand > t.score {
				t.score, t.start, t.id = cand, start, id
			}
			if n == mblen {
				single = true
			}
		})
		if !single {
			t := &best[start+mblen]
			cand := base + unkScore
			if t.start < 0 || cand > t.score {
				t.score, t.start, t.id = cand, start, u.unkID
			}
		}
		start += mblen
	}
	var rev []string
	fused := ""
	for end := len(s); end > 0; {
		n := best[end]
		if n.start < 0 {
			break // cannot happen: every character position is reached
		}
		piece := s[n.start:end]
		if u.unkID >= 0 && n.id == u.unkID {
			fused = piece + fused
		} else {
			if fused != "" {
				rev = append(rev, fused)
				fused = ""
			}
			rev = append(rev, piece)
		}
		end = n.start
	}
	if fused != "" {
		rev = append(rev, fused)
	}
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	return rev
}

// pieceTrie finds every vocabulary piece that prefixes a string.
type pieceTrie struct {
	next  map[byte]*pieceTrie
	isEnd bool
}

func (t *pieceTrie) insert(p string) {
	n := t
	for i := 0; i < len(p); i++ {
		if n.next == nil {
			n.next = map[byte]*pieceTrie{}
		}
		c, ok := n.next[p[i]]
		if !ok {
			c = &pieceTrie{}
			n.next[p[i]] = c
		}
		n = c
	}
	n.isEnd = true
}

// prefixes calls f with the byte length of each piece prefixing s, shortest first.
func (t *pieceTrie) prefixes(s string, f func(n int)) {
	n := t
	for i := 0; i < len(s); i++ {
		c, ok := n.next[s[i]]
		if !ok {
			return
		}
		n = c
		if n.isEnd {
			f(i + 1)
		}
	}
}
