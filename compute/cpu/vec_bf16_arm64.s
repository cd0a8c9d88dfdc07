//go:build arm64 && !purego

// NEON dot products with bfloat16 weights (dotBF16's contract, linear.go):
// one x row, or four x rows ldx apart, against one weight row of two
// bfloat16 per word, low half first. A bfloat16 is the top 16 bits of a
// float32, so ZIP1/ZIP2 with a zero vector as the low halves widens eight
// of them to floats exactly: no conversion, no rounding.
//
// Register plan:
//   R0  x (row 0 for the x4 kernel), post-incremented by the loads
//   R5, R6, R7  x rows 1–3 (x4: R0 + ldx·4 bytes, and so on);  R8  ldx
//   R1  w (packed bfloat16), post-incremented
//   R2  elements left (one row)  or  R3 (x4)
//   R3  acc (one row)  or  R4 out (x4)
//   V0–V3  x;  V8, V9  16 raw bfloat16;  V4–V7  them widened to floats
//   V16–V19  running sums (one row: four FMLA chains; x4: one per row)
//   V20–V23  the x4 kernel's second set of row sums
//   V31  zero, the widened floats' low halves
// The one-row kernel leaves four lane sums in *acc, which its Go wrapper
// adds; the x4 kernel folds each row's lanes (FADDP) into out[r].
//
// Go's assembler has no FADD or FADDP (vector), so those are WORDs from
// the Arm ARM encodings below; the register arguments are numbers.

#include "textflag.h"

// FADD Vd.4S, Vn.4S, Vm.4S
#define FADD4S(m, n, d) WORD $(0x4E20D400 | (m)<<16 | (n)<<5 | (d))
// FADDP Vd.4S, Vn.4S, Vm.4S (pairwise: n0+n1, n2+n3, m0+m1, m2+m3).
#define FADDP4S(m, n, d) WORD $(0x6E20D400 | (m)<<16 | (n)<<5 | (d))

#define ZERO4 \
	VEOR V16.B16, V16.B16, V16.B16 \
	VEOR V17.B16, V17.B16, V17.B16 \
	VEOR V18.B16, V18.B16, V18.B16 \
	VEOR V19.B16, V19.B16, V19.B16

#define ZERO8 \
	ZERO4 \
	VEOR V20.B16, V20.B16, V20.B16 \
	VEOR V21.B16, V21.B16, V21.B16 \
	VEOR V22.B16, V22.B16, V22.B16 \
	VEOR V23.B16, V23.B16, V23.B16

// WIDEN16 loads the next 16 bfloat16 of w and widens them, in element
// order, to floats in V4–V7: ZIP1 (ZIP2) interleaves the low (high) four
// halves of V31 and of the weights, so each 32-bit lane is a zero low half
// below a bfloat16.
#define WIDEN16 \
	VLD1.P 32(R1), [V8.H8, V9.H8] \
	VZIP1  V8.H8, V31.H8, V4.H8 \
	VZIP2  V8.H8, V31.H8, V5.H8 \
	VZIP1  V9.H8, V31.H8, V6.H8 \
	VZIP2  V9.H8, V31.H8, V7.H8

// func dotBF16NEONAsm(x *float32, w *uint32, n int, acc *[4]float32)
// n (values) is a multiple of 16.
TEXT ·dotBF16NEONAsm(SB), NOSPLIT, $0-32
	MOVD x+0(FP), R0
	MOVD w+8(FP), R1
	MOVD n+16(FP), R2
	MOVD acc+24(FP), R3
	ZERO4
	VEOR V31.B16, V31.B16, V31.B16
	CBZ  R2, bf16done

bf16loop:
	VLD1.P 64(R0), [V0.S4, V1.S4, V2.S4, V3.S4]
	WIDEN16
	VFMLA  V0.S4, V4.S4, V16.S4
	VFMLA  V1.S4, V5.S4, V17.S4
	VFMLA  V2.S4, V6.S4, V18.S4
	VFMLA  V3.S4, V7.S4, V19.S4
	SUBS   $16, R2, R2
	BNE    bf16loop

bf16done:
	FADD4S(17, 16, 16)
	FADD4S(19, 18, 18)
	FADD4S(18, 16, 16)
	VST1 [V16.S4], (R3)
	RET

// FROW adds the 16 weights in V4–V7 times the next 16 x of row ptr to the
// sums a and b.
#define FROW(ptr, a, b) \
	VLD1.P 64(ptr), [V0.S4, V1.S4, V2.S4, V3.S4] \
	VFMLA  V0.S4, V4.S4, a \
	VFMLA  V1.S4, V5.S4, b \
	VFMLA  V2.S4, V6.S4, a \
	VFMLA  V3.S4, V7.S4, b

// func dotBF16x4NEONAsm(x *float32, ldx int, w *uint32, n int, out *[4]float32)
// n (values) is a multiple of 16; each weight is widened once for the four
// rows, as dotF16x4NEONAsm does with FCVTL.
TEXT ·dotBF16x4NEONAsm(SB), NOSPLIT, $0-40
	MOVD x+0(FP), R0
	MOVD ldx+8(FP), R8
	MOVD w+16(FP), R1
	MOVD n+24(FP), R3
	MOVD out+32(FP), R4
	LSL  $2, R8, R8
	ADD  R8, R0, R5
	ADD  R8, R5, R6
	ADD  R8, R6, R7
	ZERO8
	VEOR V31.B16, V31.B16, V31.B16
	CBZ  R3, bf16x4done

bf16x4loop:
	WIDEN16
	FROW(R0, V16.S4, V20.S4)
	FROW(R5, V17.S4, V21.S4)
	FROW(R6, V18.S4, V22.S4)
	FROW(R7, V19.S4, V23.S4)
	SUBS $16, R3, R3
	BNE  bf16x4loop

bf16x4done:
	FADD4S(20, 16, 16)
	FADD4S(21, 17, 17)
	FADD4S(22, 18, 18)
	FADD4S(23, 19, 19)
	FADDP4S(17, 16, 16)
	FADDP4S(19, 18, 18)
	FADDP4S(18, 16, 16)
	VST1 [V16.S4], (R4)
	RET
