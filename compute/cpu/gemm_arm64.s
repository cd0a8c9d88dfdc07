//go:build arm64 && !purego

// NEON micro-kernel of the packed matrix product (gemm.go): a 6×16 tile
// of outputs in V0–V23 (row i in V4i..V4i+3) while k runs over a packed
// panel. Each k loads 16 panel values (V24–V27) once and broadcasts one x
// value per row (LD1R into V28, V29 in turn), for 24 FMLAs: the vector
// pipes, not the loads, set the pace, and 24 independent accumulators
// cover the FMLA latency.
//
// Register plan: R7–R12 the six x rows (post-incremented by LD1R), R2 the
// panel, R3 k left, R4 the c row, R5 the c row stride in bytes, R6 acc.

#include "textflag.h"

// FADD Vd.4S, Vn.4S, Vm.4S (Go's assembler has no vector FADD).
#define FADD4S(m, n, d) WORD $(0x4E20D400 | (m)<<16 | (n)<<5 | (d))

// ROWK multiplies the broadcast x value in bc into row r's accumulators.
#define ROWK(bc, a0, a1, a2, a3) \
	VFMLA V24.S4, bc.S4, a0.S4 \
	VFMLA V25.S4, bc.S4, a1.S4 \
	VFMLA V26.S4, bc.S4, a2.S4 \
	VFMLA V27.S4, bc.S4, a3.S4

// func gemm6x16NEON(x *float32, ldx int, b *float32, kc int, c *float32, ldc int, acc int)
TEXT ·gemm6x16NEON(SB), NOSPLIT, $0-56
	MOVD x+0(FP), R7
	MOVD ldx+8(FP), R1
	LSL  $2, R1, R1
	ADD  R1, R7, R8
	ADD  R1, R8, R9
	ADD  R1, R9, R10
	ADD  R1, R10, R11
	ADD  R1, R11, R12
	MOVD b+16(FP), R2
	MOVD kc+24(FP), R3
	VEOR V0.B16, V0.B16, V0.B16
	VEOR V1.B16, V1.B16, V1.B16
	VEOR V2.B16, V2.B16, V2.B16
	VEOR V3.B16, V3.B16, V3.B16
	VEOR V4.B16, V4.B16, V4.B16
	VEOR V5.B16, V5.B16, V5.B16
	VEOR V6.B16, V6.B16, V6.B16
	VEOR V7.B16, V7.B16, V7.B16
	VEOR V8.B16, V8.B16, V8.B16
	VEOR V9.B16, V9.B16, V9.B16
	VEOR V10.B16, V10.B16, V10.B16
	VEOR V11.B16, V11.B16, V11.B16
	VEOR V12.B16, V12.B16, V12.B16
	VEOR V13.B16, V13.B16, V13.B16
	VEOR V14.B16, V14.B16, V14.B16
	VEOR V15.B16, V15.B16, V15.B16
	VEOR V16.B16, V16.B16, V16.B16
	VEOR V17.B16, V17.B16, V17.B16
	VEOR V18.B16, V18.B16, V18.B16
	VEOR V19.B16, V19.B16, V19.B16
	VEOR V20.B16, V20.B16, V20.B16
	VEOR V21.B16, V21.B16, V21.B16
	VEOR V22.B16, V22.B16, V22.B16
	VEOR V23.B16, V23.B16, V23.B16

neonloop:
	VLD1.P  64(R2), [V24.S4, V25.S4, V26.S4, V27.S4]
	VLD1R.P 4(R7), [V28.S4]
	VLD1R.P 4(R8), [V29.S4]
	ROWK(V28, V0, V1, V2, V3)
	ROWK(V29, V4, V5, V6, V7)
	VLD1R.P 4(R9), [V28.S4]
	VLD1R.P 4(R10), [V29.S4]
	ROWK(V28, V8, V9, V10, V11)
	ROWK(V29, V12, V13, V14, V15)
	VLD1R.P 4(R11), [V28.S4]
	VLD1R.P 4(R12), [V29.S4]
	ROWK(V28, V16, V17, V18, V19)
	ROWK(V29, V20, V21, V22, V23)
	SUBS    $1, R3, R3
	BNE     neonloop

	MOVD c+32(FP), R4
	MOVD ldc+40(FP), R5
	LSL  $2, R5, R5
	MOVD acc+48(FP), R6
	CBZ  R6, neonstore0
	VLD1 (R4), [V24.S4, V25.S4, V26.S4, V27.S4]
	FADD4S(24, 0, 0)
	FADD4S(25, 1, 1)
	FADD4S(26, 2, 2)
	FADD4S(27, 3, 3)

neonstore0:
	VST1 [V0.S4, V1.S4, V2.S4, V3.S4], (R4)
	ADD  R5, R4, R4
	CBZ  R6, neonstore1
	VLD1 (R4), [V24.S4, V25.S4, V26.S4, V27.S4]
	FADD4S(24, 4, 4)
	FADD4S(25, 5, 5)
	FADD4S(26, 6, 6)
	FADD4S(27, 7, 7)

neonstore1:
	VST1 [V4.S4, V5.S4, V6.S4, V7.S4], (R4)
	ADD  R5, R4, R4
	CBZ  R6, neonstore2
	VLD1 (R4), [V24.S4, V25.S4, V26.S4, V27.S4]
	FADD4S(24, 8, 8)
	FADD4S(25, 9, 9)
	FADD4S(26, 10, 10)
	FADD4S(27, 11, 11)

neonstore2:
	VST1 [V8.S4, V9.S4, V10.S4, V11.S4], (R4)
	ADD  R5, R4, R4
	CBZ  R6, neonstore3
	VLD1 (R4), [V24.S4, V25.S4, V26.S4, V27.S4]
	FADD4S(24, 12, 12)
	FADD4S(25, 13, 13)
	FADD4S(26, 14, 14)
	FADD4S(27, 15, 15)

neonstore3:
	VST1 [V12.S4, V13.S4, V14.S4, V15.S4], (R4)
	ADD  R5, R4, R4
	CBZ  R6, neonstore4
	VLD1 (R4), [V24.S4, V25.S4, V26.S4, V27.S4]
	FADD4S(24, 16, 16)
	FADD4S(25, 17, 17)
	FADD4S(26, 18, 18)
	FADD4S(27, 19, 19)

neonstore4:
	VST1 [V16.S4, V17.S4, V18.S4, V19.S4], (R4)
	ADD  R5, R4, R4
	CBZ  R6, neonstore5
	VLD1 (R4), [V24.S4, V25.S4, V26.S4, V27.S4]
	FADD4S(24, 20, 20)
	FADD4S(25, 21, 21)
	FADD4S(26, 22, 22)
	FADD4S(27, 23, 23)

neonstore5:
	VST1 [V20.S4, V21.S4, V22.S4, V23.S4], (R4)
	RET
