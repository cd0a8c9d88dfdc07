// attention.comp: scaled-dot-product attention, one work group per
// (batch, head, query) row, with an online softmax over tiles of WG keys so
// that any number of keys fits in fixed shared memory. Package gl runs it
// for one query per row (decoding); attention_tiles.comp takes many.
// Layout: q and out [B, Tq, H*D]; k and v [B, Tk, KVH*D] (GQA: query head h
// reads key/value head h / (H/KVH)); mask [B, maskTk] added to every query
// of a batch entry (HAS_MASK); bias [H, Tq, biasTk] or [B, H, Tq, biasTk]
// (HAS_BIAS, biasBatched 1 for the latter). F32, but k and v F16 with
// KV_F16 (a KV cache); with HAS_ROWS, key j of entry b is read from the
// sequence rows[b, j] of k and v instead of sequence b.
// Query i uses keys j < keyLen and, when causal is 1, j <= i + causalOff. A
// query that sees no key, or only -Inf scores, gets zeros (the Device contract).
// Work groups: WG invocations; invocation l scores key j0+l of each tile,
// then accumulates output dimensions l and l+WG (so D <= 2·WG).
// Split K (SPLIT, after llama.cpp's flash_attn split_k): a decoding step
// has only B·H rows, 32 work groups for Vicuna greedy on a GPU of 132 SMs,
// each walking the whole cache. With SPLIT each row's keys are cut into
// nSplit runs of splitLen (a multiple of WG), work group g taking run
// g % nSplit of row g / nSplit, and it writes, instead of the output, its
// partial state to part[(row·nSplit + run)·(D+2) ...]: the running maximum
// m, the sum l of exp(s − m) and the D unnormalised sums of exp(s − m)·v
// (m = -Inf and zeros for a run that sees no key). attention_reduce.comp
// rescales the runs to their common maximum and divides. Package gl
// chooses it (see splitAttention) only for long caches.
// Bindings: 0 out (part with SPLIT), 1 q, 2 k, 3 v, 4 mask (HAS_MASK),
// 5 bias (HAS_BIAS), 6 rows (HAS_ROWS).
// Uniforms: 0 rowsTotal (B*H*Tq), 1 Tq, 2 Tk (rows of k per batch entry),
// 3 keyLen, 4 H, 5 KVH, 6 D, 7 scale, 8 causal, 9 causalOff, 10 maskTk,
// 11 biasTk, 12 biasBatched, 13 rowsTk, 14 nSplit and 15 splitLen (SPLIT).
#define NEED_REDUCE
#include "common.glsl"

layout(local_size_x = WG) in;

layout(std430, binding = 0) writeonly buffer OBuf { float o[]; };
layout(std430, binding = 1) readonly buffer QBuf { float q[]; };
#ifdef KV_F16
// An F16 cache: halves packed two per word, low half first.
layout(std430, binding = 2) readonly buffer KBuf { uint kh[]; };
layout(std430, binding = 3) readonly buffer VBuf { uint vh[]; };
float kAt(int i) { vec2 w = unpackHalf2x16(kh[i >> 1]); return (i & 1) == 0 ? w.x : w.y; }
float vAt(int i) { vec2 w = unpackHalf2x16(vh[i >> 1]); return (i & 1) == 0 ? w.x : w.y; }
#else
layout(std430, binding = 2) readonly buffer KBuf { float k[]; };
layout(std430, binding = 3) readonly buffer VBuf { float v[]; };
float kAt(int i) { return k[i]; }
float vAt(int i) { return v[i]; }
#endif
#ifdef HAS_ROWS
// rows [B, rowsTk]: the sequence of k and v holding key j of batch entry b
// (a beam-reordered cache, read in place).
layout(std430, binding = 6) readonly buffer RBuf { float rows[]; };
layout(location = 13) uniform int rowsTk;
#endif
#ifdef HAS_MASK
layout(std430, binding = 4) readonly buffer MBuf { float mask[]; };
layout(location = 10) uniform int maskTk;
#endif
#ifdef HAS_BIAS
layout(std430, binding = 5) readonly buffer BBuf { float bias[]; };
layout(location = 11) uniform int biasTk;
layout(location = 12) uniform int biasBatched;
#endif

