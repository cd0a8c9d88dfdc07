// matvec.comp: matrix–vector product for Linear with 1..8 rows (decoding):
// out[m, cOff+n] = Σ_k x[m, k]·w[n, k] (+ bias[cOff+n]) for m < M, with
// float32 accumulation.
// Layout: x [M, K] F32; w [N, K] in the weight dtype (WT_*, weights.glsl);
// out rows have stride ldc. With VEC (K a multiple of EPV, the elements in
// 16 bytes of weights: 4 F32, 8 F16/BF16, 16 Q8, 32 Q4; for Q4K 32 and
// Q6K 16, see accumQ4K and accumQ6K) every invocation reads whole
// uvec4/vec4s of weights (Q6K: words); otherwise one element at a time.
// Work groups: one per NR output rows (2-D grid above 65535), WG/NR
// invocations per row striding over K, each keeping M partial sums; the
// sums reduce through shared memory in two levels (or, with one row per
// group, subgroupAdd with USE_SUBGROUP).
// USE_HALF (GL_NV_gpu_shader5) widens F16 pairs with the native f16vec2
// type instead of unpackHalf2x16; the arithmetic stays float32, so results
// match the portable variant.
// Fused variants (VEC only): HAS_RES adds res (same layout as out) in the
// epilogue (a residual); GATED reads a second weight w2 of w's shape and
// writes act(x·wᵀ)·(x·w2ᵀ) (ACT, common.glsl); MULTI runs up to three
// weights of one dtype in one dispatch, work groups [0, n1) on w, [n1, n2)
// on w2, [n2, N) on w3, their outputs side by side (column = group).
// Bindings: 0 out, 1 x, 2 w (W_BIND), 3 scales (Q8/Q4), 4 bias (HAS_BIAS),
// 5 w2 and 6 its scales (GATED, MULTI), 7 res (HAS_RES) or w3 (MULTI), 8 w3's
// scales (MULTI with Q8/Q4). NORM (VEC, without a bias) normalises each x
// row first, as RMSNorm does with the weight at binding 4 and eps: every
// work group sums its rows' squares itself, so the norm costs no dispatch.
// Uniforms: 0 M (<= MAXM), 1 N, 2 K, 3 ldc, 4 cOff, 5 n1, 6 n2 (MULTI),
// 8 eps (NORM).
#define W_BIND 2
#define WS_BIND 3
// NR output rows per work group (a define: 1, 2 or 4), each reduced over
// LW = WG/NR invocations (at least 16): a row of a 4096-wide f16 weight is
// 512 16-byte loads, 16 per invocation at NR 4, and the group's rows read
// the same x, which stays in cache between them.
#ifndef NR
#define NR 1
#endif
#define LW (WG / NR)
#ifdef NORM
#define NEED_REDUCE
#endif
#include "common.glsl"

// MAXM (1, 2, 4 or 8, a define) bounds M at compile time: every loop over
// the rows has a constant trip count, so the accumulators stay in registers
// (a loop to the uniform M would index them dynamically, which spills them
// to local memory on GPUs).

layout(local_size_x = WG) in;

layout(std430, binding = 0) writeonly buffer OBuf { float o[]; };
#ifdef HAS_BIAS
layout(std430, binding = 4) readonly buffer BiasBuf { float bias[]; };
#endif

layout(location = 0) uniform int M;
layout(location = 1) uniform int N;
layout(location = 2) uniform int K;
layout(location = 3) uniform int ldc;
layout(location = 4) uniform int cOff;

