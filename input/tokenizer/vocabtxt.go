package tokenizer

import (
	"fmt"
	"strings"
)

// fromVocabTxt builds the tokenizer transformers 5's BertTokenizer builds
// from a vocab.txt (one token per line, the line number is the id):
// BertNormalizer, BertPreTokenizer, WordPiece with "##" continuations,
// [CLS] … [SEP] and the WordPiece decoder.
func fromVocabTxt(data []byte, cfg *hfConfig) (*Tokenizer, error) {
	text := string(data)
	text = strings.TrimSuffix(text, "\n")
	if text == "" {
		return nil, fmt.Errorf("vocab.txt is empty")
	}
	vocab := map[string]int32{}
	for i, line := range strings.Split(text, "\n") {
		// Python reads the file with universal newlines, so "\r\n" ends a
		// line too; a later duplicate wins, as in load_vocab's dict.
		vocab[strings.TrimSuffix(line, "\r")] = int32(i)
	}
	unk, ok := cfg.specialToken("unk_token")
	if !ok {
		unk = "[UNK]"
	}
	t := &Tokenizer{added: newAddedVocab()}
	t.model = newWordPiece(vocab, unk, "##", 100)
	lower := cfg.boolean("do_lower_case", true)
	b := bertNormalizer{cleanText: true, chineseChars: cfg.boolean("tokenize_chinese_chars", true),
		lowercase: lower, stripAccents: cfg.boolean("strip_accents", lower)}
	t.normalizer = b
	t.preTok = bertPreTokenizer{}
	t.decoder = wordPieceDec{prefix: "##", cleanup: true}
	addConfigTokens(t, cfg)
	t.post = &template{}
	if s, ok := cfg.specialToken("cls_token"); ok {
		if id, ok := t.TokenID(s); ok {
			t.post.before = []int32{id}
		}
	}
	if s, ok := cfg.specialToken("sep_token"); ok {
		if id, ok := t.TokenID(s); ok {
			t.post.after = []int32{id}
		}
	}
	return t, nil
}
