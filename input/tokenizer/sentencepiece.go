package tokenizer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"
	"unicode/utf8"
)

// SentencePiece piece types (sentencepiece_model.proto).
const (
	spNormal      = 1
	spUnknown     = 2
	spControl     = 3
	spUserDefined = 4
	spUnused      = 5
	spByte        = 6
)

// SentencePiece model types (TrainerSpec.ModelType).
const (
	spUnigram = 1
	spBPE     = 2
)

// spPiece is one ModelProto.SentencePiece.
type spPiece struct {
	piece string
	score float32
	typ   int
}

// spModel is the part of a SentencePiece ModelProto that transformers'
// converters read.
type spModel struct {
	pieces       []spPiece
	modelType    int
	byteFallback bool
	charsmap     []byte
}

var errProto = errors.New("not a SentencePiece model (malformed protobuf)")

// protoReader walks protobuf wire format without generated code.
type protoReader struct {
	b []byte
}

// next returns the next field's number, wire type, and its varint value or
// bytes (for length-delimited and fixed-width fields).
func (r *protoReader) next() (field int, wire int, v uint64, data []byte, err error) {
	key, err := r.varint()
	if err != nil {
		return 0, 0, 0, nil, err
	}
	field, wire = int(key>>3), int(key&7)
	switch wire {
	case 0:
		v, err = r.varint()
	case 1:
		if len(r.b) < 8 {
			return 0, 0, 0, nil, errProto
		}
		data, r.b = r.b[:8], r.b[8:]
		v = binary.LittleEndian.Uint64(data)
	case 2:
		var n uint64
		if n, err = r.varint(); err != nil {
			return 0, 0, 0, nil, err
		}
		if n > uint64(len(r.b)) {
			return 0, 0, 0, nil, errProto
		}
		data, r.b = r.b[:n], r.b[n:]
	case 5:
		if len(r.b) < 4 {
			return 0, 0, 0, nil, errProto
		}
		data, r.b = r.b[:4], r.b[4:]
		v = uint64(binary.LittleEndian.Uint32(data))
	default:
		return 0, 0, 0, nil, errProto
	}
	return field, wire, v, data, err
}

func (r *protoReader) varint() (uint64, error) {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		return 0, errProto
	}
	r.b = r.b[n:]
	return v, nil
}

// parseSentencePiece reads a ModelProto: pieces (1), trainer_spec (2) with
// model_type (3) and byte_fallback (35), normalizer_spec (3) with
// precompiled_charsmap (2).
func parseSentencePiece(b []byte) (*spModel, error) {
	m := &spModel{modelType: spUnigram}
	r := &protoReader{b: b}
	for len(r.b) > 0 {
		field, wire, _, data, err := r.next()
		if err != nil {
			return nil, err
		}
		if wire != 2 {
			continue
		}
		switch field {
		case 1:
			p := spPiece{typ: spNormal}
			pr := &protoReader{b: data}
			for len(pr.b) > 0 {
				f, w, v, d, err := pr.next()
				if err != nil {
					return nil, err
				}
				switch {
				case f == 1 && w == 2:
					if !utf8.Valid(d) {
						return nil, fmt.Errorf("SentencePiece piece %d is not valid UTF-8", len(m.pieces))
					}
					p.piece = string(d)
				case f == 2 && w == 5:
					p.score = math.Float32frombits(uint32(v))
				case f == 3 && w == 0:
					p.typ = int(v)
				}
			}
			m.pieces = append(m.pieces, p)
		case 2:
			tr := &protoReader{b: data}
			for len(tr.b) > 0 {
				f, w, v, _, err := tr.next()
				if err != nil {
					return nil, err
				}
				switch {
				case f == 3 && w == 0:
					m.modelType = int(v)
				case f == 35 && w == 0:
					m.byteFallback = v != 0
				}
			}
		case 3:
			nr := &protoReader{b: data}
			for len(nr.b) > 0 {
				f, w, _, d, err := nr.next()
				if err != nil {
					return nil, err
				}
				if f == 2 && w == 2 {
					m.charsmap = append([]byte(nil), d...)
				}
			}
		}
	}
	if len(m.pieces) == 0 {
		return nil, errProto
	}
	return m, nil
}

