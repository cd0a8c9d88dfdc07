// matmul.comp: tiled matrix multiply C = A·B (+ bias) with float32
// accumulation, for Linear with many rows and for batched MatMul.
// Layout: A [batch, M, K] F32 row-major; B either [batch, K, N] or, with
// TRANS_B, [batch, N, K] (PyTorch's Linear weight) in the weight dtype
// (WT_F32/F16/BF16/Q8/Q4/Q4K/Q6K, see weights.glsl); C rows have stride ldc and
// the kernel writes columns [cOff, cOff+N) of them, so a weight split into
// row chunks is multiplied chunk by chunk into one output.
//
// Design (after llama.cpp's mul_mm.comp, written for GLSL 4.30 without
// extensions):
// - Register blocking. A work group of 16×16 invocations computes a BM×128
//   tile of C (BM, a define, is 128, or 64 for the short products that
//   split K); invocation (tx, ty) holds RM×8 sums (RM = BM/16: 8×8 or 4×8)
//   as vec4s, for rows ty·RM.. and columns tx·8.., and reads them from
//   shared memory as vec4s: per k, RM/4 + 2 shared loads feed 8·RM
//   multiply-adds.
// - K advances in slices of TK = 16 through shared tiles stored k-major
//   (As[k][m], Bs[k][n]), so that the inner loop reads consecutive rows and
//   columns.
// - Vectorised global loads where the layout allows: A by vec4 (K % 4 == 0,
//   A_VEC); F32 weights by vec4 (B_VEC); F16/BF16 weights by whole words
//   (B_WORDS), four at a time as a uvec4 when K % 8 == 0 (B_WORDS4); Q8 two
//   words and Q4 one word per invocation (B_Q8, B_Q4), decoded with their
//   block scale. Other layouts (odd K, Q4K, Q6K, MatMul's untransposed B)
//   load element by element through wAt.
// - F16/BF16 weights stay 16-bit in shared memory: B_WORDS keeps the
//   weight's own words (two consecutive k of one column) in Bw, half the
//   bytes of a float tile, and the inner loop unpacks them; the sums stay
//   float32. Shared memory: 16 KiB for A (BM 128) and 8 KiB (words) or
//   16 KiB (floats) for B: at most 32 KiB, GL's guaranteed minimum.
// - Double buffering: two copies of each tile. An invocation issues the
//   global loads of slice i+1 into registers, computes slice i from shared
//   memory while they are in flight, then stores them to the other copy:
//   one barrier per slice instead of two.
// - Split K (SPLITK): for few rows (prompt prefill, ~45 rows) the tiles of
//   C alone would leave most of a large GPU idle, so the host splits K into
//   gl_NumWorkGroups.z slices of kSplit (a multiple of 32) and each work
//   group writes its partial sums, without bias, to a scratch buffer
//   [z, M, N]; matmul_reduce.comp adds them (and the bias) into C.
// Grid: (ceil(N/128), ceil(M/BM), batch, or the K slices with SPLITK).
// Bindings: 0 C (the partial sums with SPLITK), 1 A, 2 B (W_BIND), 3 B's
// scales (Q8/Q4), 4 bias (HAS_BIAS, indexed by cOff + column).
// Uniforms: 0 M, 1 N, 2 K, 3 ldc, 4 cOff, 5 aBatch, 6 bBatch, 7 cBatch
// (element strides between batch entries), 8 kSplit (SPLITK).
#define WG 256 // 16×16
#define W_BIND 2
#define WS_BIND 3
#include "common.glsl"
#include "weights.glsl"

#define BN 128
#define TK 16
#define RM (BM / 16)

layout(local_size_x = 16, local_size_y = 16) in;

layout(std430, binding = 0) writeonly buffer CBuf { float cm[]; };
layout(std430, binding = 1) readonly buffer ABuf { float am[]; };
// The same buffers seen by vec4 and uvec4, for the vectorised loads (an
// index into them is the element index / 4, aligned by the host's choice
// of A_VEC, B_VEC and B_WORDS4).
layout(std430, binding = 1) readonly buffer A4Buf { vec4 am4[]; };
#ifdef B_VEC
layout(std430, binding = W_BIND) readonly buffer W4Buf { vec4 wd4[]; };
#endif
#ifdef B_WORDS4
layout(std430, binding = W_BIND) readonly buffer WU4Buf { uvec4 wu4[]; };
#endif
#ifdef HAS_BIAS
layout(std430, binding = 4) readonly buffer BiasBuf { float bias[]; };
#endif

