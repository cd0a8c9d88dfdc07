// logsoftmax.comp: log-softmax of each row:
// o = x − max − log(Σ exp(x − max)).
// Layout: x and out [rows, C] F32; a row that is entirely -Inf stays -Inf,
// as log(0) is. Work groups: one per row, WG invocations striding over it;
// max and sum reduce through shared memory (or subgroups).
// Bindings: 0 out, 1 x.
// Uniforms: 0 rows, 1 C.
#define NEED_REDUCE
#include "common.glsl"

layout(local_size_x = WG) in;

layout(std430, binding = 0) writeonly buffer OBuf { float o[]; };
layout(std430, binding = 1) readonly buffer XBuf { float x[]; };

layout(location = 0) uniform int rows;
layout(location = 1) uniform int C;

void main() {
	int r = groupIndex();
	if (r >= rows) return; // uniform across the work group
	int l = lid();
	float m = NEG_INF;
	for (int c = l; c < C; c += WG) m = max(m, x[r * C + c]);
	m = wgMax(m);
	if (m == NEG_INF) {
		// Every value is -Inf: so is every log-probability.
		for (int c = l; c < C; c += WG) o[r * C + c] = NEG_INF;
		return;
	}
	float s = 0.0;
	for (int c = l; c < C; c += WG) s += exp(x[r * C + c] - m);
	s = wgSum(s);
	float ls = log(s);
	for (int c = l; c < C; c += WG) o[r * C + c] = x[r * C + c] - m - ls;
}
