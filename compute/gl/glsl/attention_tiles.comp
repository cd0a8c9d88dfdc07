// attention_tiles.comp: flash-style scaled-dot-product attention for many
// queries (the vision encoder, the Q-Former, the prompt): one work group
// per (batch, head, tile of BQ queries), walking the keys in tiles of BK
// that every query of the tile shares, with an online softmax, so that a
// key and its value are read from memory once per BQ queries instead of
// once per query, and the scores never leave shared memory.
// The same problem and layout as attention.comp (which keeps decoding, one
// query per row): q and out [B, Tq, H*D]; k and v [·, Tk, KVH*D], F32 or
// F16 (KV_F16), key j of entry b in sequence rows[b, j] with HAS_ROWS;
// mask [B, maskTk] (HAS_MASK); bias [H, Tq, biasTk] or [B, H, Tq, biasTk]
// (HAS_BIAS). Query i sees keys j < keyLen and, with causal, j <= i +
// causalOff; a query that sees no key, or only -Inf scores, gets zeros.
//
// Design (after llama.cpp's flash_attn.comp, in plain GLSL 4.30):
// - Shared memory holds the tile's queries Qs [BQ][DMAX], one tile of keys
//   and then of values KVs [BK][DMAX+1] (the +1 makes the score loop's
//   reads, one key per invocation, conflict free) and the scores S
//   [BQ][BK]. DMAX is D rounded up to 64, 96, 128 or 256 (package gl's
//   choice: few programs to compile); BQ×BK is 16×32 up to DMAX 128, 8×16
//   for 256 (head sizes up to 256), under 27 KiB either way.
// - Per key tile, four phases between barriers: load the keys (consecutive
//   invocations read consecutive elements of a key: coalesced); score the
//   BQ×BK pairs; update each query's running maximum m and sum l,
//   rewriting its scores as exp(s − m), while the other invocations load
//   the values over the keys; rescale and accumulate the outputs.
// - Invocation l owns outputs e = l + WG·r (query e / DMAX, dimension
//   e % DMAX) in registers: BQ·DMAX/WG of them.
// - Key tiles run up to the last key any query of the tile sees (causal
//   tiles stop early); keys beyond it load as zeros and the loops over a
//   tile stop before them.
// Grid: B·H·nQT work groups (nQT = ceil(Tq/BQ)), flattened by groupIndex.
// Bindings: 0 out, 1 q, 2 k, 3 v, 4 mask, 5 bias, 6 rows (as attention.comp).
// Uniforms: 0 groups, 1 Tq, 2 Tk, 3 keyLen, 4 H, 5 KVH, 6 D, 7 scale,
// 8 causal, 9 causalOff, 10 maskTk, 11 biasTk, 12 biasBatched, 13 rowsTk,
// 14 nQT.
#include "common.glsl"

layout(local_size_x = WG) in;

layout(std430, binding = 0) writeonly buffer OBuf { float o[]; };
layout(std430, binding = 1) readonly buffer QBuf { float q[]; };
#ifdef KV_F16
layout(std430, binding = 2) readonly buffer KBuf { uint kh[]; };
layout(std430, binding = 3) readonly buffer VBuf { uint vh[]; };
float kAt(int i) { vec2 w = unpackHalf2x16(kh[i >> 1]); return (i & 1) == 0 ? w.x : w.y; }
float vAt(int i) { vec2 w = unpackHalf2x16(vh[i >> 1]); return (i & 1) == 0 ? w.x : w.y; }
#else
layout(std430, binding = 2) readonly buffer KBuf { float k[]; };
layout(std430, binding = 3) readonly buffer VBuf { float v[]; };
float kAt(int i) { return k[i]; }
float vAt(int i) { return v[i]; }
#endif
#ifdef HAS_ROWS
layout(std430, binding = 6) readonly buffer RBuf { float rows[]; };
layout(location = 13) uniform int rowsTk;
#endif
#ifdef HAS_MASK
layout(std430, binding = 4) readonly buffer MBuf { float mask[]; };
layout(location = 10) uniform int maskTk;
#endif
#ifdef HAS_BIAS
layout(std430, binding = 5) readonly buffer BBuf { float bias[]; };
layout(location = 11) uniform int biasTk;
layout(location = 12) uniform int biasBatched;
#endif

layout(location = 0) uniform int groups;
layout(location = 1) uniform int Tq;
layout(location = 2) uniform int Tk;
layout(location = 3) uniform int keyLen;
layout(location = 4) uniform int H;
layout(location = 5) uniform int KVH;
layout(location = 6) uniform int D;
layout(location = 7) uniform float scale;
layout(location = 8) uniform int causal;
layout(location = 9) uniform int causalOff;
layout(location = 14) uniform int nQT;

#define NO (BQ * DMAX / WG) // outputs per invocation