layout(location = 0) uniform int M;
layout(location = 1) uniform int N;
layout(location = 2) uniform int K;
layout(location = 3) uniform int ldc;
layout(location = 4) uniform int cOff;
layout(location = 5) uniform int aBatch;
layout(location = 6) uniform int bBatch;
layout(location = 7) uniform int cBatch;
#ifdef SPLITK
layout(location = 8) uniform int kSplit;
#endif

shared vec4 As[2][TK][BM / 4];
#ifdef B_WORDS
shared uvec4 Bw[2][TK / 2][BN / 4];
#else
shared vec4 Bs[2][TK][BN / 4];
#endif

int t, m0, n0, aBase, bBase;

// --- A: BM×TK floats per slice, BM·TK/256 per invocation ---
#define NA (BM * TK / 256)
#ifdef A_VEC
vec4 ra[NA / 4];
void fetchA(int k0) {
	for (int e = 0; e < NA / 4; e++) {
		// Consecutive invocations take consecutive rows, so that the
		// stores to As (k-major) are consecutive too.
		int idx = t + 256 * e;
		int m = idx % BM, kq = idx / BM;
		int gm = m0 + m, gk = k0 + 4 * kq;
		ra[e] = (gm < M && gk < K) ? am4[(aBase + gm * K + gk) >> 2] : vec4(0.0);
	}
}
void stashA(int buf) {
	for (int e = 0; e < NA / 4; e++) {
		int idx = t + 256 * e;
		int m = idx % BM, kq = idx / BM;
		for (int i = 0; i < 4; i++) As[buf][4 * kq + i][m >> 2][m & 3] = ra[e][i];
	}
}
#else
float ra[NA];
void fetchA(int k0) {
	for (int e = 0; e < NA; e++) {
		int idx = t + 256 * e;
		int k = idx % TK, m = idx / TK;
		int gm = m0 + m, gk = k0 + k;
		ra[e] = (gm < M && gk < K) ? am[aBase + gm * K + gk] : 0.0;
	}
}
void stashA(int buf) {
	for (int e = 0; e < NA; e++) {
		int idx = t + 256 * e;
		int k = idx % TK, m = idx / TK;
		As[buf][k][m >> 2][m & 3] = ra[e];
	}
}
#endif