#ifdef VEC
layout(std430, binding = 1) readonly buffer XBuf { vec4 x4[]; };
#if defined(WT_F32)
#define WVEC vec4
#elif defined(WT_Q6K)
#define WVEC uint // a super-block (53 words) is not whole 16-byte vectors
#else
#define WVEC uvec4
#endif
layout(std430, binding = W_BIND) readonly buffer WBuf { WVEC wv[]; };
#if defined(GATED) || defined(MULTI)
layout(std430, binding = 5) readonly buffer W2Buf { WVEC wv2[]; };
#endif
#ifdef MULTI
layout(std430, binding = 7) readonly buffer W3Buf { WVEC wv3[]; };
#endif
#if defined(WT_Q8) || defined(WT_Q4)
layout(std430, binding = WS_BIND) readonly buffer WSBuf { float ws[]; };
#if defined(GATED) || defined(MULTI)
layout(std430, binding = 6) readonly buffer WS2Buf { float ws2[]; };
#endif
#ifdef MULTI
layout(std430, binding = 8) readonly buffer WS3Buf { float ws3[]; };
#endif
#endif
// SCALE is the block scale of 16-byte vector j of row n (Q8: 32-element
// blocks of two vectors; Q4: one block per vector).
// ACC(wbuf, sbuf, row, j, off) adds vector j of a row of weight wbuf
// (scales sbuf) to acc[off…]: one 16-byte vector, or for Q4K one 16-byte
// vector of quants with its super-block's header, or for Q6K unit j of 16
// elements from six words of its super-block (Q6KW: word o of the
// super-block of unit j of a row; see accumQ6K).
#if defined(WT_Q4K)
#define ACC(wbuf, sbuf, row, j, off) accumQ4K(wbuf[(row) * rowVecs + ((j) >> 3) * 9], wbuf[(row) * rowVecs + ((j) >> 3) * 9 + 1 + ((j) & 7)], j, acc, off)
#elif defined(WT_Q6K)
#define Q6KW(wbuf, row, j, o) wbuf[(row) * rowVecs + ((j) >> 4) * 53 + (o)]
#define ACC(wbuf, sbuf, row, j, off) accumQ6K(Q6KW(wbuf, row, j, q6kQL(j)), Q6KW(wbuf, row, j, q6kQL(j) + 8), Q6KW(wbuf, row, j, q6kQH(j)), Q6KW(wbuf, row, j, q6kSC(j)), Q6KW(wbuf, row, j, q6kSC(j) + 1), Q6KW(wbuf, row, j, 52), j, acc, off)
#else
#define ACC(wbuf, sbuf, row, j, off) accum(wbuf[(row) * nv + (j)], SCALE(sbuf, row, j), (j) * step, acc, off)
#endif
#if defined(WT_Q8)
#define SCALE(arr, n, j) arr[(n * K + j * 16) >> 5]
#elif defined(WT_Q4)
#define SCALE(arr, n, j) arr[n * (K / EPV) + j]
#else
#define SCALE(arr, n, j) 1.0
#endif
#ifdef HAS_RES
layout(std430, binding = 7) readonly buffer ResBuf { float res[]; };
#endif
#ifdef MULTI
layout(location = 5) uniform int n1;
layout(location = 6) uniform int n2;
#endif
#ifdef NORM
layout(std430, binding = 4) readonly buffer NormBuf { vec4 nw4[]; };
layout(location = 8) uniform float eps;
shared float rinv[MAXM];
#endif
int xv;      // vec4s per x row
int rowVecs; // 16-byte vectors per Q4K weight row (9 per super-block), words per Q6K row (53 per super-block)

// X is the vector i of x row m as the products see it: normalised with
// NORM (x·rsqrt(mean(x²)+eps), then times the weight, as RMSNorm rounds).
vec4 X(int m, int i) {
#ifdef NORM
	return (x4[m * xv + i] * rinv[m]) * nw4[i];
#else
	return x4[m * xv + i];
#endif
}

vec4 h4(uint a, uint b) {
#ifdef USE_HALF
	return vec4(vec2(unpackFloat2x16(a)), vec2(unpackFloat2x16(b)));
#else
	return vec4(unpackHalf2x16(a), unpackHalf2x16(b));
#endif
}
vec4 bf4(uint a, uint b) {
	return vec4(uintBitsToFloat(a << 16), uintBitsToFloat(a & 0xffff0000u),
		uintBitsToFloat(b << 16), uintBitsToFloat(b & 0xffff0000u));
}
// q8x4 sign-extends the four bytes of a word, low byte first.
vec4 q8x4(uint u) { return vec4((ivec4(int(u)) << ivec4(24, 16, 8, 0)) >> 24); }
// q4lo/q4hi widen nibbles 0-3 and 4-7 of a word (stored as q+8).
vec4 q4lo(uint u) { return vec4((uvec4(u) >> uvec4(0u, 4u, 8u, 12u)) & 15u) - 8.0; }
vec4 q4hi(uint u) { return vec4((uvec4(u) >> uvec4(16u, 20u, 24u, 28u)) & 15u) - 8.0; }
#else
layout(std430, binding = 1) readonly buffer XBuf { float x[]; };
#include "weights.glsl"
#endif

#ifdef GATED
#define NSUM (2 * MAXM) // gate sums, then up sums
#else
#define NSUM MAXM
#endif
shared float mred[NSUM * WG];
shared float mred16[NR * NSUM * 16];

