// splitqkv.comp: from a fused query–key–value projection to attention's
// inputs: q rotated into out, k rotated and v written into the KV cache.
// Layout: qkv [rows, (H+2·KVH)·D] F32 (rows = B·T, row r is batch entry
// r / T, token r % T); out [rows, H·D] F32; the caches kc, vc
// [S, capacity, KVH·D], F32 or, with KV_F16, halves packed two per word
// (rounded to nearest even, as compute.Float32ToHalf rounds). Row r's keys
// and values go to sequence r / T, position at + r % T.
// ROPE rotates q and k in LLaMA's rotate-half layout by the (cos, sin)
// table cs [positions, D/2] (compute.RoPETable's values, kept on the
// device) at position pos[r] + posOff (pos F32 integers), each product
// rounded to float32 (precise: no fused multiply-adds), as RoPE does.
// Work groups: 1-D, WG invocations, grid-stride over the element pairs
// (2i, 2i+1) of every row: pairs never straddle a head (D is even), and a
// pair is one word of an F16 cache.
// Bindings: 0 out, 1 qkv, 2 kc, 3 vc, 4 cs (ROPE), 5 pos (ROPE).
// Uniforms: 0 rows, 1 T, 2 H, 3 KVH, 4 D, 5 capacity, 6 at, 7 posOff.
#include "common.glsl"

layout(local_size_x = WG) in;

layout(std430, binding = 0) writeonly buffer OBuf { float o[]; };
layout(std430, binding = 1) readonly buffer XBuf { float x[]; };
#ifdef KV_F16
layout(std430, binding = 2) writeonly buffer KBuf { uint kc[]; };
layout(std430, binding = 3) writeonly buffer VBuf { uint vc[]; };
#else
layout(std430, binding = 2) writeonly buffer KBuf { float kc[]; };
layout(std430, binding = 3) writeonly buffer VBuf { float vc[]; };
#endif
#ifdef ROPE
layout(std430, binding = 4) readonly buffer CSBuf { vec2 cs[]; };
layout(std430, binding = 5) readonly buffer PBuf { float pos[]; };
#endif

layout(location = 0) uniform int rows;
layout(location = 1) uniform int T;
layout(location = 2) uniform int H;
layout(location = 3) uniform int KVH;
layout(location = 4) uniform int D;
layout(location = 5) uniform int capacity;
layout(location = 6) uniform int at;
layout(location = 7) uniform int posOff;

#ifdef KV_F16
// toHalf rounds f to the nearest binary16, ties to even (GLSL leaves
// packHalf2x16's rounding to the implementation).
uint toHalf(float f) {
	uint u = floatBitsToUint(f);
	uint sign = (u >> 16) & 0x8000u;
	uint e = (u >> 23) & 0xffu;
	uint m = u & 0x7fffffu;
	if (e == 0xffu) return sign | 0x7c00u | (m != 0u ? 0x200u : 0u);
	int ee = int(e) - 112; // the binary16 exponent field
	if (ee >= 31) return sign | 0x7c00u;
	if (ee <= 0) {
		if (ee < -10) return sign;
		m |= 0x800000u;
		uint shift = uint(14 - ee);
		uint hm = m >> shift;
		uint rem = m & ((1u << shift) - 1u);
		uint halfway = 1u << (shift - 1u);
		if (rem > halfway || (rem == halfway && (hm & 1u) != 0u)) hm++;
		return sign | hm;
	}
	uint h = sign | (uint(ee) << 10) | (m >> 13);
	uint rem = m & 0x1fffu;
	// A carry out of the mantissa moves into the exponent, as it should.
	if (rem > 0x1000u || (rem == 0x1000u && (h & 1u) != 0u)) h++;
	return h;
}
#endif

// value returns element i of the head starting at base, rotated when rot.
float value(int base, int i, bool rot, int r) {
#ifdef ROPE
	if (rot) {
		int half_ = D / 2;
		int p = int(pos[r]) + posOff;
		if (i < half_) {
			vec2 c = cs[p * half_ + i];
			precise float a = x[base + i] * c.x, b = x[base + i + half_] * c.y;
			return a - b;
		}
		vec2 c = cs[p * half_ + i - half_];
		precise float a = x[base + i] * c.x, b = x[base + i - half_] * c.y;
		return a + b;
	}
#endif
	return x[base + i];
}

void main() {
	int qw = H * D, kw = KVH * D;
	int width = qw + 2 * kw;
	int perRow = width / 2;
	int total = rows * perRow;
	for (int e = globalIndex(); e < total; e += gridStride()) {
		int r = e / perRow;
		int c = (e % perRow) * 2; // element in the row: c, c+1
		int i = c % D;            // and within its head
		int base = r * width + c - i;
		bool rot = c < qw + kw;   // q and k rotate, v does not
		float v0 = value(base, i, rot, r), v1 = value(base, i + 1, rot, r);
		if (c < qw) {
			o[r * qw + c] = v0;
			o[r * qw + c + 1] = v1;
			continue;
		}
		int cc = c < qw + kw ? c - qw : c - qw - kw;
		int dst = ((r / T) * capacity + at + r % T) * kw + cc;
#ifdef KV_F16
		uint w = toHalf(v0) | (toHalf(v1) << 16);
		if (c < qw + kw) kc[dst >> 1] = w; else vc[dst >> 1] = w;
#else
		if (c < qw + kw) { kc[dst] = v0; kc[dst + 1] = v1; }
		else { vc[dst] = v0; vc[dst + 1] = v1; }
#endif
	}
}