// --- B: 128×TK elements per slice, 8 per invocation (4 words for B_WORDS) ---
#if defined(B_WORDS)
uvec4 rw;
#ifdef B_WORDS4
// Two invocations per column: words 4h..4h+3 of the slice's 8.
void fetchB(int k0) {
	int n = t >> 1, h = t & 1;
	int gn = n0 + n, gk = k0 + 8 * h;
	rw = (gn < N && gk < K) ? wu4[(bBase + gn * K + gk) >> 3] : uvec4(0u);
}
void stashB(int buf) {
	int n = t >> 1, h = t & 1;
	for (int i = 0; i < 4; i++) Bw[buf][4 * h + i][n >> 2][n & 3] = rw[i];
}
#else
// K even but rows not 16-byte aligned: word by word.
void fetchB(int k0) {
	for (int e = 0; e < 4; e++) {
		int idx = t + 256 * e;
		int kw = idx & 7, n = idx >> 3;
		int gn = n0 + n, gk = k0 + 2 * kw;
		rw[e] = (gn < N && gk < K) ? wd[(bBase + gn * K + gk) >> 1] : 0u;
	}
}
void stashB(int buf) {
	for (int e = 0; e < 4; e++) {
		int idx = t + 256 * e;
		int kw = idx & 7, n = idx >> 3;
		Bw[buf][kw][n >> 2][n & 3] = rw[e];
	}
}
#endif
#else
vec4 rb[2]; // k offsets kb..kb+7 of column bn, or as each path says
#if defined(B_VEC)
// Four invocations per column, one vec4 each, twice.
void fetchB(int k0) {
	for (int e = 0; e < 2; e++) {
		int idx = t + 256 * e;
		int n = idx >> 2, kq = idx & 3;
		int gn = n0 + n, gk = k0 + 4 * kq;
		rb[e] = (gn < N && gk < K) ? wd4[(bBase + gn * K + gk) >> 2] : vec4(0.0);
	}
}
void stashB(int buf) {
	for (int e = 0; e < 2; e++) {
		int idx = t + 256 * e;
		int n = idx >> 2, kq = idx & 3;
		for (int i = 0; i < 4; i++) Bs[buf][4 * kq + i][n >> 2][n & 3] = rb[e][i];
	}
}
#elif defined(B_Q8) || defined(B_Q4)
// Two invocations per column, each 8 consecutive k: two Q8 words or one Q4
// word, inside one block of 32 (k0 is a multiple of 16).
void fetchB(int k0) {
	int n = t >> 1, h = t & 1;
	int gn = n0 + n, gk = k0 + 8 * h;
	rb[0] = vec4(0.0);
	rb[1] = vec4(0.0);
	if (gn < N && gk < K) {
		int i = bBase + gn * K + gk;
		float sc = ws[i >> 5];
#ifdef B_Q8
		uint u0 = wd[i >> 2], u1 = wd[(i >> 2) + 1];
		rb[0] = vec4((ivec4(int(u0)) << ivec4(24, 16, 8, 0)) >> 24) * sc;
		rb[1] = vec4((ivec4(int(u1)) << ivec4(24, 16, 8, 0)) >> 24) * sc;
#else
		uint u = wd[i >> 3];
		rb[0] = (vec4((uvec4(u) >> uvec4(0u, 4u, 8u, 12u)) & 15u) - 8.0) * sc;
		rb[1] = (vec4((uvec4(u) >> uvec4(16u, 20u, 24u, 28u)) & 15u) - 8.0) * sc;
#endif
	}
}
void stashB(int buf) {
	int n = t >> 1, h = t & 1;
	for (int i = 0; i < 8; i++) Bs[buf][8 * h + i][n >> 2][n & 3] = rb[i >> 2][i & 3];
}
#else
// Element by element: 8 per invocation.
void fetchB(int k0) {
	for (int e = 0; e < 8; e++) {
		int idx = t + 256 * e;
#ifdef TRANS_B
		int k = idx % TK, n = idx / TK; // along a row of [N, K]
		int gn = n0 + n, gk = k0 + k;
		rb[e >> 2][e & 3] = (gn < N && gk < K) ? wAt(bBase + gn * K + gk) : 0.0;
#else
		int n = idx % BN, k = idx / BN; // along a row of [K, N]
		int gn = n0 + n, gk = k0 + k;
		rb[e >> 2][e & 3] = (gn < N && gk < K) ? wAt(bBase + gk * N + gn) : 0.0;
#endif
	}
}
void stashB(int buf) {
	for (int e = 0; e < 8; e++) {
		int idx = t + 256 * e;
#ifdef TRANS_B
		int k = idx % TK, n = idx / TK;
#else
		int n = idx % BN, k = idx / BN;
#endif
		Bs[buf][k][n >> 2][n & 3] = rb[e >> 2][e & 3];
	}
}
#endif
#endif

vec4 acc[RM][2];

