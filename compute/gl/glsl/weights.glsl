// weights.glsl: declares a weight tensor's buffers and wAt(i), its element i
// (chunk-local, row-major) widened to float32. The including kernel defines
// W_BIND (packed words or floats) and WS_BIND (Q8/Q4 block scales, one float
// per 32 elements) and one of WT_F32, WT_F16, WT_BF16, WT_Q8, WT_Q4, WT_Q4K,
// WT_Q6K.
// The layouts are compute.Pack's: F16/BF16 two per word, low half first; Q8
// four int8 per word, low byte first; Q4 eight nibbles per word, low first,
// each holding q+8; Q4K llama.cpp's block_q4_K, 36 words per 256 elements,
// and Q6K llama.cpp's block_q6_K and two zero bytes, 53 words per 256
// elements (compute/quant.go), both with no WS_BIND buffer.

#if defined(WT_F32)
layout(std430, binding = W_BIND) readonly buffer WBuf { float wd[]; };
float wAt(int i) { return wd[i]; }
#elif defined(WT_F16)
layout(std430, binding = W_BIND) readonly buffer WBuf { uint wd[]; };
float wAt(int i) { vec2 h = unpackHalf2x16(wd[i >> 1]); return (i & 1) == 0 ? h.x : h.y; }
#elif defined(WT_BF16)
layout(std430, binding = W_BIND) readonly buffer WBuf { uint wd[]; };
float wAt(int i) { uint u = wd[i >> 1]; return uintBitsToFloat((i & 1) == 0 ? (u << 16) : (u & 0xffff0000u)); }
#elif defined(WT_Q8)
layout(std430, binding = W_BIND) readonly buffer WBuf { uint wd[]; };
layout(std430, binding = WS_BIND) readonly buffer WSBuf { float ws[]; };
float wAt(int i) { return float(bitfieldExtract(int(wd[i >> 2]), (i & 3) * 8, 8)) * ws[i >> 5]; }
#elif defined(WT_Q4)
layout(std430, binding = W_BIND) readonly buffer WBuf { uint wd[]; };
layout(std430, binding = WS_BIND) readonly buffer WSBuf { float ws[]; };
float wAt(int i) { return float(int(bitfieldExtract(wd[i >> 3], (i & 7) * 4, 4)) - 8) * ws[i >> 5]; }
#elif defined(WT_Q4K)
layout(std430, binding = W_BIND) readonly buffer WBuf { uint wd[]; };
// q4kByte is byte b of the bytes starting at word w.
uint q4kByte(int w, int b) { return bitfieldExtract(wd[w + (b >> 2)], (b & 3) * 8, 8); }
float wAt(int i) {
	int base = (i >> 8) * 36; // the super-block's first word
	int e = i & 255, j = e >> 5;
	vec2 dm = unpackHalf2x16(wd[base]); // d, dmin
	uint sc, m;
	if (j < 4) {
		sc = q4kByte(base + 1, j) & 63u;
		m = q4kByte(base + 1, j + 4) & 63u;
	} else {
		uint b = q4kByte(base + 1, j + 4);
		sc = (b & 15u) | ((q4kByte(base + 1, j - 4) >> 6) << 4);
		m = (b >> 4) | ((q4kByte(base + 1, j) >> 6) << 4);
	}
	int qb = 32 * (e >> 6) + (e & 31);
	uint q = bitfieldExtract(wd[base + 4 + (qb >> 2)], (qb & 3) * 8 + (j & 1) * 4, 4);
	// precise: each product is rounded before the subtraction, as the host
	// decodes it (no fused multiply-add), so every backend sees one value.
	precise float s = dm.x * float(sc);
	precise float mn = dm.y * float(m);
	precise float v = s * float(q);
	return v - mn;
}
#elif defined(WT_Q6K)
layout(std430, binding = W_BIND) readonly buffer WBuf { uint wd[]; };
float wAt(int i) {
	int base = (i >> 8) * 53; // the super-block's first word
	int e = i & 255, h = e >> 7, r = e & 127;
	// Low four bits: byte 64h + r%64 of ql (words 0–31), the high nibble
	// for r ≥ 64; top two: byte 32h + r%32 of qh (words 32–47), bits
	// 2·(r/32) on.
	int lb = 64 * h + (r & 63), hb = 32 * h + (r & 31);
	uint lo = bitfieldExtract(wd[base + (lb >> 2)], (lb & 3) * 8 + (r >> 6) * 4, 4);
	uint hi = bitfieldExtract(wd[base + 32 + (hb >> 2)], (hb & 3) * 8 + (r >> 5) * 2, 2);
	// The int8 scale of group e/16 (words 48–51) and d (word 52's low half).
	int sc = bitfieldExtract(int(wd[base + 48 + (e >> 6)]), ((e >> 4) & 3) * 8, 8);
	float d = unpackHalf2x16(wd[base + 52]).x;
	// precise: d·sc is rounded (exactly, in float32) before the product, as
	// the host decodes it (no fused multiply-add).
	precise float s = d * float(sc);
	precise float v = s * float(int(lo | (hi << 4)) - 32);
	return v;
}
#endif
