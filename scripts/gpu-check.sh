#!/bin/sh
# gpu-check.sh: every GPU check of issue #14 in one call, one report file.
#
#   scripts/gpu-check.sh build             here (Go, network): the binaries and
#                                          tokenizers into build/gpu-check/
#   scripts/gpu-check.sh run [REPORT]      on the GPU machine (no Go, no network):
#                                          checks, benchmarks, report
#
# run writes the report to $OUT/gpu-check.md when $OUT is set, else to
# REPORT (default gpu-check.md). It runs, each step's output in the report:
#   1. the GL tests under GLIMPSE_REQUIRE_GPU=1 (fail on a software renderer
#      or a fast kernel variant that did not compile);
#   2. the GL kernel benchmarks (matrix–vector at Vicuna-7B's shapes, the
#      ViT-g matmul);
#   3. random-weight Vicuna-7B and Flan-T5-XL checkpoints at full size
#      (scripts/mkcheckpoint, with the tokenizers carried in build/gpu-check);
#   4. `glimpse bench --json` on each, fp16 and q4: time to first token,
#      tokens/s, beam steps/s and the per-step counts;
#   5. where python3 has torch and transformers: transformers' generate on
#      the same checkpoints (fp16; eager, and Vicuna with a static cache), and
#      glimpse's greedy tokens/s over transformers' from this one run.
#
# GLIMPSE_GPU_CHECK_DRY=1 is the dry run for a machine without a GPU
# (llvmpipe): no GLIMPSE_REQUIRE_GPU, 1-layer checkpoints, few tokens, one
# benchmark. It shows the script works, not what a GPU does.
#
# On the device machine (docs/PERFORMANCE.md has the whole recipe): carry
# build/gpu-check and .gl, and run
#   for f in .gl/*.deb; do dpkg -x $f /; done; ldconfig; scripts/gpu-check.sh run
set -u

bin=build/gpu-check

build() {
	set -e
	mkdir -p "$bin"
	GOFLAGS="${GOFLAGS:--tags=accessibility -trimpath}" go build -o "$bin/glimpse" .
	GOFLAGS="${GOFLAGS:--tags=accessibility -trimpath}" go build -o "$bin/mkcheckpoint" ./scripts/mkcheckpoint
	GOFLAGS="${GOFLAGS:--tags=accessibility -trimpath}" go test -c -o "$bin/gltest" ./compute/gl/
	if [ ! -d build/tokenizers ]; then
		scripts/fetch-tokenizers.sh build/tokenizers
	fi
	rm -rf "$bin/tokenizers"
	cp -r build/tokenizers "$bin/tokenizers"
	du -sh "$bin"
}

# section TITLE CMD...: runs CMD, and appends its status and output to the report.
section() {
	title=$1
	shift
	echo "== $title" >&2
	start=$(date +%s)
	"$@" >"$work/out.txt" 2>&1
	rc=$?
	{
		echo
		echo "## $title"
		echo
		echo "\`$*\` → exit $rc in $(($(date +%s) - start)) s"
		echo
		echo '```'
		tail -c 6000 "$work/out.txt"
		echo '```'
	} >>"$report"
	[ $rc -eq 0 ] || failures="$failures\n- $title: exit $rc"
	return $rc
}

