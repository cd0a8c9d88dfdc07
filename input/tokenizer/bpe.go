package tokenizer

import (
	"container/heap"
	"fmt"
	"sync"
	"unicode/utf8"
)

// bpe is tokenizers' BPE model: a word starts as its characters (or, with
// byte_fallback, the <0xNN> tokens of characters missing from the vocabulary)
// and adjacent pairs are merged lowest rank first until no merge applies.
type bpe struct {
	vocab        map[string]int32
	ids          map[int32]string
	merges       map[uint64]mergeRule
	unk          string
	hasUnk       bool
	fuseUnk      bool
	byteFallback bool
	prefix       string // continuing_subword_prefix
	suffix       string // end_of_word_suffix
	ignoreMerges bool
	byteTok      [256]int32 // id of <0xNN>, -1 when absent

	cache wordCache
}

type mergeRule struct{ rank, newID int32 }

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// newBPE builds the model; merges are pairs of token strings in rank order
// and prefix is the continuing_subword_prefix ("" for none).
func newBPE(vocab map[string]int32, merges [][2]string, prefix string) (*bpe, error) {
	m := &bpe{vocab: vocab, ids: make(map[int32]string, len(vocab)),
		merges: make(map[uint64]mergeRule, len(merges)), prefix: prefix}
	for tok, id := range vocab {
		m.ids[id] = tok
	}
	prefixLen := len(prefix)
	for rank, mg := range merges {
		a, ok1 := vocab[mg[0]]
		b, ok2 := vocab[mg[1]]
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("merge %q %q uses a token missing from the vocabulary", mg[0], mg[1])
		}
		// With a continuing_subword_prefix the right part's prefix is
		// dropped in the merged token.
		right := mg[1]
		if m.prefix != "" && len(right) >= prefixLen {
			right = right[prefixLen:]
		}
		id, ok := vocab[mg[0]+right]
		if !ok {
			return nil, fmt.Errorf("merge %q %q makes a token missing from the vocabulary", mg[0], mg[1])
		}
		// A repeated pair keeps its last rank, as tokenizers' HashMap collect does.
		m.merges[pairKey(a, b)] = mergeRule{rank: int32(rank), newID: id}
	}
	return m, nil
}

func (m *bpe) finish() {
	for b := range 256 {
		id, ok := m.vocab[fmt.Sprintf("<0x%02X>", b)]
		if !ok {
			id = -1
		}
		m.byteTok[b] = id
	}
	m.cache.init(10000)
}

func (m *bpe) tokenToID(tok string) (int32, bool) { id, ok := m.vocab[tok]; return id, ok }
func (m *bpe) idToToken(id int32) (string, bool)  { s, ok := m.ids[id]; return s, ok }
func (m *bpe) size() int                          { return len(m.vocab) }

func (m *bpe) tokenize(w string, out []int32) []int32 {
	if w == "" {
		return out
	}
	if m.ignoreMerges {
		if id, ok := m.vocab[w]; ok {
			return append(out, id)
		}
	}
	if ids, ok := m.cache.get(w); ok {
		return append(out, ids...)
	}
	ids := m.mergeWord(w)
	if utf8.RuneCountInString(w) < 256 {
		m.cache.put(w, ids)
	}
	return append(out, ids...)
}

// symbol is one node of the word's doubly linked list of parts.
type symbol struct {
	id         int32
	prev, next int
	size       int // bytes covered; 0 once merged away
}