#ifdef VEC
// accum adds the products of one 16-byte weight vector u (scale sc) with
// the x vectors from xb on, for every row m < M, to a[off + m].
void accum(WVEC u, float sc, int xb, inout float a[NSUM], int off) {
#if defined(WT_F32)
	for (int m = 0; m < MAXM; m++)
		if (m < M) a[off + m] += dot(u, X(m, xb));
#elif defined(WT_F16) || defined(WT_BF16)
#ifdef WT_F16
	vec4 w0 = h4(u.x, u.y), w1 = h4(u.z, u.w);
#else
	vec4 w0 = bf4(u.x, u.y), w1 = bf4(u.z, u.w);
#endif
	for (int m = 0; m < MAXM; m++) {
		if (m >= M) break;
		a[off + m] += dot(w0, X(m, xb)) + dot(w1, X(m, xb + 1));
	}
#elif defined(WT_Q8)
	vec4 w0 = q8x4(u.x), w1 = q8x4(u.y), w2 = q8x4(u.z), w3 = q8x4(u.w);
	for (int m = 0; m < MAXM; m++) {
		if (m >= M) break;
		a[off + m] += sc * (dot(w0, X(m, xb)) + dot(w1, X(m, xb + 1)) + dot(w2, X(m, xb + 2)) + dot(w3, X(m, xb + 3)));
	}
#elif defined(WT_Q4)
	vec4 w0 = q4lo(u.x), w1 = q4hi(u.x), w2 = q4lo(u.y), w3 = q4hi(u.y);
	vec4 w4 = q4lo(u.z), w5 = q4hi(u.z), w6 = q4lo(u.w), w7 = q4hi(u.w);
	for (int m = 0; m < MAXM; m++) {
		if (m >= M) break;
		a[off + m] += sc * (dot(w0, X(m, xb)) + dot(w1, X(m, xb + 1)) + dot(w2, X(m, xb + 2)) + dot(w3, X(m, xb + 3)) +
			dot(w4, X(m, xb + 4)) + dot(w5, X(m, xb + 5)) + dot(w6, X(m, xb + 6)) + dot(w7, X(m, xb + 7)));
	}
#endif
}
#endif

#if defined(VEC) && defined(WT_Q4K)
// A Q4K super-block is 9 16-byte vectors (llama.cpp's block_q4_K, 144
// bytes): the header (d and dmin as halves, then the 12 bytes of 6-bit
// sub-block scales and mins) and 8 of quants. Quant vector q holds bytes
// 16q… of the quants: their low nibbles are elements 64g + 16h + t of
// sub-block 2g, their high nibbles elements 64g + 32 + 16h + t of sub-block
// 2g + 1 (g = q/2, h = q%2, t < 16).

// q4kScaleMin is sub-block i's 6-bit scale and min from a header.
vec2 q4kScaleMin(uvec4 hdr, int i) {
	// Byte b of the 12 scale bytes.
#define SB(b) ((hdr[1 + ((b) >> 2)] >> (((b) & 3) * 8)) & 255u)
	uint sc, mn;
	if (i < 4) {
		sc = SB(i) & 63u;
		mn = SB(i + 4) & 63u;
	} else {
		uint b = SB(i + 4);
		sc = (b & 15u) | ((SB(i - 4) >> 6) << 4);
		mn = (b >> 4) | ((SB(i) >> 6) << 4);
	}
#undef SB
	return vec2(float(sc), float(mn));
}

vec4 nibLo(uint w) { return vec4((uvec4(w) >> uvec4(0u, 8u, 16u, 24u)) & 15u); }
vec4 nibHi(uint w) { return vec4((uvec4(w) >> uvec4(4u, 12u, 20u, 28u)) & 15u); }

