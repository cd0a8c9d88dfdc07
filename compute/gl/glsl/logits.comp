// logits.comp: token selection (compute.LogitsKernel), one variant per
// #define:
//
// PROCESS: the logits processors of each row, in transformers' order.
//   Layout: x and out [rows, C] F32; seen [rows, C], eos, suppress [C] F32
//   (non-zero: marked); bias [rows] F32; bans (row, token) int pairs.
//   Optional operands come with HAS_SEEN, HAS_EOS, HAS_SUPPRESS, HAS_BIAS,
//   HAS_BANS; LOG_SOFTMAX turns the row into log-probabilities first
//   (logsoftmax.comp's formula).
//   Work groups: one per row, WG invocations striding over it.
//   Bindings: 0 out, 1 x, 2 seen, 3 eos, 4 suppress, 5 bias, 6 bans.
//   Uniforms: 0 rows, 1 C, 2 penalty, 3 number of ban pairs.
//
// ARGMAX_MARK: argmax.comp, and with HAS_SEEN seen[row, winner] = 1.
//   Bindings: 0 out [rows] int, 1 x, 2 seen. Uniforms: 0 rows, 1 C.
//
// BEAM_SELECT: per batch entry, the K best (value, index) of x[b]
//   flattened over beams × V (descending, ties to the lower index, NaN
//   last), then the running beams: the best `beams` of those values, with
//   -1e9 added to candidates whose token is an EOS id (eos ≠ 0); their
//   values become scores[b·beams + j], and with HAS_SEEN seenNext's row
//   b·beams + j is seen's row of the beam extended, with the token marked.
//   Work groups: one per batch entry. Each invocation keeps the best K of
//   its strided share in registers; K rounds of a shared-memory argmax over
//   the invocations' heads then merge them in order.
//   Layout: x [batch, beams, V]; out [batch, K, 2] words (value bits,
//   index); scores [batch·beams]; eos [V]; seen, seenNext [batch·beams, V].
//   Bindings: 0 out, 1 x, 2 scores, 3 eos, 4 seen, 5 seenNext.
//   Uniforms: 0 batch, 1 beams, 2 V.
#if defined(PROCESS) && defined(LOG_SOFTMAX)
#define NEED_REDUCE
#endif
#include "common.glsl"

layout(local_size_x = WG) in;

// better reports whether (v1, i1) ranks above (v0, i0); index -1 is an
// empty slot, below everything; NaN ranks below every number.
bool better(float v1, int i1, float v0, int i0) {
	if (i0 < 0) return i1 >= 0;
	if (i1 < 0) return false;
	bool n1 = isnan(v1), n0 = isnan(v0);
	if (n1 != n0) return n0;
	if (n1 || v1 == v0) return i1 < i0;
	return v1 > v0;
}

#ifdef PROCESS
layout(std430, binding = 0) buffer OBuf { float o[]; };
layout(std430, binding = 1) readonly buffer XBuf { float x[]; };
#ifdef HAS_SEEN
layout(std430, binding = 2) readonly buffer SBuf { float seen[]; };
#endif
#ifdef HAS_EOS
layout(std430, binding = 3) readonly buffer EBuf { float eos[]; };
#endif
#ifdef HAS_SUPPRESS
layout(std430, binding = 4) readonly buffer PBuf { float sup[]; };
#endif
#ifdef HAS_BIAS
layout(std430, binding = 5) readonly buffer BBuf { float bias[]; };
#endif
#ifdef HAS_BANS
layout(std430, binding = 6) readonly buffer NBuf { int bans[]; };
#endif

layout(location = 0) uniform int rows;
layout(location = 1) uniform int C;
layout(location = 2) uniform float penalty;
layout(location = 3) uniform int nbans;

void main() {
	int r = groupIndex();
	if (r >= rows) return; // uniform across the work group
	int l = lid();
	int base = r * C;
#ifdef LOG_SOFTMAX
	float m = NEG_INF;
	for (int c = l; c < C; c += WG) m = max(m, x[base + c]);
	m = wgMax(m);
	// m is the work group's: the branch is uniform, its barriers safe.
	bool allInf = m == NEG_INF;
	float ls = 0.0;
	if (!allInf) {
		float s = 0.0;
		for (int c = l; c < C; c += WG) s += exp(x[base + c] - m);
		ls = log(wgSum(s));
	}
#endif
	float b = 0.0;
#ifdef HAS_BIAS
	b = bias[r];
#endif
	for (int c = l; c < C; c += WG) {
		float v = x[base + c];
#ifdef LOG_SOFTMAX
		if (!allInf) v = (v - m) - ls;
#endif
#ifdef HAS_SEEN
		if (seen[base + c] != 0.0) v = v < 0.0 ? v * penalty : v / penalty;
#endif
#ifdef HAS_EOS
		if (eos[c] != 0.0) v = NEG_INF;
#endif
#ifdef HAS_SUPPRESS
		if (sup[c] != 0.0) v = NEG_INF;
#endif
		o[base + c] = v + b;
	}
#ifdef HAS_BANS
	// The bans overwrite what other invocations of the group wrote.
	memoryBarrierBuffer();
	barrier();
	for (int i = l; i < nbans; i += WG) {
		if (bans[2 * i] == r) o[base + bans[2 * i + 1]] = NEG_INF;
	}
#endif
}
#endif

