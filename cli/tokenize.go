package cli

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"strings"

	"glimpse/input/tokenizer"
)

var tokenizeCmd = &Command{
	Name:      "tokenize",
	UsageLine: "tokenize --tokenizer DIR [--no-special] < lines",
	Short:     "tokenize JSON strings read from standard input, one per line",
	Long: "Reads one JSON-encoded string per line and writes one JSON object per line:\n" +
		`{"ids": [...], "tokens": [...], "decoded": "...", "decoded_skip_special": "..."}` + "\n\n",
	Run: runTokenize,
}

// tokenizeResult is one output line of `glimpse tokenize`.
type tokenizeResult struct {
	IDs                []int32  `json:"ids"`
	Tokens             []string `json:"tokens"`
	Decoded            string   `json:"decoded"`
	DecodedSkipSpecial string   `json:"decoded_skip_special"`
}

// runTokenize serves comparing the tokenizers with Hugging Face's; it
// needs a tokenizer folder alone, so it uses the tokenizer package directly.
func runTokenize(env *Env, fs *flag.FlagSet, args []string) int {
	stdout, stderr := env.Stdout, env.Stderr
	dir := fs.String("tokenizer", "", "folder with tokenizer files (tokenizer.json, vocab.txt or tokenizer.model/spiece.model)")
	noSpecial := fs.Bool("no-special", false, "leave out the special tokens the tokenizer adds (BOS, EOS, [CLS], [SEP])")
	if code, ok := parse(fs, args, required("tokenizer"), noArgs); !ok {
		return code
	}
	tok, err := tokenizer.Load(*dir)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	in := bufio.NewReader(env.Stdin)
	out := bufio.NewWriter(stdout)
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false) // keep <s>, </s> and & readable
	for lineNo := 1; ; lineNo++ {
		line, err := in.ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			out.Flush()
			return fail(stderr, "reading standard input: %v", err)
		}
		if strings.TrimSpace(line) != "" {
			var text string
			if jerr := json.Unmarshal([]byte(line), &text); jerr != nil {
				out.Flush()
				return fail(stderr, "line %d is not a JSON string: %v", lineNo, jerr)
			}
			e := tok.Encode(text, !*noSpecial)
			r := tokenizeResult{IDs: e.IDs, Tokens: e.Tokens,
				Decoded: tok.Decode(e.IDs, false), DecodedSkipSpecial: tok.Decode(e.IDs, true)}
			if r.IDs == nil {
				r.IDs, r.Tokens = []int32{}, []string{}
			}
			if err := enc.Encode(r); err != nil {
				return fail(stderr, "%v", err)
			}
		}
		if err != nil { // io.EOF after the last line
			if err := out.Flush(); err != nil {
				return fail(stderr, "%v", err)
			}
			return 0
		}
	}
}
