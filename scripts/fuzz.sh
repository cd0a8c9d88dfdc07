#!/bin/sh
# fuzz.sh [SECONDS]: fuzzes the parsers of untrusted files beyond their seed
# corpora, each for SECONDS (default 15): config.json, safetensors headers,
# tokenizer files and images. Part of `make test`; a crash fails the run and
# leaves the input under the package's testdata/fuzz for a regression test.
set -eu
cd "$(dirname "$0")/.."
t=${1:-15}
for target in \
	./checkpoint/config:FuzzParse \
	./checkpoint/safetensors:FuzzParseHeader \
	./input/tokenizer:FuzzTokenizerJSON \
	./input/tokenizer:FuzzSentencePieceModel \
	./input/imageproc:FuzzDecode; do
	pkg=${target%%:*}
	fn=${target#*:}
	echo "fuzz.sh: $fn in $pkg for ${t}s"
	go test -run '^$' -fuzz "^$fn\$" -fuzztime "${t}s" "$pkg"
done
