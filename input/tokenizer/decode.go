package tokenizer

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// decoder is one step of tokenizers' decoder chain: it rewrites the list of
// token strings; the final text is the concatenation of the last list.
type decoder interface {
	decode(toks []string) []string
}

type decoderSeq []decoder

func (q decoderSeq) decode(toks []string) []string {
	for _, d := range q {
		toks = d.decode(toks)
	}
	return toks
}

// byteFallbackDec turns runs of <0xNN> tokens back into text; a run that is
// not valid UTF-8 becomes one U+FFFD per byte.
type byteFallbackDec struct{}

// parseByteToken reads "<0xNN>" as Rust's u8::from_str_radix(…, 16) would
// (which also accepts a leading '+').
func parseByteToken(t string) (byte, bool) {
	if len(t) != 6 || !strings.HasPrefix(t, "<0x") || t[5] != '>' {
		return 0, false
	}
	h := t[3:5]
	if h[0] == '+' {
		h = h[1:]
	}
	v := 0
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case c >= '0' && c <= '9':
			v = v*16 + int(c-'0')
		case c >= 'a' && c <= 'f':
			v = v*16 + int(c-'a'+10)
		case c >= 'A' && c <= 'F':
			v = v*16 + int(c-'A'+10)
		default:
			return 0, false
		}
	}
	return byte(v), true
}

func (byteFallbackDec) decode(toks []string) []string {
	out := make([]string, 0, len(toks))
	var pending []byte
	flush := func() {
		if len(pending) == 0 {
			return
		}
		if utf8.Valid(pending) {
			out = append(out, string(pending))
		} else {
			for range pending {
				out = append(out, "\uFFFD")
			}
		}
		pending = pending[:0]
	}
	for _, t := range toks {
		if b, ok := parseByteToken(t); ok {
			pending = append(pending, b)
			continue
		}
		flush()
		out = append(out, t)
	}
	flush()
	return out
}

// fuseDec joins all tokens into one.
type fuseDec struct{}

func (fuseDec) decode(toks []string) []string { return []string{strings.Join(toks, "")} }

// stripDec removes up to start leading and stop trailing copies of content
// from each token.
type stripDec struct {
	content     rune
	start, stop int
}

func (s stripDec) decode(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		rs := []rune(t)
		from := 0
		for j := 0; j < s.start && j < len(rs) && rs[j] == s.content; j++ {
			from = j + 1
		}
		to := len(rs)
		for j := 0; j < s.stop; j++ {
			k := len(rs) - j - 1
			if k < from || rs[k] != s.content {
				break
			}
			to = k
		}
		out[i] = string(rs[from:to])
	}
	return out
}

// replaceDec replaces a literal or a pattern in each token.
type replaceDec struct{ r replace }

func (d replaceDec) decode(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		out[i] = d.r.normalize(t)
	}
	return out
}

// metaspaceDec turns ▁ back into spaces; in the first token every ▁ is
// dropped unless the prepend scheme is "never".
type metaspaceDec struct {
	replacement rune
	scheme      prependScheme
}

func (m metaspaceDec) decode(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		var b strings.Builder
		for _, r := range t {
			if r == m.replacement {
				if i == 0 && m.scheme != prependNever {
					continue
				}
				b.WriteByte(' ')
				continue
			}
			b.WriteRune(r)
		}
		out[i] = b.String()
	}
	return out
}

// wordPieceDec glues "##" continuations to the previous token, puts a space
// before other tokens, and (with cleanup) removes spaces before punctuation
// token by token, as tokenizers does.
type wordPieceDec struct {
	prefix  string
	cleanup bool
}

func (w wordPieceDec) decode(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		if i != 0 {
			if strings.HasPrefix(t, w.prefix) {
				t = strings.Replace(t, w.prefix, "", 1)
			} else {
				t = " " + t
			}
		}
		if w.cleanup {
			t = wordPieceCleanup(t)
		}
		out[i] = t
	}
	return out
}

// wordPieceCleanup is tokenizers' decoders::wordpiece::cleanup.
func wordPieceCleanup(s string) string {
	for _, p := range [][2]string{{" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"},
		{" n't", "n't"}, {" 'm", "'m"}, {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}} {
		s = strings.ReplaceAll(s, p[0], p[1])
	}
	return s
}

// regexReplace compiles a tokenizers Regex pattern; Go's RE2 syntax covers
// the patterns converters write (such as " {2,}").
func regexReplace(pattern, content string) (replace, error) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return replace{}, err
	}
	return replace{re: re, content: content}, nil
}