shared float Qs[BQ][DMAX];
shared float KVs[BK][DMAX + 1];
shared float S[BQ][BK];
shared float mrow[BQ], lrow[BQ], arow[BQ];

// keyBase is where key (and value) j of batch entry b starts, head kvh.
int keyBase(int b, int j, int kvh) {
#ifdef HAS_ROWS
	int sq = int(rows[b * rowsTk + j]);
#else
	int sq = b;
#endif
	return (sq * Tk + j) * KVH * D + kvh * D;
}

// visible returns how many keys query qi (of the whole sequence) sees: a
// prefix, keyLen long or cut by the causal offset; 0 past the last query.
int visible(int qi) {
	if (qi >= Tq) return 0;
	int nk = keyLen;
	if (causal == 1) nk = min(nk, qi + causalOff + 1);
	return max(nk, 0);
}

void main() {
	int g = groupIndex();
	if (g >= groups) return; // uniform across the work group
	int l = lid();
	int qt = g % nQT;
	int h = (g / nQT) % H;
	int b = g / (nQT * H);
	int kvh = h / (H / KVH);
	int q0 = qt * BQ;

	for (int e = l; e < BQ * DMAX; e += WG) {
		int i = e / DMAX, d = e % DMAX;
		Qs[i][d] = (q0 + i < Tq && d < D) ? q[((b * Tq + q0 + i) * H + h) * D + d] : 0.0;
	}
	if (l < BQ) {
		mrow[l] = NEG_INF;
		lrow[l] = 0.0;
	}
	SYNC(); // lrow is read at the end even when no key tile runs
	// The tile's last query sees the most keys (causal prefixes grow).
	int nkMax = visible(min(q0 + BQ, Tq) - 1);

	float acc[NO];
	for (int r = 0; r < NO; r++) acc[r] = 0.0;

	for (int j0 = 0; j0 < nkMax; j0 += BK) {
		for (int e = l; e < BK * D; e += WG) {
			int j = e / D, d = e - j * D;
			KVs[j][d] = (j0 + j < nkMax) ? kAt(keyBase(b, j0 + j, kvh) + d) : 0.0;
		}
		SYNC();
		// A loop the compiler keeps rolled: the score's body (the mask,
		// the bias, the dot product's loop) once in the program.
		for (int e = l; e < BQ * BK; e += WG) {
			int i = e / BK, j = e % BK;
			int qi = q0 + i, kj = j0 + j;
			float s = NEG_INF;
			if (kj < visible(qi)) {
				float dotv = 0.0;
				for (int d = 0; d < D; d++) dotv += Qs[i][d] * KVs[j][d];
				s = dotv * scale;
#ifdef HAS_MASK
				s += mask[b * maskTk + kj];
#endif
#ifdef HAS_BIAS
				s += bias[(((biasBatched == 1 ? b : 0) * H + h) * Tq + qi) * biasTk + kj];
#endif
			}
			S[i][j] = s;
		}
		SYNC();
		// Keys past nkMax have zero weight for every query: the loops
		// below stop at bk, a trip count the compiler cannot unroll (which
		// keeps llvmpipe's compile times in seconds).
		int bk = min(BK, nkMax - j0);
		if (l < BQ) {
			float mold = mrow[l], mt = NEG_INF;
			for (int j = 0; j < bk; j++) mt = max(mt, S[l][j]);
			float mnew = max(mold, mt);
			float sum = 0.0;
			for (int j = 0; j < bk; j++) {
				float s = S[l][j];
				float p = (s == NEG_INF) ? 0.0 : exp(s - mnew);
				S[l][j] = p;
				sum += p;
			}
			float alpha = (mold == NEG_INF) ? 0.0 : exp(mold - mnew);
			arow[l] = alpha;
			lrow[l] = lrow[l] * alpha + sum;
			mrow[l] = mnew;
		}
		for (int e = l; e < BK * D; e += WG) {
			int j = e / D, d = e - j * D;
			KVs[j][d] = (j0 + j < nkMax) ? vAt(keyBase(b, j0 + j, kvh) + d) : 0.0;
		}
		SYNC();
		// Dimensions in [D, DMAX) accumulate whatever KVs holds there;
		// they are never written out.
		for (int r = 0; r < NO; r++) acc[r] *= arow[(l + WG * r) / DMAX];
		for (int j = 0; j < bk; j++) {
			for (int r = 0; r < NO; r++) {
				int e = l + WG * r;
				acc[r] += S[e / DMAX][j] * KVs[j][e % DMAX];
			}
		}
		SYNC();
	}

	for (int r = 0; r < NO; r++) {
		int e = l + WG * r;
		int i = e / DMAX, d = e % DMAX;
		if (d >= D || q0 + i >= Tq) continue;
		float ls = lrow[i];
		o[((b * Tq + q0 + i) * H + h) * D + d] = ls > 0.0 ? acc[r] / ls : 0.0;
	}
}