#ifdef ARGMAX_MARK
layout(std430, binding = 0) writeonly buffer OBuf { int o[]; };
layout(std430, binding = 1) readonly buffer XBuf { float x[]; };
#ifdef HAS_SEEN
layout(std430, binding = 2) buffer SBuf { float seen[]; };
#endif

layout(location = 0) uniform int rows;
layout(location = 1) uniform int C;

shared float bv[WG];
shared int bi[WG];

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
	if (l == 0) {
		int id = max(bi[0], 0);
		o[r] = id;
#ifdef HAS_SEEN
		seen[r * C + id] = 1.0;
#endif
	}
}
#endif

#ifdef BEAM_SELECT
layout(std430, binding = 0) writeonly buffer OBuf { int o[]; };
layout(std430, binding = 1) readonly buffer XBuf { float x[]; };
layout(std430, binding = 2) buffer ScBuf { float scores[]; };
layout(std430, binding = 3) readonly buffer EBuf { float eos[]; };
#ifdef HAS_SEEN
layout(std430, binding = 4) readonly buffer SBuf { float seen[]; };
layout(std430, binding = 5) writeonly buffer NBuf { float seenNext[]; };
#endif

layout(location = 0) uniform int batch;
layout(location = 1) uniform int beams;
layout(location = 2) uniform int V;

shared float bv[WG];
shared int bi[WG];
shared float cv[K]; // the entry's K best, in order
shared int ci[K];
shared int selSrc[K]; // per new running beam: the row it extends …
shared int selTok[K]; // … and its token

void main() {
	int b = groupIndex();
	if (b >= batch) return; // uniform across the work group
	int l = lid();
	int W = beams * V;
	int base = b * W;
	// This invocation's best K, best first.
	float lv[K];
	int li[K];
	int n = 0;
	for (int e = l; e < W; e += WG) {
		float v = x[base + e];
		if (n == K && !better(v, e, lv[K - 1], li[K - 1])) continue;
		int p = n;
		if (n < K) n++; else p = K - 1;
		while (p > 0 && better(v, e, lv[p - 1], li[p - 1])) {
			lv[p] = lv[p - 1];
			li[p] = li[p - 1];
			p--;
		}
		lv[p] = v;
		li[p] = e;
	}
	// K rounds: the best head of all invocations' lists wins and its owner
	// moves on.
	int h = 0;
	for (int k = 0; k < K; k++) {
		bool has = h < n;
		bv[l] = has ? lv[h] : 0.0;
		bi[l] = has ? li[h] : -1;
		SYNC();
		for (int s = WG / 2; s > 0; s >>= 1) {
			if (l < s && better(bv[l + s], bi[l + s], bv[l], bi[l])) {
				bv[l] = bv[l + s];
				bi[l] = bi[l + s];
			}
			SYNC();
		}
		int w = bi[0];
		if (has && li[h] == w) h++;
		if (l == 0) {
			cv[k] = bv[0];
			ci[k] = w;
		}
		SYNC(); // bv[0] and bi[0] are read before the next round writes them
	}
	if (l == 0) {
		// The running beams: the best `beams` of the candidates, those that
		// end on EOS pushed down by -1e9 as transformers does.
		float rv[K];
		int rk[K];
		int m = 0;
		for (int k = 0; k < K; k++) {
			float v = cv[k];
			if (eos[ci[k] % V] != 0.0) v += -1e9;
			if (m == beams && !better(v, k, rv[beams - 1], rk[beams - 1])) continue;
			int p = m;
			if (m < beams) m++; else p = beams - 1;
			while (p > 0 && better(v, k, rv[p - 1], rk[p - 1])) {
				rv[p] = rv[p - 1];
				rk[p] = rk[p - 1];
				p--;
			}
			rv[p] = v;
			rk[p] = k;
		}
		for (int j = 0; j < beams; j++) {
			int c = ci[rk[j]];
			scores[b * beams + j] = rv[j];
			selSrc[j] = b * beams + c / V;
			selTok[j] = c % V;
		}
		for (int k = 0; k < K; k++) {
			o[2 * (b * K + k)] = floatBitsToInt(cv[k]);
			o[2 * (b * K + k) + 1] = ci[k];
		}
	}
#ifdef HAS_SEEN
	SYNC();
	for (int j = 0; j < beams; j++) {
		int src = selSrc[j] * V, dst = (b * beams + j) * V, tok = selTok[j];
		for (int c = l; c < V; c += WG) seenNext[dst + c] = c == tok ? 1.0 : seen[src + c];
	}
#endif
}
#endif
