// attention_reduce.comp: the second dispatch of split-K decoding attention
// (attention.comp with SPLIT; after llama.cpp's
// flash_attn_split_k_reduce.comp). For each row, the nSplit runs' states
// (m_s, l_s, acc_s) combine at their common maximum M = max m_s:
// out = Σ exp(m_s − M)·acc_s / Σ exp(m_s − M)·l_s, a run with m_s = -Inf
// (no visible key, or only -Inf scores) weighing nothing, and a row none
// of whose runs saw a key getting zeros, as the one-pass kernel gives.
// Layout: part [rows, nSplit, D+2] (m, l, D sums); out [rows, D] (rows in
// attention.comp's order: one query per row, so row r is out's r-th run
// of D).
// Work groups: one per row, WG invocations over the D dimensions; each
// invocation recomputes M and the sum of weights (nSplit is small).
// Bindings: 0 out, 1 part.
// Uniforms: 0 rows, 1 nSplit, 2 D.
#include "common.glsl"

layout(local_size_x = WG) in;

layout(std430, binding = 0) writeonly buffer OBuf { float o[]; };
layout(std430, binding = 1) readonly buffer PBuf { float part[]; };

layout(location = 0) uniform int rows;
layout(location = 1) uniform int nSplit;
layout(location = 2) uniform int D;

void main() {
	int g = groupIndex();
	if (g >= rows) return; // uniform across the work group
	int base = g * nSplit * (D + 2);
	float M = NEG_INF;
	for (int s = 0; s < nSplit; s++) M = max(M, part[base + s * (D + 2)]);
	float L = 0.0;
	for (int s = 0; s < nSplit; s++) {
		float m = part[base + s * (D + 2)];
		if (m != NEG_INF) L += exp(m - M) * part[base + s * (D + 2) + 1];
	}
	float inv = L > 0.0 ? 1.0 / L : 0.0;
	for (int d = lid(); d < D; d += WG) {
		float a = 0.0;
		for (int s = 0; s < nSplit; s++) {
			float m = part[base + s * (D + 2)];
			if (m != NEG_INF) a += exp(m - M) * part[base + s * (D + 2) + 2 + d];
		}
		o[g * D + d] = a * inv;
	}
}
