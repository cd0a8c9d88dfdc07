// matmul_reduce.comp: the second dispatch of a split-K product
// (matmul.comp with SPLITK): C[m, cOff+n] = Σ_s part[s, m, n] (+ bias), the
// slices summed in order so that the result does not depend on timing.
// Layout: part [S, M, N] F32; C rows of stride ldc, columns [cOff, cOff+N).
// Work groups: WG invocations in a grid-stride loop over the M·N outputs.
// Bindings: 0 C, 1 part, 4 bias (HAS_BIAS, indexed by cOff + column).
// Uniforms: 0 M, 1 N, 2 S, 3 ldc, 4 cOff.
#include "common.glsl"

layout(local_size_x = WG) in;

layout(std430, binding = 0) writeonly buffer CBuf { float cm[]; };
layout(std430, binding = 1) readonly buffer PBuf { float part[]; };
#ifdef HAS_BIAS
layout(std430, binding = 4) readonly buffer BiasBuf { float bias[]; };
#endif

layout(location = 0) uniform int M;
layout(location = 1) uniform int N;
layout(location = 2) uniform int S;
layout(location = 3) uniform int ldc;
layout(location = 4) uniform int cOff;

void main() {
	int mn = M * N;
	for (int i = globalIndex(); i < mn; i += gridStride()) {
		float v = 0.0;
		for (int s = 0; s < S; s++) v += part[s * mn + i];
		int m = i / N, n = i - m * N;
#ifdef HAS_BIAS
		v += bias[cOff + n];
#endif
		cm[m * ldc + cOff + n] = v;
	}
}