// mergeWord is tokenizers' BPE::merge_word followed by Word::merge_all.
func (m *bpe) mergeWord(w string) []int32 {
	syms := make([]symbol, 0, len(w))
	add := func(id int32, n int) {
		i := len(syms)
		syms = append(syms, symbol{id: id, prev: i - 1, next: i + 1, size: n})
	}
	unkID, unkLen, pendingUnk := int32(0), 0, false
	for i, r := range w {
		n := utf8.RuneLen(r)
		s := w[i : i+n]
		if i > 0 && m.prefix != "" {
			s = m.prefix + s
		}
		if i+n == len(w) && m.suffix != "" {
			s += m.suffix
		}
		if id, ok := m.vocab[s]; ok {
			if pendingUnk {
				add(unkID, unkLen)
				pendingUnk = false
			}
			add(id, n)
			continue
		}
		if m.byteFallback {
			ok := true
			for j := 0; j < len(s); j++ {
				if m.byteTok[s[j]] < 0 {
					ok = false
					break
				}
			}
			if ok {
				// As in tokenizers, a pending unk is not flushed here.
				for j := 0; j < len(s); j++ {
					add(m.byteTok[s[j]], 1)
				}
				continue
			}
		}
		if !m.hasUnk {
			continue // no unk token: the character is dropped
		}
		id, ok := m.vocab[m.unk]
		if !ok {
			continue
		}
		switch {
		case pendingUnk && m.fuseUnk:
			unkLen += n
		case pendingUnk:
			add(unkID, unkLen)
			unkID, unkLen = id, n
		default:
			unkID, unkLen, pendingUnk = id, n, true
		}
	}
	if pendingUnk {
		add(unkID, unkLen)
	}
	if len(syms) > 0 {
		syms[len(syms)-1].next = -1
	}
	m.mergeAll(syms)
	out := make([]int32, 0, len(syms))
	for _, s := range syms {
		if s.size != 0 {
			out = append(out, s.id)
		}
	}
	return out
}

// mergeAll applies merges lowest rank first (leftmost on ties) with a
// priority queue, skipping stale entries: O(n log n) per word.
func (m *bpe) mergeAll(syms []symbol) {
	q := make(mergeQueue, 0, len(syms))
	for i := 0; i+1 < len(syms); i++ {
		if r, ok := m.merges[pairKey(syms[i].id, syms[i+1].id)]; ok {
			q = append(q, queued{rank: r.rank, pos: i, newID: r.newID})
		}
	}
	heap.Init(&q)
	for q.Len() > 0 {
		top := heap.Pop(&q).(queued)
		cur := &syms[top.pos]
		if cur.size == 0 || cur.next == -1 {
			continue
		}
		nextPos := cur.next
		right := syms[nextPos]
		r, ok := m.merges[pairKey(cur.id, right.id)]
		if !ok || r.newID != top.newID {
			continue // stale entry
		}
		cur.id = top.newID
		cur.size += right.size
		cur.next = right.next
		syms[nextPos].size = 0
		if right.next >= 0 && right.next < len(syms) {
			syms[right.next].prev = top.pos
		}
		if cur.prev >= 0 {
			if r, ok := m.merges[pairKey(syms[cur.prev].id, cur.id)]; ok {
				heap.Push(&q, queued{rank: r.rank, pos: cur.prev, newID: r.newID})
			}
		}
		if cur.next >= 0 && cur.next < len(syms) {
			if r, ok := m.merges[pairKey(cur.id, syms[cur.next].id)]; ok {
				heap.Push(&q, queued{rank: r.rank, pos: top.pos, newID: r.newID})
			}
		}
	}
}

type queued struct {
	rank  int32
	pos   int
	newID int32
}

// mergeQueue is a min-heap on (rank, pos).
type mergeQueue []queued

func (q mergeQueue) Len() int { return len(q) }
func (q mergeQueue) Less(i, j int) bool {
	if q[i].rank != q[j].rank {
		return q[i].rank < q[j].rank
	}
	return q[i].pos < q[j].pos
}
func (q mergeQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *mergeQueue) Push(x any)   { *q = append(*q, x.(queued)) }
func (q *mergeQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

// wordCache remembers the ids of recently seen words, bounded in size.
type wordCache struct {
	mu    sync.RWMutex
	m     map[string][]int32
	limit int
}

func (c *wordCache) init(limit int) { c.m, c.limit = map[string][]int32{}, limit }

func (c *wordCache) get(w string) ([]int32, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	ids, ok := c.m[w]
	return ids, ok
}

func (c *wordCache) put(w string, ids []int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= c.limit {
		return // full: like tokenizers' cache, stop adding
	}
	c.m[w] = ids
}
