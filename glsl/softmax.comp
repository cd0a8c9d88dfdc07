// softmax.comp: softmax of each row after adding an optional mask (define
// SOFTMAX, HAS_MASK) or log-softmax (define LOG_SOFTMAX).
// Layout: x and out [rows, C] F32; mask [rows, C] or [1, C] (maskRows 1:
// broadcast); a row that is entirely -Inf gives zeros. Work groups: one per row, WG invocations striding over it;
// max and sum reduce through shared memory (or subgroups).
// Bindings: 0 out, 1 x, 2 mask (HAS_MASK).
// Uniforms: 0 rows, 1 C, 2 maskRows (HAS_MASK).
#define NEED_REDUCE
#include "common.glsl"

layout(local_size_x = WG) in;

layout(std430, binding = 0) writeonly buffer OBuf { float o[]; };
layout(std430, binding = 1) readonly buffer XBuf { float x[]; };
#ifdef HAS_MASK
layout(std430, binding = 2) readonly buffer MBuf { float mask[]; };
layout(location = 2) uniform int maskRows;
#endif

layout(location = 0) uniform int rows;
layout(location = 1) uniform int C;

float val(int r, int c) {
	float v = x[r * C + c];
#ifdef HAS_MASK
	v += mask[(maskRows == 1 ? 0 : r) * C + c];
#endif
	return v;
}

void main() {
	int r = groupIndex();
	if (r >= rows) return; // uniform across the work group
	int l = lid();
	float m = NEG_INF;
	for (int c = l; c < C; c += WG) m = max(m, val(r, c));
	m = wgMax(m);
	if (m == NEG_INF) {
		// Every value is -Inf: zeros, as the CPU backend gives.
		for (int c = l; c < C; c += WG) o[r * C + c] = 0.0;
		return;
	}
	float s = 0.0;
	for (int c = l; c < C; c += WG) s += exp(val(r, c) - m);
	s = wgSum(s);
#ifdef LOG_SOFTMAX
	float ls = log(s);
	for (int c = l; c < C; c += WG) o[r * C + c] = val(r, c) - m - ls;
#else
	float inv = 1.0 / s;
	for (int c = l; c < C; c += WG) o[r * C + c] = exp(val(r, c) - m) * inv;
#endif
}
