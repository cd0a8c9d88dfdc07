#!/bin/sh
# bench-ggml.sh TEST_BACKEND_OPS: the CPU kernels of Glimpse and of ggml
# (llama.cpp's tensor library) at the same shapes, back to back in one
# invocation, and one table of both with their ratio (issue #13).
#
# TEST_BACKEND_OPS is a test-backend-ops binary built from ggml's public
# sources for this machine's CPU, e.g. from a checkout of ggml-org/ggml or
# ggml-org/llama.cpp:
#   cmake -B build -DGGML_BUILD_TESTS=ON -DGGML_NATIVE=ON -DCMAKE_BUILD_TYPE=Release
#   cmake --build build -j2 --target test-backend-ops
# This script builds and downloads nothing.
#
# ggml's perf mode has fixed shapes (4096 x 14336), so Glimpse's shapes go in
# through --test-file as plain MUL_MAT ops: w [m, k] (ggml's src0, type_a)
# times x [n, k] (src1, f32), n = 1 (decoding), 5 (five beams) and 257 (the
# ViT-g MLP), and n = 1 over 0.5-0.6 GB of weights, past the last-level
# cache, where memory bandwidth bounds both as it bounds decoding a
# full-size model; those run twice on Glimpse's side, with the weights in
# the Go heap's 4 KiB pages (as ggml's buffers are) and in transparent huge
# pages (as the model loader maps them: model/hostmem_unix.go). ggml runs
# on as many threads as the machine has cores, as does Glimpse (GOMAXPROCS).
#
# Environment: BENCHTIME (go test -benchtime, default 100x: ten runs of a
# 2 ms product gave 0.71× and 1.32× ggml for the same Q4 kernel in two
# invocations minutes apart on the 2-core CI machine); ROUNDS (default 1):
# run ggml and Glimpse that many times, alternating, and report each
# side's median and the range of the rounds' ratios (a shared machine's
# memory bandwidth drifts within minutes: one round gave Glimpse's Q8
# 0.38× ggml where the rounds around it gave 1.00× and 0.78×);
# GGML_COMMIT, a label printed with the table (the commit the binary was
# built from).
set -eu

tbo=${1:-}
if [ -z "$tbo" ] || [ ! -x "$tbo" ] || [ -d "$tbo" ]; then
	echo "usage: $0 PATH/TO/test-backend-ops" >&2
	echo "  needs ggml's test-backend-ops, built for the CPU (see the comment at the top of $0);" >&2
	echo "  '${tbo}' is not an executable file" >&2
	exit 2
fi
rounds=${ROUNDS:-1}
case $rounds in
'' | *[!0-9]* | 0)
	echo "ROUNDS must be a whole number of rounds, 1 or more (got '$rounds')" >&2
	exit 2
	;;
esac
cd "$(dirname "$0")/.."
export GOFLAGS="${GOFLAGS:--tags=accessibility -trimpath}"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# One MUL_MAT per line, as test-backend-ops --test-file reads them: op
# (GGML_OP_MUL_MAT = 29), output type (f32 = 0), output ne, no op params, two
# sources (type, ne, nb; nb 0 = contiguous), name. ggml type numbers: f32 0,
# f16 1, q4_0 2, q8_0 8, q4_K 12, q6_K 14, bf16 30.
mulmat() { # name type m n k
	echo "29 0 $3 $4 1 1 0 2 $2 $5 $3 1 1 0 0 0 0 0 $5 $4 1 1 0 0 0 0 $1"
}
{
	for t in f32:0 f16:1 bf16:30 q8:8 q4:2 q4k:12 q6k:14; do
		mulmat "vec_${t%%:*}" "${t#*:}" 11008 1 4096
	done
	for t in f32:0 f16:1 q8:8 q4:2 q4k:12 q6k:14; do
		mulmat "beams_${t%%:*}" "${t#*:}" 11008 5 4096
	done
	for t in f32:0 f16:1; do
		mulmat "mat_${t%%:*}" "${t#*:}" 6144 257 1408
	done
	# Matrix-vector over weights larger than the last-level cache (0.5-0.6
	# GB), as a full-size model's are: memory bandwidth bounds these.
	mulmat dram_f16 1 32768 1 8192
	mulmat dram_q8 8 65536 1 8192
	mulmat dram_q4k 12 131072 1 8192
	mulmat dram_q6k 14 81920 1 8192
} >"$tmp/shapes.txt"