layout(location = 0) uniform int rowsTotal;
layout(location = 1) uniform int Tq;
layout(location = 2) uniform int Tk;
layout(location = 3) uniform int keyLen;
layout(location = 4) uniform int H;
layout(location = 5) uniform int KVH;
layout(location = 6) uniform int D;
layout(location = 7) uniform float scale;
layout(location = 8) uniform int causal;
layout(location = 9) uniform int causalOff;
#ifdef SPLIT
layout(location = 14) uniform int nSplit;
layout(location = 15) uniform int splitLen;
#endif

// keyBase is where key (and value) j of batch entry b starts, head kvh.
int keyBase(int b, int j, int kvh, int kStride) {
#ifdef HAS_ROWS
	int sq = int(rows[b * rowsTk + j]);
#else
	int sq = b;
#endif
	return (sq * Tk + j) * kStride + kvh * D;
}

shared float qs[2 * WG];
shared float p[WG];

void main() {
#ifdef SPLIT
	int run = groupIndex() % nSplit;
	int g = groupIndex() / nSplit;
#else
	int g = groupIndex();
#endif
	if (g >= rowsTotal) return; // uniform across the work group
	int l = lid();
	int qi = g % Tq;
	int h = (g / Tq) % H;
	int b = g / (Tq * H);
	int kvh = h / (H / KVH);
	int qBase = ((b * Tq + qi) * H + h) * D;
	for (int d = l; d < D; d += WG) qs[d] = q[qBase + d];
	SYNC();

	int nk = keyLen;
	if (causal == 1) nk = min(nk, qi + causalOff + 1);
	int kStride = KVH * D;

	float mrun = NEG_INF; // running maximum
	float lsum = 0.0;     // running sum of exp(s - mrun)
	float acc0 = 0.0, acc1 = 0.0;
#ifdef SPLIT
	int jBeg = run * splitLen;
	nk = min(nk, jBeg + splitLen);
#else
	int jBeg = 0;
#endif
	for (int j0 = jBeg; j0 < nk; j0 += WG) {
		int j = j0 + l;
		float s = NEG_INF;
		if (j < nk) {
			int kb = keyBase(b, j, kvh, kStride);
			float dotv = 0.0;
			for (int d = 0; d < D; d++) dotv += qs[d] * kAt(kb + d);
			s = dotv * scale;
#ifdef HAS_MASK
			s += mask[b * maskTk + j];
#endif
#ifdef HAS_BIAS
			s += bias[(((biasBatched == 1 ? b : 0) * H + h) * Tq + qi) * biasTk + j];
#endif
		}
		float mnew = max(mrun, wgMax(s));
		float pj = (s == NEG_INF) ? 0.0 : exp(s - mnew);
		float alpha = (mrun == NEG_INF) ? 0.0 : exp(mrun - mnew);
		lsum = lsum * alpha + wgSum(pj);
		p[l] = pj;
		SYNC();
		int tn = min(WG, nk - j0);
		float s0 = 0.0, s1 = 0.0;
		for (int t = 0; t < tn; t++) {
			float pt = p[t];
			int vb = keyBase(b, j0 + t, kvh, kStride);
			if (l < D) s0 += pt * vAt(vb + l);
			if (l + WG < D) s1 += pt * vAt(vb + l + WG);
		}
		acc0 = acc0 * alpha + s0;
		acc1 = acc1 * alpha + s1;
		mrun = mnew;
		SYNC();
	}
#ifdef SPLIT
	int pBase = (g * nSplit + run) * (D + 2);
	if (l == 0) {
		o[pBase] = mrun;
		o[pBase + 1] = lsum;
	}
	if (l < D) o[pBase + 2 + l] = acc0;
	if (l + WG < D) o[pBase + 2 + l + WG] = acc1;
#else
	float inv = lsum > 0.0 ? 1.0 / lsum : 0.0;
	if (l < D) o[qBase + l] = acc0 * inv;
	if (l + WG < D) o[qBase + l + WG] = acc1 * inv;
#endif
}
