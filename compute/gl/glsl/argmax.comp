// argmax.comp: index of the largest value of each row (ties: the lower
// index; NaNs are never chosen over numbers).
// Layout: x [rows, C] F32; out [rows] int.
// Work groups: one per row, WG invocations striding over it, then a
// shared-memory tree over (value, index) pairs.
// Bindings: 0 out, 1 x.
// Uniforms: 0 rows, 1 C.
#include "common.glsl"

layout(local_size_x = WG) in;

layout(std430, binding = 0) writeonly buffer OBuf { int o[]; };
layout(std430, binding = 1) readonly buffer XBuf { float x[]; };

layout(location = 0) uniform int rows;
layout(location = 1) uniform int C;

shared float bv[WG];
shared int bi[WG];

// better reports whether (v1, i1) beats (v0, i0).
bool better(float v1, int i1, float v0, int i0) {
	if (i0 < 0) return i1 >= 0;
	if (i1 < 0) return false;
	return v1 > v0 || (v1 == v0 && i1 < i0);
}

void main() {
	int r = groupIndex();
	if (r >= rows) return; // uniform across the work group
	int l = lid();
	float best = 0.0;
	int idx = -1;
	for (int c = l; c < C; c += WG) {
		float v = x[r * C + c];
		if (!isnan(v) && (idx < 0 || v > best)) {
			best = v;
			idx = c;
		}
	}
	bv[l] = best;
	bi[l] = idx;
	SYNC();
	for (int s = WG / 2; s > 0; s >>= 1) {
		if (l < s && better(bv[l + s], bi[l + s], bv[l], bi[l])) {
			bv[l] = bv[l + s];
			bi[l] = bi[l + s];
		}
		SYNC();
	}
	if (l == 0) o[r] = max(bi[0], 0);
}