// compute adds slice buf's products to acc: its first kt (≤ TK) values of
// k, the rest being past K. kt is the last slice's remainder or TK, a trip
// count the compiler cannot unroll: the loop's body (RM·8 multiply-adds) is
// long enough that the loop costs little on a GPU, and llvmpipe compiles
// the kernel in a fraction of the time a 16-fold unrolled body takes.
void compute(int buf, int tx, int ty, int kt) {
#ifdef B_WORDS
	for (int kw = 0; kw < (kt + 1) / 2; kw++) {
		uvec4 w0 = Bw[buf][kw][2 * tx], w1 = Bw[buf][kw][2 * tx + 1];
		// lo: column values at k = 2kw, hi: at 2kw+1.
#ifdef WT_BF16
		vec4 lo0 = uintBitsToFloat(w0 << 16), hi0 = uintBitsToFloat(w0 & 0xffff0000u);
		vec4 lo1 = uintBitsToFloat(w1 << 16), hi1 = uintBitsToFloat(w1 & 0xffff0000u);
#else
		vec2 h00 = unpackHalf2x16(w0.x), h01 = unpackHalf2x16(w0.y), h02 = unpackHalf2x16(w0.z), h03 = unpackHalf2x16(w0.w);
		vec2 h10 = unpackHalf2x16(w1.x), h11 = unpackHalf2x16(w1.y), h12 = unpackHalf2x16(w1.z), h13 = unpackHalf2x16(w1.w);
		vec4 lo0 = vec4(h00.x, h01.x, h02.x, h03.x), hi0 = vec4(h00.y, h01.y, h02.y, h03.y);
		vec4 lo1 = vec4(h10.x, h11.x, h12.x, h13.x), hi1 = vec4(h10.y, h11.y, h12.y, h13.y);
#endif
		for (int i4 = 0; i4 < RM / 4; i4++) {
			vec4 a0 = As[buf][2 * kw][ty * (RM / 4) + i4];
			vec4 a1 = As[buf][2 * kw + 1][ty * (RM / 4) + i4];
			for (int c = 0; c < 4; c++) {
				acc[4 * i4 + c][0] += a0[c] * lo0 + a1[c] * hi0;
				acc[4 * i4 + c][1] += a0[c] * lo1 + a1[c] * hi1;
			}
		}
	}
#else
	for (int k = 0; k < kt; k++) {
		vec4 b0 = Bs[buf][k][2 * tx], b1 = Bs[buf][k][2 * tx + 1];
		for (int i4 = 0; i4 < RM / 4; i4++) {
			vec4 a = As[buf][k][ty * (RM / 4) + i4];
			for (int c = 0; c < 4; c++) {
				acc[4 * i4 + c][0] += a[c] * b0;
				acc[4 * i4 + c][1] += a[c] * b1;
			}
		}
	}
#endif
}

void main() {
	int tx = int(gl_LocalInvocationID.x);
	int ty = int(gl_LocalInvocationID.y);
	t = ty * 16 + tx;
	n0 = int(gl_WorkGroupID.x) * BN;
	m0 = int(gl_WorkGroupID.y) * BM;
	int z = int(gl_WorkGroupID.z);
#ifdef SPLITK
	aBase = 0;
	bBase = 0;
	int kBeg = z * kSplit, kEnd = min(K, kBeg + kSplit);
#else
	aBase = z * aBatch;
	bBase = z * bBatch;
	int kBeg = 0, kEnd = K;
#endif

	for (int i = 0; i < RM; i++) {
		acc[i][0] = vec4(0.0);
		acc[i][1] = vec4(0.0);
	}

	int cur = 0;
	if (kBeg < kEnd) {
		fetchA(kBeg);
		fetchB(kBeg);
		stashA(0);
		stashB(0);
	}
	SYNC();
	for (int k0 = kBeg; k0 < kEnd; k0 += TK) {
		bool more = k0 + TK < kEnd; // uniform across the work group
		if (more) {
			fetchA(k0 + TK);
			fetchB(k0 + TK);
		}
		compute(cur, tx, ty, min(TK, kEnd - k0));
		if (more) {
			stashA(cur ^ 1);
			stashB(cur ^ 1);
		}
		SYNC();
		cur ^= 1;
	}

#ifdef SPLITK
	// Partial sums [z, M, N], no bias: matmul_reduce.comp finishes them.
	int cBase = z * M * N;
	int stride = N, off = 0;
#else
	int cBase = z * cBatch;
	int stride = ldc, off = cOff;
#endif
	for (int i = 0; i < RM; i++) {
		int gm = m0 + ty * RM + i;
		if (gm >= M) break;
		for (int j = 0; j < 8; j++) {
			int gn = n0 + tx * 8 + j;
			if (gn >= N) break;
			float v = acc[i][j >> 2][j & 3];
#if defined(HAS_BIAS) && !defined(SPLITK)
			v += bias[cOff + gn];
#endif
			cm[cBase + gm * stride + off + gn] = v;
		}
	}
}