// fromSentencePiece builds the tokenizer transformers 5 builds from a
// tokenizer.model/spiece.model: LlamaTokenizer's pipeline for BPE models,
// T5Tokenizer's for Unigram models.
func fromSentencePiece(data []byte, cfg *hfConfig) (*Tokenizer, error) {
	sp, err := parseSentencePiece(data)
	if err != nil {
		return nil, err
	}
	t := &Tokenizer{added: newAddedVocab()}
	switch sp.modelType {
	case spBPE:
		vocab := make(map[string]int32, len(sp.pieces))
		for i, p := range sp.pieces {
			vocab[p.piece] = int32(i)
		}
		b, err := newBPE(vocab, spMerges(sp.pieces, vocab), "")
		if err != nil {
			return nil, err
		}
		// LlamaTokenizer: byte fallback and fused unknowns, no unk token in
		// the model itself.
		b.fuseUnk, b.byteFallback = true, true
		b.finish()
		t.model = b
		addPrefix := cfg.boolean("add_prefix_space", true)
		scheme := prependNever
		if addPrefix {
			scheme = prependFirst
			if cfg.boolean("legacy", true) {
				scheme = prependAlways
			}
		}
		t.preTok = metaspace{replacement: '▁', scheme: scheme, split: false}
		dec := decoderSeq{replaceDec{replace{literal: "▁", content: " "}}, byteFallbackDec{}, fuseDec{}}
		if addPrefix {
			dec = append(dec, stripDec{content: ' ', start: 1})
		}
		t.decoder = dec
	case spUnigram:
		pieces := make([]string, len(sp.pieces))
		scores := make([]float64, len(sp.pieces))
		unkID := int32(-1)
		for i, p := range sp.pieces {
			pieces[i], scores[i] = p.piece, float64(p.score)
			if p.typ == spUnknown && unkID < 0 {
				unkID = int32(i)
			}
		}
		if id := cfg.integer("unk_id", -1); id >= 0 {
			unkID = int32(id)
		}
		u, err := newUnigram(pieces, scores, unkID, sp.byteFallback)
		if err != nil {
			return nil, err
		}
		t.model = u
		if len(sp.charsmap) > 0 {
			pc, err := parsePrecompiled(sp.charsmap)
			if err != nil {
				return nil, err
			}
			t.normalizer = pc
		}
		t.preTok = preTokSeq{whitespaceSplit{}, metaspace{replacement: '▁', scheme: prependAlways, split: true}}
		t.decoder = metaspaceDec{replacement: '▁', scheme: prependAlways}
	default:
		return nil, fmt.Errorf("unsupported SentencePiece model type %d (only BPE and Unigram are)", sp.modelType)
	}
	for i, p := range sp.pieces {
		switch p.typ {
		case spControl, spUnknown:
			t.added.add(addedToken{content: p.piece, special: true}, int32(i))
		case spUserDefined:
			t.added.add(addedToken{content: p.piece}, int32(i))
		}
	}
	addConfigTokens(t, cfg)
	if cfg.className() == "T5Tokenizer" || (cfg.className() == "" && sp.modelType == spUnigram) {
		n := cfg.integer("extra_ids", 100)
		base := int32(len(sp.pieces))
		for i := range n {
			tok := fmt.Sprintf("<extra_id_%d>", i)
			if _, ok := t.added.byContent[tok]; !ok {
				t.added.add(addedToken{content: tok, special: true}, base+int32(n-1-i))
			}
		}
	}
	t.post = spTemplate(t, cfg, sp.modelType)
	return t, nil
}

// spTemplate is the post-processor transformers' LlamaTokenizer
// (add_bos_token, add_eos_token) or T5Tokenizer ($A </s>) sets up.
func spTemplate(t *Tokenizer, cfg *hfConfig, modelType int) *template {
	tp := &template{}
	idOf := func(key string) (int32, bool) {
		s, ok := cfg.specialToken(key)
		if !ok {
			return 0, false
		}
		return t.TokenID(s)
	}
	if modelType == spBPE {
		if id, ok := idOf("bos_token"); ok && cfg.boolean("add_bos_token", true) {
			tp.before = []int32{id}
		}
		if id, ok := idOf("eos_token"); ok && cfg.boolean("add_eos_token", false) {
			tp.after = []int32{id}
		}
		return tp
	}
	if id, ok := idOf("eos_token"); ok {
		tp.after = []int32{id}
	}
	return tp
}

// addConfigTokens adds the entries of tokenizer_config.json's
// added_tokens_decoder and of added_tokens.json that the tokenizer does not
// have yet.
func addConfigTokens(t *Tokenizer, cfg *hfConfig) {
	ids := make([]int32, 0, len(cfg.addedDecoder))
	for id := range cfg.addedDecoder {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		if a := cfg.addedDecoder[id]; !t.hasAdded(a.content) {
			t.added.add(a, id)
		}
	}
	names := make([]string, 0, len(cfg.addedJSON))
	for tok := range cfg.addedJSON {
		names = append(names, tok)
	}
	sort.Slice(names, func(i, j int) bool { return cfg.addedJSON[names[i]] < cfg.addedJSON[names[j]] })
	for _, tok := range names {
		if t.hasAdded(tok) {
			continue
		}
		special := false
		for _, s := range cfg.tokens {
			if s != nil && *s == tok {
				special = true
			}
		}
		t.added.add(addedToken{content: tok, special: special, normalized: !special}, cfg.addedJSON[tok])
	}
}

// spMerges derives BPE merges from SentencePiece pieces the way
// transformers' generate_merges does: every split of a piece into two
// pieces of the vocabulary is a merge; merges are ordered by the piece's
// score (highest first), then by longer left and right parts; ties keep
// vocabulary order.
func spMerges(pieces []spPiece, vocab map[string]int32) [][2]string {
	type cand struct {
		l, r       string
		score      float32
		lLen, rLen int
		lID, rID   int32
	}
	var all []cand
	for _, p := range pieces {
		var local []cand
		for i := range p.piece {
			if i == 0 {
				continue
			}
			l, r := p.piece[:i], p.piece[i:]
			lid, ok1 := vocab[l]
			rid, ok2 := vocab[r]
			if ok1 && ok2 {
				local = append(local, cand{l: l, r: r, score: p.score, lLen: utf8.RuneCountInString(l),
					rLen: utf8.RuneCountInString(r), lID: lid, rID: rid})
			}
		}
		sort.SliceStable(local, func(i, j int) bool {
			if local[i].lID != local[j].lID {
				return local[i].lID < local[j].lID
			}
			return local[i].rID < local[j].rID
		})
		all = append(all, local...)
	}
	// Python's sorted(reverse=True) is stable: equal keys keep their order.
	sort.SliceStable(all, func(i, j int) bool {
		a, b := all[i], all[j]
		if a.score != b.score {
			return a.score > b.score
		}
		if a.lLen != b.lLen {
			return a.lLen > b.lLen
		}
		return a.rLen > b.rLen
	})
	out := make([][2]string, len(all))
	for i, c := range all {
		out[i] = [2]string{c.l, c.r}
	}
	return out
}

func (t *Tokenizer) hasAdded(content string) bool {
	_, ok := t.added.byContent[content]
	return ok
}
