// rope.comp: rotary position embedding in LLaMA's rotate-half layout: for
// each head and i < D/2, (x[i], x[i+D/2]) rotates by the row's angle θ_i:
// out[i] = x[i]·cos − x[i+D/2]·sin, out[i+D/2] = x[i+D/2]·cos + x[i]·sin.
// Layout: x and out [rows, H*D] F32 (rows = B*T); cs [positions, D/2, 2]
// holds (cos, sin) per position and frequency, compute.RoPETable's values
// kept on the device (built once, not per step), so that every backend
// rotates by the same float32 angles; pos [rows] the position of each row.
// Work groups: 1-D, WG invocations, grid-stride over rows*H*(D/2) pairs.
// Bindings: 0 out, 1 x, 2 cs, 3 pos.
// Uniforms: 0 rows, 1 H, 2 D.
#include "common.glsl"

layout(local_size_x = WG) in;

layout(std430, binding = 0) writeonly buffer OBuf { float o[]; };
layout(std430, binding = 1) readonly buffer XBuf { float x[]; };
layout(std430, binding = 2) readonly buffer CSBuf { vec2 cs[]; };
layout(std430, binding = 3) readonly buffer PBuf { int pos[]; };

layout(location = 0) uniform int rows;
layout(location = 1) uniform int H;
layout(location = 2) uniform int D;

void main() {
	int half_ = D / 2;
	int total = rows * H * half_;
	for (int e = globalIndex(); e < total; e += gridStride()) {
		int i = e % half_;
		int rh = e / half_; // row * H + head
		int r = rh / H;
		int base = rh * D;
		vec2 c = cs[pos[r] * half_ + i];
		float x1 = x[base + i], x2 = x[base + i + half_];
		// precise: no fused multiply-adds, each product rounds as on the CPU.
		precise float p1 = x1 * c.x, p2 = x2 * c.y, p3 = x2 * c.x, p4 = x1 * c.y;
		o[base + i] = p1 - p2;
		o[base + i + half_] = p3 + p4;
	}
}
