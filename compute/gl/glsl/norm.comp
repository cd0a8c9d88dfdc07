// norm.comp: LayerNorm (define LAYERNORM, optional HAS_BIAS) or RMSNorm of
// each row. Layout: x and out [rows, C] F32, w and b [C] F32.
// Work groups: one per row (2-D grid above 65535 rows), WG invocations
// striding over the row; sums reduce through shared memory (or subgroups).
// Bindings: 0 out, 1 x, 2 w, 3 b (HAS_BIAS).
// Uniforms: 0 rows, 1 C, 2 eps.
#define NEED_REDUCE
#include "common.glsl"

layout(local_size_x = WG) in;

layout(std430, binding = 0) writeonly buffer OBuf { float o[]; };
layout(std430, binding = 1) readonly buffer XBuf { float x[]; };
layout(std430, binding = 2) readonly buffer WBuf { float w[]; };
#ifdef HAS_BIAS
layout(std430, binding = 3) readonly buffer BBuf { float bias[]; };
#endif

layout(location = 0) uniform int rows;
layout(location = 1) uniform int C;
layout(location = 2) uniform float eps;

void main() {
	int r = groupIndex();
	if (r >= rows) return; // uniform across the work group
	int base = r * C;
	int l = lid();
#ifdef LAYERNORM
	// Two passes (mean, then the centred sum of squares) as PyTorch does,
	// which keeps the variance accurate for rows with a large mean.
	float s = 0.0;
	for (int c = l; c < C; c += WG) s += x[base + c];
	float mean = wgSum(s) / float(C);
	float v = 0.0;
	for (int c = l; c < C; c += WG) {
		float d = x[base + c] - mean;
		v += d * d;
	}
	float inv = 1.0 / sqrt(wgSum(v) / float(C) + eps);
	for (int c = l; c < C; c += WG) {
		float y = (x[base + c] - mean) * inv * w[c];
#ifdef HAS_BIAS
		y += bias[c];
#endif
		o[base + c] = y;
	}
#else
	float s = 0.0;
	for (int c = l; c < C; c += WG) {
		float e = x[base + c];
		s += e * e;
	}
	float inv = 1.0 / sqrt(wgSum(s) / float(C) + eps);
	for (int c = l; c < C; c += WG) o[base + c] = x[base + c] * inv * w[c];
#endif
}