run() {
	if [ -n "${OUT:-}" ]; then
		report=$OUT/gpu-check.md
	else
		report=${1:-gpu-check.md}
	fi
	for f in glimpse mkcheckpoint gltest tokenizers; do
		if [ ! -e "$bin/$f" ]; then
			echo "gpu-check: $bin/$f is missing: run scripts/gpu-check.sh build first (here, with Go)" >&2
			exit 2
		fi
	done
	work=$(mktemp -d)
	failures=""
	dry=${GLIMPSE_GPU_CHECK_DRY:-}
	if [ -n "$dry" ]; then
		layers="--layers 1" tokens=4 runs=1 beams=2 bench='GLLinearVec/Vicuna7B_4096x11008/f16' benchtime=1x
		require=""
	else
		layers="" tokens=32 runs=3 beams=5 bench=GL benchtime=20x
		require=1
	fi
	{
		echo "# GPU check"
		echo
		echo "$(date -u +%Y-%m-%dT%H:%MZ) on $(uname -n); ${dry:+DRY RUN (GLIMPSE_GPU_CHECK_DRY: no GLIMPSE_REQUIRE_GPU, 1-layer checkpoints, $tokens tokens), }GPU: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo none found by nvidia-smi)"
	} >"$report"

	section "GL tests (GLIMPSE_REQUIRE_GPU=${require:-unset})" env ${require:+GLIMPSE_REQUIRE_GPU=1} "$bin/gltest" -test.v -test.count 1
	section "GL kernel benchmarks" "$bin/gltest" -test.run '^$' -test.bench "$bench" -test.benchtime "$benchtime"

	for model in vicuna-7b flan-t5-xl; do
		dir=$work/$model
		section "checkpoint $model" "$bin/mkcheckpoint" --model $model --out "$dir" --tokenizers "$bin/tokenizers" $layers || continue
		for precision in fp16 q4; do
			section "glimpse bench $model $precision" "$bin/glimpse" bench --model "$dir" --backend gl --precision $precision \
				--tokens $tokens --runs $runs --beams $beams --json &&
				cp "$work/out.txt" "$work/bench-$model-$precision.json"
		done
		if python3 -c 'import torch, transformers' 2>/dev/null; then
			section "transformers $model fp16" python3 - "$dir" $tokens "$model" <<'EOF' && cp "$work/out.txt" "$work/hf-$model.json"
# transformers' generate on the same random-weight checkpoint, as the
# reference table in ../shared/notes/gpu.md measures it: fp16, greedy with
# EOS held off, the best of 3 after a warm-up; Vicuna also with a static cache.
import json, sys, time
import torch
from PIL import Image
from transformers import InstructBlipForConditionalGeneration, InstructBlipProcessor
path, tokens, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
proc = InstructBlipProcessor.from_pretrained(path)
model = InstructBlipForConditionalGeneration.from_pretrained(path, torch_dtype=torch.float16).cuda().eval()
img = Image.new("RGB", (224, 224), (120, 80, 200))
inputs = proc(images=img, text="What is unusual about this image?", return_tensors="pt").to("cuda", torch.float16)
out = {}
def tps(**kw):
    best = None
    for _ in range(4):
        torch.cuda.synchronize(); t = time.perf_counter()
        model.generate(**inputs, max_new_tokens=1, min_new_tokens=1, **kw)
        torch.cuda.synchronize(); first = time.perf_counter() - t
        t = time.perf_counter()
        model.generate(**inputs, max_new_tokens=tokens, min_new_tokens=tokens, **kw)
        torch.cuda.synchronize(); total = time.perf_counter() - t
        r = (first * 1000, (tokens - 1) / max(total - first, 1e-9))
        best = r if best is None or r[1] > best[1] else best
    return {"first_token_ms": best[0], "greedy_tokens_per_s": best[1]}
with torch.inference_mode():
    out["eager"] = tps(do_sample=False, num_beams=1)
    if name.startswith("vicuna"):
        out["static_cache"] = tps(do_sample=False, num_beams=1, cache_implementation="static")
print(json.dumps(out))
EOF
		else
			echo "
## transformers $model

not run: python3 here has no torch and transformers" >>"$report"
		fi
	done

	python3 - "$work" >>"$report" <<'EOF' || echo "(no python3 for the summary table)" >>"$report"
import glob, json, os, sys
w = sys.argv[1]
print("\n## Summary\n")
print("| model | precision | first token ms | greedy tok/s | beam steps/s | dispatches/step | barriers | uploads (B) | copies | readbacks (B) | vs transformers eager | vs static cache |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for f in sorted(glob.glob(os.path.join(w, "bench-*.json"))):
    model, precision = os.path.basename(f)[6:-5].rsplit("-", 1)
    try:
        r = json.loads(open(f).read().strip().splitlines()[-1])
    except Exception as e:
        print(f"| {model} | {precision} | unreadable: {e} |"); continue
    c = r["counts"]["decode_step"]
    hf, ratio = {}, ["–", "–"]
    try:
        hf = json.loads(open(os.path.join(w, f"hf-{model}.json")).read().strip().splitlines()[-1])
    except Exception:
        pass
    for i, k in enumerate(["eager", "static_cache"]):
        if k in hf and hf[k]["greedy_tokens_per_s"] > 0:
            ratio[i] = "%.2f× (%.1f tok/s)" % (r["greedy_tokens_per_s"] / hf[k]["greedy_tokens_per_s"], hf[k]["greedy_tokens_per_s"])
    print(f"| {model} | {precision} | {r['first_token_ms']:.1f} | {r['greedy_tokens_per_s']:.1f} | {r['beam_steps_per_s']:.1f} | "
          f"{c['dispatches']:.0f} | {c['barriers']:.0f} | {c['uploads']:.0f} ({c['upload_bytes']:.0f}) | {c['copies']:.0f} | "
          f"{c['readbacks']:.0f} ({c['readback_bytes']:.0f}) | {ratio[0]} | {ratio[1]} |")
EOF
	if [ -n "$failures" ]; then
		printf "\n## Failed steps\n$failures\n" >>"$report"
	else
		printf "\n## Failed steps\n\nnone\n" >>"$report"
	fi
	rm -rf "$work"
	echo "gpu-check: report in $report" >&2
	[ -z "$failures" ]
}

case "${1:-}" in
build) build ;;
run)
	shift
	run "$@"
	;;
*)
	echo "usage: scripts/gpu-check.sh build | run [REPORT]   (GLIMPSE_GPU_CHECK_DRY=1 for a dry run)" >&2
	exit 2
	;;
esac
