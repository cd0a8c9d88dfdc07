package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"glimpse/input/tokenizer"
)

// tokenizeStdin is where `glimpse tokenize` reads its texts; tests replace it.
var tokenizeStdin io.Reader = os.Stdin

func init() {
	commands["tokenize"] = command{
		summary: "tokenize JSON strings read from standard input, one per line",
		run:     runTokenize,
	}
}

// tokenizeResult is one output line of `glimpse tokenize`.
type tokenizeResult struct {
	IDs                []int32  `json:"ids"`
	Tokens             []string `json:"tokens"`
	Decoded            string   `json:"decoded"`
	DecodedSkipSpecial string   `json:"decoded_skip_special"`
}

func runTokenize(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tokenize", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("tokenizer", "", "folder with tokenizer files (tokenizer.json, vocab.txt or tokenizer.model/spiece.model)")
	noSpecial := fs.Bool("no-special", false, "leave out the special tokens the tokenizer adds (BOS, EOS, [CLS], [SEP])")
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: glimpse tokenize --tokenizer DIR [--no-special] < lines\n\n"+
			"Reads one JSON-encoded string per line and writes one JSON object per line:\n"+
			`{"ids": [...], "tokens": [...], "decoded": "...", "decoded_skip_special": "..."}`+"\n\n")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *dir == "" || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	tok, err := tokenizer.Load(*dir)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	in := bufio.NewReader(tokenizeStdin)
	out := bufio.NewWriter(stdout)
	defer out.Flush()
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
				return fail(stderr, "writing output: %v", err)
			}
		}
		if err != nil { // io.EOF after the last line
			return 0
		}
	}
}
