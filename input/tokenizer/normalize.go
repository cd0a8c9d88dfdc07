package tokenizer

import (
	"regexp"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// normalizer rewrites text before pre-tokenization (tokenizers' normalizers;
// alignment tracking is not needed here because Glimpse does not use offsets).
type normalizer interface {
	normalize(s string) string
}

type normalizerSeq []normalizer

func (q normalizerSeq) normalize(s string) string {
	for _, n := range q {
		s = n.normalize(s)
	}
	return s
}

// unicodeNorm is one of the NFC/NFD/NFKC/NFKD normalizers.
type unicodeNorm struct{ form norm.Form }

func (u unicodeNorm) normalize(s string) string { return u.form.String(s) }

type lowercase struct{}

func (lowercase) normalize(s string) string { return toLowerChars(s) }

// toLowerChars lowercases per character as Rust's char::to_lowercase does:
// the simple mapping everywhere except U+0130, whose full lowercase is
// "i̇". (Rust's str::to_lowercase final-sigma rule is not used by tokenizers.)
func toLowerChars(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if r == 0x130 {
			b.WriteString("i\u0307")
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// prepend adds a prefix to non-empty text (the LLaMA "legacy" normalizer's ▁).
type prepend struct{ prefix string }

func (p prepend) normalize(s string) string {
	if s == "" {
		return s
	}
	return p.prefix + s
}

// replace replaces a literal string or a regular expression.
type replace struct {
	literal string
	re      *regexp.Regexp
	content string
}

func (r replace) normalize(s string) string {
	if r.re != nil {
		return r.re.ReplaceAllLiteralString(s, r.content)
	}
	if r.literal == "" {
		return s
	}
	return strings.ReplaceAll(s, r.literal, r.content)
}

// strip removes whitespace on the left and/or right.
type strip struct{ left, right bool }

func (st strip) normalize(s string) string {
	if st.left {
		s = strings.TrimLeftFunc(s, unicode.IsSpace)
	}
	if st.right {
		s = strings.TrimRightFunc(s, unicode.IsSpace)
	}
	return s
}

// stripAccents drops nonspacing marks (apply after NFD, as tokenizers expects).
type stripAccents struct{}

func (stripAccents) normalize(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Mn, r) {
			return -1
		}
		return r
	}, s)
}

// bertNormalizer is tokenizers' BertNormalizer.
type bertNormalizer struct {
	cleanText, chineseChars, stripAccents, lowercase bool
}

func (b bertNormalizer) normalize(s string) string {
	if b.cleanText {
		s = strings.Map(func(r rune) rune {
			if r == 0 || r == 0xFFFD || isBertControl(r) {
				return -1
			}
			if isBertWhitespace(r) {
				return ' '
			}
			return r
		}, s)
	}
	if b.chineseChars {
		var sb strings.Builder
		for _, r := range s {
			if isChineseChar(r) {
				sb.WriteByte(' ')
				sb.WriteRune(r)
				sb.WriteByte(' ')
			} else {
				sb.WriteRune(r)
			}
		}
		s = sb.String()
	}
	if b.stripAccents {
		s = stripAccents{}.normalize(norm.NFD.String(s))
	}
	if b.lowercase {
		s = toLowerChars(s)
	}
	return s
}

func isBertWhitespace(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' || unicode.IsSpace(r)
}

// isBertControl is tokenizers' is_control: the unicode_categories crate's
// is_other (control, format and private-use characters; unassigned ones are
// not included), tab, newline and carriage return excepted.
func isBertControl(r rune) bool {
	if r == '\t' || r == '\n' || r == '\r' {
		return false
	}
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co)
}

// isChineseChar is BERT's CJK Unified Ideographs test.
func isChineseChar(r rune) bool {
	switch {
	case r >= 0x4E00 && r <= 0x9FFF, r >= 0x3400 && r <= 0x4DBF, r >= 0x20000 && r <= 0x2A6DF,
		r >= 0x2A700 && r <= 0x2B73F, r >= 0x2B740 && r <= 0x2B81F, r >= 0x2B920 && r <= 0x2CEAF,
		r >= 0xF900 && r <= 0xFAFF, r >= 0x2F800 && r <= 0x2FA1F:
		return true
	}
	return false
}
