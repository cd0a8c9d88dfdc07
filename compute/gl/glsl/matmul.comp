// matmul.comp: tiled matrix multiply C = A·B (+ bias) with float32
// accumulation, for Linear with many rows and for batched MatMul.
// Layout: A [batch, M, K] F32 row-major; B either [batch, K, N] or, with
// TRANS_B, [batch, N, K] (PyTorch's Linear weight) in the weight dtype
// (WT_F32/F16/BF16/Q8/Q4, see weights.glsl); C rows have stride ldc and the
// kernel writes columns [cOff, cOff+N) of them, so a weight split into
// row chunks is multiplied chunk by chunk into one output.
// Work groups: 16×16 invocations computing a 64×64 tile of C (4×4 per
// invocation, strided by 16 so that shared-memory reads are conflict free);
// grid (ceil(N/64), ceil(M/64), batch). K advances in slices of 32 through
// shared-memory tiles of A and B (2 × 32×65 floats, 16.6 KiB): two
// barriers per slice, which bound the speed on llvmpipe.
// PACKED_LOADS (TRANS_B with F16/BF16 and even K, or Q8/Q4) loads B by
// whole words instead of element by element.
// Bindings: 0 C, 1 A, 2 B (W_BIND), 3 B's scales (Q8/Q4), 4 bias (HAS_BIAS,
// indexed by cOff + column).
// Uniforms: 0 M, 1 N, 2 K, 3 ldc, 4 cOff, 5 aBatch, 6 bBatch, 7 cBatch
// (element strides between batch entries).
#define WG 256 // 16×16
#define W_BIND 2
#define WS_BIND 3
#include "common.glsl"
#include "weights.glsl"

#define TM 64
#define TN 64
#define TK 32

layout(local_size_x = 16, local_size_y = 16) in;

layout(std430, binding = 0) writeonly buffer CBuf { float cm[]; };
layout(std430, binding = 1) readonly buffer ABuf { float am[]; };
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

shared float As[TK][TM + 1];
shared float Bs[TK][TN + 1];

void main() {
	int tx = int(gl_LocalInvocationID.x);
	int ty = int(gl_LocalInvocationID.y);
	int t = ty * 16 + tx;
	int n0 = int(gl_WorkGroupID.x) * TN;
	int m0 = int(gl_WorkGroupID.y) * TM;
	int z = int(gl_WorkGroupID.z);
	int aBase = z * aBatch;
	int bBase = z * bBatch;

	float acc[4][4];
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 4; j++) acc[i][j] = 0.0;

	for (int k0 = 0; k0 < K; k0 += TK) {
		// 256 invocations load 64×32 elements of each operand, consecutive
		// invocations reading consecutive addresses.
		for (int e = 0; e < 8; e++) {
			int idx = t + e * 256;
			int m = idx / TK, k = idx % TK;
			int gm = m0 + m, gk = k0 + k;
			As[k][m] = (gm < M && gk < K) ? am[aBase + gm * K + gk] : 0.0;
#if !defined(TRANS_B)
			int kb = idx / TN, n = idx % TN;
			int gn = n0 + n, gkb = k0 + kb;
			Bs[kb][n] = (gn < N && gkb < K) ? wAt(bBase + gkb * N + gn) : 0.0;
#elif !defined(PACKED_LOADS)
			int n = idx / TK, kb = idx % TK;
			int gn = n0 + n, gkb = k0 + kb;
			Bs[kb][n] = (gn < N && gkb < K) ? wAt(bBase + gn * K + gkb) : 0.0;
#endif
		}
#if defined(TRANS_B) && defined(PACKED_LOADS)
		// Packed weights [N, K] load whole words: a slice of 32 elements of
		// a row is 16 words of F16/BF16 (K even), 8 of Q8 or 4 of Q4, and
		// is exactly one quantization block (k0 is a multiple of 32).
#if defined(WT_F16) || defined(WT_BF16)
		for (int e = 0; e < 4; e++) {
			int idx = t + e * 256;
			int n = idx / 16, wk = idx % 16;
			int gn = n0 + n, gk = k0 + 2 * wk;
			vec2 v = vec2(0.0);
			if (gn < N && gk < K) {
				uint u = wd[(bBase + gn * K + gk) >> 1];
#ifdef WT_F16
				v = unpackHalf2x16(u);
#else
				v = vec2(uintBitsToFloat(u << 16), uintBitsToFloat(u & 0xffff0000u));
#endif
			}
			Bs[2 * wk][n] = v.x;
			Bs[2 * wk + 1][n] = v.y;
		}
#elif defined(WT_Q8)
		for (int e = 0; e < 2; e++) {
			int idx = t + e * 256;
			int n = idx / 8, wk = idx % 8;
			int gn = n0 + n, gk = k0 + 4 * wk;
			vec4 v = vec4(0.0);
			if (gn < N && gk < K) {
				int i = bBase + gn * K + gk;
				v = vec4((ivec4(int(wd[i >> 2])) << ivec4(24, 16, 8, 0)) >> 24) * ws[i >> 5];
			}
			for (int j = 0; j < 4; j++) Bs[4 * wk + j][n] = v[j];
		}
#elif defined(WT_Q4)
		{
			int n = t / 4, wk = t % 4;
			int gn = n0 + n, gk = k0 + 8 * wk;
			vec4 lo = vec4(0.0), hi = vec4(0.0);
			if (gn < N && gk < K) {
				int i = bBase + gn * K + gk;
				uint u = wd[i >> 3];
				float sc = ws[i >> 5];
				lo = (vec4((uvec4(u) >> uvec4(0u, 4u, 8u, 12u)) & 15u) - 8.0) * sc;
				hi = (vec4((uvec4(u) >> uvec4(16u, 20u, 24u, 28u)) & 15u) - 8.0) * sc;
			}
			for (int j = 0; j < 4; j++) {
				Bs[8 * wk + j][n] = lo[j];
				Bs[8 * wk + 4 + j][n] = hi[j];
			}
		}
#endif
#endif
		SYNC();
		for (int k = 0; k < TK; k++) {
			float a0 = As[k][ty], a1 = As[k][ty + 16], a2 = As[k][ty + 32], a3 = As[k][ty + 48];
			float b0 = Bs[k][tx], b1 = Bs[k][tx + 16], b2 = Bs[k][tx + 32], b3 = Bs[k][tx + 48];
			acc[0][0] += a0 * b0; acc[0][1] += a0 * b1; acc[0][2] += a0 * b2; acc[0][3] += a0 * b3;
			acc[1][0] += a1 * b0; acc[1][1] += a1 * b1; acc[1][2] += a1 * b2; acc[1][3] += a1 * b3;
			acc[2][0] += a2 * b0; acc[2][1] += a2 * b1; acc[2][2] += a2 * b2; acc[2][3] += a2 * b3;
			acc[3][0] += a3 * b0; acc[3][1] += a3 * b1; acc[3][2] += a3 * b2; acc[3][3] += a3 * b3;
		}
		SYNC();
	}

	int cBase = z * cBatch;
	for (int i = 0; i < 4; i++) {
		int gm = m0 + ty + 16 * i;
		if (gm >= M) continue;
		for (int j = 0; j < 4; j++) {
			int gn = n0 + tx + 16 * j;
			if (gn >= N) continue;
			float v = acc[i][j];
#ifdef HAS_BIAS
			v += bias[cOff + gn];
#endif
			cm[cBase + gm * ldc + cOff + gn] = v;
		}
	}
}
