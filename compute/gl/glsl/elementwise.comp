// elementwise.comp: one element-wise operation, chosen by define:
//   OP_ADD   o = a + b[i % bn]        (b: same size as a, or one row broadcast)
//   OP_SCALE o = a * s
//   OP_GELU, OP_GELU_TANH, OP_SILU, OP_RELU   o = act(a)
//   OP_GATED o = ACT(a) * b           (ACT one of act_silu, act_gelu, act_gelu_tanh, act_relu)
// Layout: flat F32 arrays of n elements. Work groups: 1-D, WG invocations,
// grid-stride loop over the elements.
// Bindings: 0 out, 1 a, 2 b (binary and gated ops only).
// Uniforms: 0 n, 1 bn (binary ops), 2 s (OP_SCALE).
#include "common.glsl"

layout(local_size_x = WG) in;

layout(std430, binding = 0) writeonly buffer OBuf { float o[]; };
layout(std430, binding = 1) readonly buffer ABuf { float a[]; };
#if defined(OP_ADD) || defined(OP_GATED)
layout(std430, binding = 2) readonly buffer BBuf { float b[]; };
#endif

layout(location = 0) uniform int n;
#if defined(OP_ADD)
layout(location = 1) uniform int bn;
#endif
#if defined(OP_SCALE)
layout(location = 2) uniform float s;
#endif

void main() {
	for (int i = globalIndex(); i < n; i += gridStride()) {
		float x = a[i];
#if defined(OP_ADD)
		o[i] = x + b[i % bn];
#elif defined(OP_SCALE)
		o[i] = x * s;
#elif defined(OP_GELU)
		o[i] = geluErf(x);
#elif defined(OP_GELU_TANH)
		o[i] = geluTanh(x);
#elif defined(OP_SILU)
		o[i] = silu(x);
#elif defined(OP_RELU)
		o[i] = act_relu(x);
#elif defined(OP_GATED)
		o[i] = ACT(x) * b[i];
#endif
	}
}