echo "== machine: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -1), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
echo "== glimpse $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- compute 2>/dev/null || echo ' (compute/ modified)'), ggml ${GGML_COMMIT:-(commit not given)}"
bench='CPU(LinearVec|LinearBeams|LinearMat|MatMul|LinearVecDRAM|LinearVecDRAMHuge)$'
echo "== ggml: $tbo perf -o MUL_MAT -b CPU --test-file shapes.txt"
echo "== glimpse: go test -c ./compute/cpu/, run with -test.run '^\$' -test.bench '$bench' -test.benchtime ${BENCHTIME:-100x}"
echo "== $rounds round(s), alternating"
go test -c -o "$tmp/cpu.test" ./compute/cpu/
: >"$tmp/ggml.us"
: >"$tmp/go.us"
r=1
while [ "$r" -le "$rounds" ]; do
	"$tbo" perf -o MUL_MAT -b CPU --test-file "$tmp/shapes.txt" >"$tmp/ggml.txt" 2>&1 || {
		cat "$tmp/ggml.txt" >&2
		echo "test-backend-ops failed" >&2
		exit 1
	}
	# name us-per-run, one line per shape and round
	n=$(wc -l <"$tmp/ggml.us")
	sed -n 's/.*MUL_MAT(name=\([a-z0-9_]*\),.* - *\([0-9.]*\) us\/run.*/\1 \2/p' "$tmp/ggml.txt" >>"$tmp/ggml.us"
	if [ "$(wc -l <"$tmp/ggml.us")" -eq "$n" ]; then
		cat "$tmp/ggml.txt" >&2
		echo "no MUL_MAT timings in test-backend-ops' output" >&2
		exit 1
	fi
	# The test binary runs in its package's folder, as go test runs it.
	(cd compute/cpu && "$tmp/cpu.test" -test.run '^$' -test.bench "$bench" -test.benchtime "${BENCHTIME:-100x}") >"$tmp/go.txt" 2>&1 || {
		cat "$tmp/go.txt" >&2
		echo "the benchmarks failed" >&2
		exit 1
	}
	# name ns-per-op, named as the ggml lines are
	sed -n 's/^Benchmark\([A-Za-z]*\)\/[^/]*\/\([a-z0-9]*\)-[0-9]*[[:space:]].*[[:space:]]\([0-9.]*\) ns\/op.*/\1 \2 \3/p' "$tmp/go.txt" |
		awk '{k=$1=="CPULinearVec"?"vec":$1=="CPULinearBeams"?"beams":$1=="CPULinearVecDRAM"?"dram":$1=="CPULinearVecDRAMHuge"?"dramhuge":"mat"; print k "_" $2, $3/1000}' >>"$tmp/go.us"
	sed -n 's/^BenchmarkCPUMatMul\/[^ ]*-[0-9]*[[:space:]].*[[:space:]]\([0-9.]*\) ns\/op.*/matmul_f32 \1/p' "$tmp/go.txt" |
		awk '{print $1, $2/1000}' >>"$tmp/go.us"
	r=$((r + 1))
done

# The table: matrix-vector in ns per weight, beams and products in
# GFLOP/s, each side's median over the rounds; "Glimpse/ggml" is Glimpse's
# speed over ggml's (above 1: faster), of the medians, then the lowest and
# highest of the rounds' own ratios (round r's ggml time over round r's
# Glimpse time).
awk -v gg="$tmp/ggml.us" '
	function median(a, c,    i, j, t, v) {
		for (i = 1; i <= c; i++) v[i] = a[i]
		for (i = 2; i <= c; i++) for (j = i; j > 1 && v[j-1] > v[j]; j--) { t = v[j]; v[j] = v[j-1]; v[j-1] = t }
		return (c % 2) ? v[(c+1)/2] : (v[c/2] + v[c/2+1]) / 2
	}
	FILENAME == gg { ng[$1]++; ggml[$1, ng[$1]] = $2; next }
	{ if (!($1 in nm)) order[++n] = $1; nm[$1]++; glimpse[$1, nm[$1]] = $2 }
	END {
		printf "| kernel | weights | ggml | Glimpse | Glimpse/ggml | rounds (lowest-highest) |\n|---|---|---|---|---|---|\n"
		for (i = 1; i <= n; i++) {
			k = order[i]; split(k, p, "_"); g = (p[1] == "matmul") ? "mat_f32" : (p[1] == "dramhuge") ? "dram_" p[2] : k
			if (!(g in ng)) continue
			c = (ng[g] < nm[k]) ? ng[g] : nm[k]
			lo = 1e30; hi = 0
			for (r = 1; r <= c; r++) {
				a[r] = ggml[g, r]; b[r] = glimpse[k, r]; q = a[r] / b[r]
				if (q < lo) lo = q
				if (q > hi) hi = q
			}
			mg = median(a, c); mo = median(b, c)
			spread = sprintf("%.2fx-%.2fx (%d)", lo, hi, c)
			if (p[1] == "vec") {
				w = 11008 * 4096
				printf "| matrix-vector 4096->11008 (ns/weight) | %s | %.3f | %.3f | %.2fx | %s |\n", p[2], mg*1000/w, mo*1000/w, mg/mo, spread
			} else if (p[1] == "dram" || p[1] == "dramhuge") {
				m = (p[2] == "f16") ? 32768 : (p[2] == "q8") ? 65536 : (p[2] == "q6k") ? 81920 : 131072
				w = 8192 * m
				what = (p[1] == "dram") ? "past the cache" : "past the cache, Glimpse in huge pages as loaded"
				printf "| matrix-vector 8192->%d, %s (ns/weight) | %s | %.3f | %.3f | %.2fx | %s |\n", m, what, p[2], mg*1000/w, mo*1000/w, mg/mo, spread
			} else {
				if (p[1] == "beams") { f = 2*5*4096*11008; what = "5 beams 4096->11008 (GFLOP/s)" }
				else { f = 2*257*1408*6144; what = (p[1] == "mat") ? "Linear 257x1408->6144 (GFLOP/s)" : "MatMul 257x1408x6144, ggml f32 Linear (GFLOP/s)" }
				printf "| %s | %s | %.1f | %.1f | %.2fx | %s |\n", what, p[2], f/mg/1000, f/mo/1000, mg/mo, spread
			}
		}
	}' "$tmp/ggml.us" "$tmp/go.us"
