// weights.glsl: declares a weight tensor's buffers and wAt(i), its element i
// (chunk-local, row-major) widened to float32. The including kernel defines
// W_BIND (packed words or floats) and WS_BIND (Q8/Q4 block scales, one float
// per 32 elements) and one of WT_F32, WT_F16, WT_BF16, WT_Q8, WT_Q4. The
// layouts are compute.Pack's: F16/BF16 two per word, low half first; Q8 four
// int8 per word, low byte first; Q4 eight nibbles per word, low first, each
// holding q+8.

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
#endif