// accumQ4K adds quant vector j of a row (header hdr, quants u) to a[off+m]
// for every x row m, as scale·Σq·x − min·Σx per sub-block, the form whose
// rounding the op table's Q4K bound allows.
void accumQ4K(uvec4 hdr, uvec4 u, int j, inout float a[NSUM], int off) {
	int sb = j >> 3, q = j & 7, g = q >> 1, h = q & 1;
	vec2 dm = unpackHalf2x16(hdr.x);
	vec2 lo = q4kScaleMin(hdr, 2 * g), hi = q4kScaleMin(hdr, 2 * g + 1);
	precise float sl = dm.x * lo.x, ml = dm.y * lo.y, sh = dm.x * hi.x, mh = dm.y * hi.y;
	vec4 q0 = nibLo(u.x), q1 = nibLo(u.y), q2 = nibLo(u.z), q3 = nibLo(u.w);
	vec4 r0 = nibHi(u.x), r1 = nibHi(u.y), r2 = nibHi(u.z), r3 = nibHi(u.w);
	int xb = sb * 64 + g * 16 + h * 4;
	for (int m = 0; m < MAXM; m++) {
		if (m >= M) break;
		vec4 x0 = X(m, xb), x1 = X(m, xb + 1), x2 = X(m, xb + 2), x3 = X(m, xb + 3);
		vec4 y0 = X(m, xb + 8), y1 = X(m, xb + 9), y2 = X(m, xb + 10), y3 = X(m, xb + 11);
		float dl = dot(q0, x0) + dot(q1, x1) + dot(q2, x2) + dot(q3, x3);
		float dh = dot(r0, y0) + dot(r1, y1) + dot(r2, y2) + dot(r3, y3);
		float sxl = dot((x0 + x1) + (x2 + x3), vec4(1.0));
		float sxh = dot((y0 + y1) + (y2 + y3), vec4(1.0));
		a[off + m] += (sl * dl - ml * sxl) + (sh * dh - mh * sxh);
	}
}
#endif

#if defined(VEC) && defined(WT_Q6K)
// A Q6K super-block is 53 words (llama.cpp's block_q6_K and two zero
// bytes): ql in words 0–31, qh in 32–47, the sixteen int8 scales in 48–51
// and d in word 52's low half. Its 256 elements are 16 units of 16: unit
// j%16 = 8h + c reads ql words 16h + c and 16h + 8 + c and qh word
// 32 + 8h + c, whose byte i hold the low and top bits of element
// 128h + 4c + i + 32t of each quarter t < 4 (t 0: the first ql word's low
// nibble, qh bits 0–1; t 1: the second's low nibble, bits 2–3; t 2 and 3:
// their high nibbles, bits 4–5 and 6–7). Quarter t's four elements share
// scale 8h + c/4 + 2t: byte c/4 (t even) or 2 + c/4 (t odd) of word
// 48 + 2h (t < 2) or 49 + 2h.
int q6kQL(int j) { return 16 * ((j >> 3) & 1) + (j & 7); }
int q6kQH(int j) { return 32 + 8 * ((j >> 3) & 1) + (j & 7); }
int q6kSC(int j) { return 48 + 2 * ((j >> 3) & 1); }

// q6x4 is the four values q − 32 of a quarter: bits ls… of each byte of the
// ql word lo (4 bits) and bits hs… of the qh word hi's (2 bits).
vec4 q6x4(uint lo, uint ls, uint hi, uint hs) {
	uvec4 b = uvec4(0u, 8u, 16u, 24u);
	return vec4(((uvec4(lo) >> (b + ls)) & 15u) | (((uvec4(hi) >> (b + hs)) & 3u) << 4u)) - 32.0;
}

// accumQ6K adds unit j of a row (ql words l0 and l1, qh word qh, scale
// words s0 and s1, d's word dw) to a[off+m] for every x row m, as
// (d·sc)·Σ(q−32)·x per quarter: d·sc is exact in float32, and each
// quarter's sum is within the float32 bound of its products.
void accumQ6K(uint l0, uint l1, uint qh, uint s0, uint s1, uint dw, int j, inout float a[NSUM], int off) {
	int sb = j >> 4, h = (j >> 3) & 1, c = j & 7;
	float d = unpackHalf2x16(dw).x;
	int sh = (c >> 2) * 8;
	precise float d0 = d * float(bitfieldExtract(int(s0), sh, 8));
	precise float d1 = d * float(bitfieldExtract(int(s0), sh + 16, 8));
	precise float d2 = d * float(bitfieldExtract(int(s1), sh, 8));
	precise float d3 = d * float(bitfieldExtract(int(s1), sh + 16, 8));
	vec4 q0 = q6x4(l0, 0u, qh, 0u), q1 = q6x4(l1, 0u, qh, 2u);
	vec4 q2 = q6x4(l0, 4u, qh, 4u), q3 = q6x4(l1, 4u, qh, 6u);
	int xb = sb * 64 + h * 32 + c; // x vec4 of quarter 0; quarter t at +8t
	for (int m = 0; m < MAXM; m++) {
		if (m >= M) break;
		a[off + m] += (d0 * dot(q0, X(m, xb)) + d1 * dot(q1, X(m, xb + 8))) +
			(d2 * dot(q2, X(m, xb + 16)) + d3 * dot(q3, X(m, xb + 24)));
	}
}
#endif

