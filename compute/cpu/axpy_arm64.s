//go:build arm64 && !purego

// dst += a·v, the accumulation of attention's weighted values (each query
// adds every key's value row, scaled by its probability): with F32 values
// for the encoders, F16 (two halves per word) for a decoder's cache. n is
// a multiple of 4; the kernels take 16 values a step while they can, then
// four. FMLA rounds a·v + dst once (a fused multiply–add).
//
// Register plan:
//   R0  dst, loaded in place and stored back post-incremented
//   R1  v (float32 or packed halves), post-incremented
//   R2  elements left
//   V31  a, replicated
//   V0–V3  dst;  V4–V7  v as floats;  V8, V9  raw halves (F16)
//
// Go's assembler has no FCVTL, so it is a WORD from the Arm ARM encoding
// below; the register arguments are numbers.

#include "textflag.h"

// FCVTL Vd.4S, Vn.4H (low four halves) and FCVTL2 (high four).
#define FCVTL(n, d) WORD $(0x0E217800 | (n)<<5 | (d))
#define FCVTL2(n, d) WORD $(0x4E217800 | (n)<<5 | (d))

// AXPY16 adds a times the 16 floats in V4–V7 to the next 16 of dst.
#define AXPY16 \
	VLD1   (R0), [V0.S4, V1.S4, V2.S4, V3.S4] \
	VFMLA  V31.S4, V4.S4, V0.S4 \
	VFMLA  V31.S4, V5.S4, V1.S4 \
	VFMLA  V31.S4, V6.S4, V2.S4 \
	VFMLA  V31.S4, V7.S4, V3.S4 \
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(R0)

// AXPY4 adds a times the four floats in V4 to the next four of dst.
#define AXPY4 \
	VLD1   (R0), [V0.S4] \
	VFMLA  V31.S4, V4.S4, V0.S4 \
	VST1.P [V0.S4], 16(R0)

// func axpyF32NEONAsm(dst *float32, a float32, v *float32, n int)
TEXT ·axpyF32NEONAsm(SB), NOSPLIT, $0-32
	MOVD  dst+0(FP), R0
	FMOVS a+8(FP), F31
	MOVD  v+16(FP), R1
	MOVD  n+24(FP), R2
	VDUP  V31.S[0], V31.S4

axf32loop16:
	CMP    $16, R2
	BLT    axf32loop4
	VLD1.P 64(R1), [V4.S4, V5.S4, V6.S4, V7.S4]
	AXPY16
	SUB    $16, R2, R2
	B      axf32loop16

axf32loop4:
	CBZ    R2, axf32done
	VLD1.P 16(R1), [V4.S4]
	AXPY4
	SUB    $4, R2, R2
	B      axf32loop4

axf32done:
	RET

// func axpyF16NEONAsm(dst *float32, a float32, v *uint32, n int)
// v holds n halves.
TEXT ·axpyF16NEONAsm(SB), NOSPLIT, $0-32
	MOVD  dst+0(FP), R0
	FMOVS a+8(FP), F31
	MOVD  v+16(FP), R1
	MOVD  n+24(FP), R2
	VDUP  V31.S[0], V31.S4

axf16loop16:
	CMP    $16, R2
	BLT    axf16loop4
	VLD1.P 32(R1), [V8.H8, V9.H8]
	FCVTL(8, 4)
	FCVTL2(8, 5)
	FCVTL(9, 6)
	FCVTL2(9, 7)
	AXPY16
	SUB    $16, R2, R2
	B      axf16loop16

axf16loop4:
	CBZ    R2, axf16done
	VLD1.P 8(R1), [V8.H4]
	FCVTL(8, 4)
	AXPY4
	SUB    $4, R2, R2
	B      axf16loop4

axf16done:
	RET

// FCVTN Vd.4H, Vn.4S (into the low four halves, the high ones cleared) and
// FCVTN2 Vd.8H, Vn.4S (into the high four), rounding as FPCR says: to
// nearest even, which Go leaves it at, with FZ clear, so subnormals
// convert exactly and a NaN keeps its payload's top bits and gains the
// quiet bit, as compute.Float32ToHalf does.
#define FCVTN(n, d) WORD $(0x0E216800 | (n)<<5 | (d))
#define FCVTN2(n, d) WORD $(0x4E216800 | (n)<<5 | (d))

// func halvesNEONAsm(dst *uint32, src *float32, n int)
// SplitQKV's stores into an F16 cache: n values (a multiple of 4) from src
// to n halves at dst. R0 dst, R1 src, R2 values left.
TEXT ·halvesNEONAsm(SB), NOSPLIT, $0-24
	MOVD dst+0(FP), R0
	MOVD src+8(FP), R1
	MOVD n+16(FP), R2

hvloop16:
	CMP    $16, R2
	BLT    hvloop4
	VLD1.P 64(R1), [V0.S4, V1.S4, V2.S4, V3.S4]
	FCVTN(0, 4)
	FCVTN2(1, 4)
	FCVTN(2, 5)
	FCVTN2(3, 5)
	VST1.P [V4.H8, V5.H8], 32(R0)
	SUB    $16, R2, R2
	B      hvloop16

hvloop4:
	CBZ    R2, hvdone
	VLD1.P 16(R1), [V0.S4]
	FCVTN(0, 4)
	VST1.P [V4.H4], 8(R0)
	SUB    $4, R2, R2
	B      hvloop4

hvdone:
	RET
