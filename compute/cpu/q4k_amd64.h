// Shared by the Q4K integer kernels of qdot_amd64.s (AVX-512 VNNI) and
// qdot_avx2_amd64.s (AVX2): the decoding of a super-block's scales.

// Q4KSCALES decodes the super-block at DI's 6-bit scales and mins as
// llama.cpp's AVX2 kernel does (four 32-bit masks and shifts turn the 12
// bytes into eight scale bytes and eight min bytes, in three registers),
// widens them to floats and multiplies them by d and dmin, leaving scale_j
// in Y9 and min_j in Y10 (each product rounded once, as q4kScalesMins).
// Step by step: AX = scale bytes 0–3, R10 their low 6 bits (scales 0–3);
// R10 = bytes 8–11, R13 their low nibbles or AX's top two bits shifted to
// bits 4–5 (scales 4–7); AX = bytes 4–7, R13 their low 6 bits (mins 0–3);
// R10's high nibbles or AX's top two bits (mins 4–7). Clobbers AX, R10,
// R13 and Y11–Y13.
#define Q4KSCALES \
	MOVL 4(DI), AX \
	MOVL AX, R10 \
	ANDL $0x3f3f3f3f, R10 \
	VMOVD R10, X9 \
	MOVL 12(DI), R10 \
	MOVL R10, R13 \
	ANDL $0x0f0f0f0f, R13 \
	SHRL $6, AX \
	ANDL $0x03030303, AX \
	SHLL $4, AX \
	ORL  AX, R13 \
	VPINSRD $1, R13, X9, X9 \
	MOVL 8(DI), AX \
	MOVL AX, R13 \
	ANDL $0x3f3f3f3f, R13 \
	VMOVD R13, X10 \
	SHRL $4, R10 \
	ANDL $0x0f0f0f0f, R10 \
	SHRL $6, AX \
	ANDL $0x03030303, AX \
	SHLL $4, AX \
	ORL  AX, R10 \
	VPINSRD $1, R10, X10, X10 \
	VPMOVZXBD    X9, Y9 \
	VCVTDQ2PS    Y9, Y9 \
	VPMOVZXBD    X10, Y10 \
	VCVTDQ2PS    Y10, Y10 \
	VMOVD        (DI), X11 \
	VCVTPH2PS    X11, X11 \
	VBROADCASTSS X11, Y12 \
	VMOVSHDUP    X11, X13 \
	VBROADCASTSS X13, Y13 \
	VMULPS       Y12, Y9, Y9 \
	VMULPS       Y13, Y10, Y10
