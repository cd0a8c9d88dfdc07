// q6k_ggml.c prints llama.cpp's Q6_K encoding (quantize_row_q6_K_ref) of the
// inputs TestQ6KMatchesGGML builds, one super-block per line in hex, for
// q6k_ggml.hex. Build against a ggml checkout (ggml-org/ggml@d99724f2):
//   cc -O2 q6k_ggml.c -L$GGML/build/src -lggml-base -o q6k_ggml &&
//   LD_LIBRARY_PATH=$GGML/build/src ./q6k_ggml > q6k_ggml.hex
#include <stdint.h>
#include <stdio.h>
#include <string.h>

void quantize_row_q6_K_ref(const float *x, void *y, int64_t k);

static uint32_t state = 2463534242u;

// next is xorshift32 mapped to [-1, 1): the int32 is rounded to float
// (to nearest even, as Go's float32(int32) does), then scaled by 2^-31.
static float next(void) {
	state ^= state << 13;
	state ^= state >> 17;
	state ^= state << 5;
	return (float)(int32_t)state * (1.0f / 2147483648.0f);
}

int main(void) {
	enum { blocks = 8 };
	float x[256 * blocks];
	for (int b = 0; b < blocks; b++) {
		float *v = x + 256 * b;
		for (int i = 0; i < 256; i++) {
			float u = next();
			switch (b) {
			case 1: v[i] = u * (1.0f / 1024); break;       // small
			case 2: v[i] = u * u * u; break;               // heavy-tailed
			case 3: v[i] = 0; break;                       // all zero
			case 4: v[i] = i == 77 ? 0.5f : 0; break;      // one value
			case 5: v[i] = u < 0 ? -u : u; break;          // one sign
			case 6: v[i] = i / 16 == 3 ? 0 : u; break;     // a zero group
			case 7: v[i] = u * 1024; break;                // large
			default: v[i] = u;
			}
		}
	}
	unsigned char y[210 * blocks];
	memset(y, 0xff, sizeof y);
	quantize_row_q6_K_ref(x, y, 256 * blocks);
	for (int b = 0; b < blocks; b++) {
		for (int i = 0; i < 210; i++) printf("%02x", y[210 * b + i]);
		printf("\n");
	}
	return 0;
}