void main() {
	int l = lid();
	int sub = l / LW;  // which of the group's NR rows this invocation serves
	int lane = l % LW; // and its place among that row's LW invocations
	if (groupIndex() * NR >= N) return; // uniform across the work group
	int n = groupIndex() * NR + sub;
	// The last group's rows past N still run, for the barriers, on a real
	// row, and write nothing.
	bool live = n < N;
	if (!live) n = N - 1;
	float acc[NSUM];
	for (int m = 0; m < NSUM; m++) acc[m] = 0.0;
#ifdef VEC
	int nv = K / EPV; // 16-byte vectors (Q6K: units of 16 elements) per weight row
	xv = K / 4;
#ifdef WT_Q6K
	rowVecs = K / 256 * 53;
#else
	rowVecs = K / 256 * 9;
#endif
	int step = EPV / 4;
#ifdef NORM
	// Every x row's sum of squares, in this work group (the loop's bound is
	// uniform, so the reductions' barriers are too).
	for (int m = 0; m < MAXM; m++) {
		if (m >= M) break;
		float ss = 0.0;
		for (int i = l; i < xv; i += WG) {
			vec4 v = x4[m * xv + i];
			ss += dot(v, v);
		}
		ss = wgSum(ss);
		if (l == 0) rinv[m] = 1.0 / sqrt(ss / float(K) + eps);
	}
	SYNC();
#endif
#if defined(MULTI)
	// Each of the group's rows belongs to one of the weights.
	if (n < n1) {
		for (int j = lane; j < nv; j += LW) ACC(wv, ws, n, j, 0);
	} else if (n < n2) {
		int r = n - n1;
		for (int j = lane; j < nv; j += LW) ACC(wv2, ws2, r, j, 0);
	} else {
		int r = n - n2;
		for (int j = lane; j < nv; j += LW) ACC(wv3, ws3, r, j, 0);
	}
#else
	for (int j = lane; j < nv; j += LW) {
		ACC(wv, ws, n, j, 0);
#ifdef GATED
		ACC(wv2, ws2, n, j, MAXM);
#endif
	}
#endif
#else
	for (int k = lane; k < K; k += LW) {
		float w = wAt(n * K + k);
		for (int m = 0; m < MAXM; m++)
			if (m < M) acc[m] += w * x[m * K + k];
	}
#endif

	// Reduce each (row, sum) over its LW invocations; invocation lane < M of
	// row sub then holds x row m = lane's result.
	int m = lane;
#if defined(USE_SUBGROUP) && NR == 1
	for (int i = 0; i < NSUM; i++) {
		float s = subgroupAdd(acc[i]);
		if (subgroupElect()) mred[i * WG + int(gl_SubgroupID)] = s;
	}
	SYNC();
	if (m < M && live) {
		float r = 0.0;
		for (uint i = 0u; i < gl_NumSubgroups; i++) r += mred[m * WG + int(i)];
#ifdef GATED
		float r2 = 0.0;
		for (uint i = 0u; i < gl_NumSubgroups; i++) r2 += mred[(MAXM + m) * WG + int(i)];
#endif
#else
	// Two levels (see wgSum in common.glsl): 16 partial sums per row and
	// sum, then one invocation per row and x row adds them up.
	for (int i = 0; i < NSUM; i++) mred[i * WG + l] = acc[i];
	SYNC();
	for (int e = l; e < NR * NSUM * 16; e += WG) {
		int c = e % 16, i = (e / 16) % NSUM, r = e / (16 * NSUM);
		float s = 0.0;
		for (int t = c; t < LW; t += 16) s += mred[i * WG + r * LW + t];
		mred16[e] = s;
	}
	SYNC();
	if (m < M && live) {
		float r = 0.0;
		for (int i = 0; i < 16; i++) r += mred16[(sub * NSUM + m) * 16 + i];
#ifdef GATED
		float r2 = 0.0;
		for (int i = 0; i < 16; i++) r2 += mred16[(sub * NSUM + MAXM + m) * 16 + i];
#endif
#endif
#ifdef HAS_BIAS
		r += bias[cOff + n];
#endif
#ifdef GATED
		// act(gate) rounds to float32 before the product, as Gated's does.
		r = ACT(r) * r2;
#endif
#ifdef HAS_RES
		r += res[m * ldc + cOff + n];
#endif
		o[m * ldc + cOff + n] = r;
	}
}
