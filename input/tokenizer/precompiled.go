package tokenizer

import (
	"encoding/binary"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/rivo/uniseg"
)

// precompiled is SentencePiece's precompiled_charsmap normalizer (T5's NFKC
// and whitespace rules): a darts-clone double-array trie over UTF-8 byte
// sequences whose leaves point into a blob of NUL-terminated replacement
// strings.
//
// It reproduces tokenizers' Precompiled normalizer, quirks included: text is
// walked by extended grapheme cluster; a cluster shorter than 6 bytes is
// looked up whole and, if any prefix of it has a rule, the *shortest* such
// prefix's replacement stands for the whole cluster (so "ﬁ" followed by a
// combining accent becomes "fi" and the accent is dropped). Otherwise each
// character is looked up on its own.
type precompiled struct {
	trie       []uint32
	normalized string
}

var errCharsmap = errors.New("cannot parse the precompiled_charsmap normalizer")

// parsePrecompiled reads the binary charsmap: u32 trie byte size, the trie's
// u32 units, then the replacement strings.
func parsePrecompiled(b []byte) (*precompiled, error) {
	if len(b) < 4 {
		return nil, errCharsmap
	}
	size := binary.LittleEndian.Uint32(b)
	n := int(size / 4)
	if n < 1 || uint64(len(b)-4) < uint64(n)*4 {
		return nil, errCharsmap
	}
	p := &precompiled{trie: make([]uint32, n)}
	for i := range p.trie {
		p.trie[i] = binary.LittleEndian.Uint32(b[4+4*i:])
	}
	rest := b[4+4*n:]
	if !utf8.Valid(rest) {
		return nil, errCharsmap
	}
	p.normalized = string(rest)
	return p, nil
}

func unitHasLeaf(u uint32) bool  { return (u>>8)&1 == 1 }
func unitValue(u uint32) uint32  { return u & (1<<31 - 1) }
func unitLabel(u uint32) uint32  { return u & (1<<31 | 0xFF) }
func unitOffset(u uint32) uint32 { return (u >> 10) << ((u & (1 << 9)) >> 6) }
func (p *precompiled) unit(i uint32) (uint32, bool) {
	if int(i) >= len(p.trie) {
		return 0, false
	}
	return p.trie[i], true
}

// firstMatch is darts' common-prefix search, returning its first (shortest)
// result, as tokenizers' Precompiled::transform uses.
func (p *precompiled) firstMatch(key string) (uint32, bool) {
	u, ok := p.unit(0)
	if !ok {
		return 0, false
	}
	pos := unitOffset(u)
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c == 0 {
			break
		}
		pos ^= uint32(c)
		u, ok = p.unit(pos)
		if !ok || unitLabel(u) != uint32(c) {
			return 0, false
		}
		pos ^= unitOffset(u)
		if unitHasLeaf(u) {
			leaf, ok := p.unit(pos)
			if !ok {
				return 0, false
			}
			return unitValue(leaf), true
		}
	}
	return 0, false
}

// transform returns the replacement for chunk, if the charsmap has one.
func (p *precompiled) transform(chunk string) (string, bool) {
	idx, ok := p.firstMatch(chunk)
	if !ok || int(idx) > len(p.normalized) {
		return "", false
	}
	end := strings.IndexByte(p.normalized[idx:], 0)
	if end < 0 {
		end = len(p.normalized) - int(idx)
	}
	s := p.normalized[idx : int(idx)+end]
	if !utf8.ValidString(s) {
		return "", false
	}
	return s, true
}

func (p *precompiled) normalize(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	state := -1
	for s != "" {
		var g string
		g, s, _, state = uniseg.FirstGraphemeClusterInString(s, state)
		if len(g) < 6 {
			if rep, ok := p.transform(g); ok {
				b.WriteString(rep)
				continue
			}
		}
		for i, r := range g {
			part := g[i : i+utf8.RuneLen(r)] // input is valid UTF-8 (Encode sees to it)
			if rep, ok := p.transform(part); ok {
				b.WriteString(rep)
			} else {
				b.WriteString(part)
			}
		}
	}
	return b.String()
}
