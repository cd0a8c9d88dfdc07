// embedding.comp: rows of a table (any weight dtype, weights.glsl) at ids,
// widened to F32. A table split into row chunks is gathered one chunk at a
// time: each dispatch writes only the ids in [rowStart, rowStart+rowCount).
// Layout: ids [n] int; table chunk [rowCount, C]; out [n, C].
// Work groups: 1-D, WG invocations, grid-stride over n*C elements.
// Bindings: 0 out, 1 ids, 2 table (W_BIND), 3 scales (Q8/Q4).
// Uniforms: 0 n, 1 C, 2 rowStart, 3 rowCount.
#define W_BIND 2
#define WS_BIND 3
#include "common.glsl"
#include "weights.glsl"

layout(local_size_x = WG) in;

layout(std430, binding = 0) writeonly buffer OBuf { float o[]; };
layout(std430, binding = 1) readonly buffer IBuf { int ids[]; };

layout(location = 0) uniform int n;
layout(location = 1) uniform int C;
layout(location = 2) uniform int rowStart;
layout(location = 3) uniform int rowCount;

void main() {
	int total = n * C;
	for (int e = globalIndex(); e < total; e += gridStride()) {
		int r = ids[e / C] - rowStart;
		if (r >= 0 && r < rowCount) o[e] = wAt(r * C + e % C);
	}
}
