//go:build arm64 && !purego

// The integer matrix–vector kernels (qdot.go) for arm64 cores with the
// dot product extension (ARMv8.2 DotProd: Apple M1 and later, Graviton 2
// and later, Cortex-A76 and later): SDOT multiplies sixteen signed bytes by
// sixteen signed bytes and adds each four products into one of four int32
// lanes, so a block of 32 weights takes two instructions.
//
// As in qdot_amd64.s, a block's integer sum stays exact until it is
// converted to float and scaled by the weight's and x's block scales: the
// lanes of four blocks are folded by pairwise adds (ADDP) into one vector
// of four exact block sums, which one SCVTF converts and one FMLA scales
// and accumulates. Only the combination of blocks is float32.
//
// SDOT is signed×signed: Q8 weights go in as they are (no offset trick, so
// quantizeRows's Σq is not needed), and Q4 and Q4K nibbles (0..15) fit
// int8. Q4's offset of 8 and Q4K's mins multiply x's exact Σx instead.
//
// Register plan:
//   R0  x's bytes (q);  R1  x's block scales (d);  R2  x's block sums
//   R3  the weights;  R4  blocks (Q8, Q4) or super-blocks (Q4K) left
//   R5  the weights' block scales (Q8, Q4);  R8–R15  Q4K scale decoding
//   V0–V7  weights (raw, then unpacked nibbles)
//   V8–V15  x bytes;  V16–V19  int32 lanes of four blocks, then folded
//   V20, V21  x's d and Σx (Q8: the weights' scales and x's d) of four
//             blocks;  V24  Q4's weight scales
//   V22  bytes of 0x0f (nibble mask);  V23  Q4K d, dmin or Q4 eights
//   V24–V27  Q4K scales and mins;  V28–V31  float32 running sums
// The kernels reduce their sums themselves (FADDP) and return float32.
//
// Go's assembler has no SDOT, FMUL (vector or by element), SCVTF
// (vector), FCVTL or FADD/FADDP (vector), so those are WORDs from the Arm
// ARM encodings below; the register arguments are numbers.

#include "textflag.h"

// SDOT Vd.4S, Vn.16B, Vm.16B
#define SDOT(m, n, d) WORD $(0x4E809400 | (m)<<16 | (n)<<5 | (d))
// FMUL Vd.4S, Vn.4S, Vm.4S
#define FMUL4S(m, n, d) WORD $(0x6E20DC00 | (m)<<16 | (n)<<5 | (d))
// FMUL Vd.4S, Vn.4S, Vm.S[i]
#define FMULEL(m, i, n, d) WORD $(0x4F809000 | ((i)&1)<<21 | (m)<<16 | ((i)>>1)<<11 | (n)<<5 | (d))
// SCVTF Vd.4S, Vn.4S
#define SCVTF4S(n, d) WORD $(0x4E21D800 | (n)<<5 | (d))
// FCVTL Vd.4S, Vn.4H (the low four halves)
#define FCVTL(n, d) WORD $(0x0E217800 | (n)<<5 | (d))
// FADD Vd.4S, Vn.4S, Vm.4S
#define FADD4S(m, n, d) WORD $(0x4E20D400 | (m)<<16 | (n)<<5 | (d))
// FADDP Vd.4S, Vn.4S, Vm.4S (pairwise: n0+n1, n2+n3, m0+m1, m2+m3)
#define FADDP4S(m, n, d) WORD $(0x6E20D400 | (m)<<16 | (n)<<5 | (d))

#define ZEROI4 \
	VEOR V16.B16, V16.B16, V16.B16 \
	VEOR V17.B16, V17.B16, V17.B16 \
	VEOR V18.B16, V18.B16, V18.B16 \
	VEOR V19.B16, V19.B16, V19.B16

// FOLD4 folds the int32 lanes of four blocks (V16–V19, one block each)
// into V16 = their four exact sums, in block order, as floats.
#define FOLD4 \
	VADDP  V17.S4, V16.S4, V16.S4 \
	VADDP  V19.S4, V18.S4, V18.S4 \
	VADDP  V18.S4, V16.S4, V16.S4 \
	SCVTF4S(16, 16)

// FOLD1 leaves one block's sum (V16's lanes) in every lane of V16, as a
// float.
#define FOLD1 \
	VADDP  V16.S4, V16.S4, V16.S4 \
	VADDP  V16.S4, V16.S4, V16.S4 \
	SCVTF4S(16, 16)

// SUM4 leaves the sum of V28's four lanes, (a0+a1)+(a2+a3), in its lane
// 0 (F28), which the kernels return (outside the macro, where vet sees it).
#define SUM4 \
	FADDP4S(28, 28, 28) \
	FADDP4S(28, 28, 28)

// func dotQ8SDOTAsm(q *int8, d *float32, w *uint32, scales *float32, nb int) float32
// nb > 0 blocks of 32 int8 weights, four per iteration; a tail of up to
// three goes one at a time with its scales in lane 0 only (FMOVS zeroes
// the other lanes, so they add 0·Σ).
TEXT ·dotQ8SDOTAsm(SB), NOSPLIT, $0-44
	MOVD q+0(FP), R0
	MOVD d+8(FP), R1
	MOVD w+16(FP), R3
	MOVD scales+24(FP), R5
	MOVD nb+32(FP), R4
	VEOR V28.B16, V28.B16, V28.B16

q8sloop4:
	CMP    $4, R4
	BLT    q8stail
	VLD1.P 64(R3), [V0.B16, V1.B16, V2.B16, V3.B16]
	VLD1.P 64(R3), [V4.B16, V5.B16, V6.B16, V7.B16]
	VLD1.P 64(R0), [V8.B16, V9.B16, V10.B16, V11.B16]
	VLD1.P 64(R0), [V12.B16, V13.B16, V14.B16, V15.B16]
	ZEROI4
	SDOT(8, 0, 16)
	SDOT(10, 2, 17)
	SDOT(12, 4, 18)
	SDOT(14, 6, 19)
	SDOT(9, 1, 16)
	SDOT(11, 3, 17)
	SDOT(13, 5, 18)
	SDOT(15, 7, 19)
	FOLD4
	VLD1.P 16(R5), [V20.S4]
	VLD1.P 16(R1), [V21.S4]
	FMUL4S(21, 20, 20)                  // scale·d of the four blocks
	VFMLA  V20.S4, V16.S4, V28.S4
	SUB    $4, R4
	B      q8sloop4

q8stail:
	CBZ    R4, q8sdone
	VLD1.P 32(R3), [V0.B16, V1.B16]
	VLD1.P 32(R0), [V8.B16, V9.B16]
	VEOR   V16.B16, V16.B16, V16.B16
	SDOT(8, 0, 16)
	SDOT(9, 1, 16)
	FOLD1
	FMOVS.P 4(R5), F20
	FMOVS.P 4(R1), F21
	FMUL4S(21, 20, 20)
	VFMLA  V20.S4, V16.S4, V28.S4
	SUB    $1, R4
	B      q8stail

q8sdone:
	SUM4
	FMOVS F28, ret+40(FP)
	RET

// Q4NIB splits 16 bytes of nibbles in w into the low nibbles (to lo) and
// the high ones (left in w), as bytes 0..15. In a Q4 block those are the
// even and odd elements, and LD2 splits x's 32 bytes the same way, so the
// pairs meet in one SDOT each; in a Q4K chunk they are two sub-blocks.
#define Q4NIB(w, lo) \
	VAND  V22.B16, w.B16, lo.B16 \
	VUSHR $4, w.B16, w.B16

// func dotQ4SDOTAsm(q *int8, d *float32, sum *float32, w *uint32, scales *float32, nb int) float32
// nb > 0 blocks of 32 nibbles (16 bytes: byte i holds elements 2i, low,
// and 2i+1, high) and one scale each; a block adds
// scale·(d·Σ n·q − 8·Σx), four blocks per iteration, then a tail as Q8's.
TEXT ·dotQ4SDOTAsm(SB), NOSPLIT, $0-52
	MOVD  q+0(FP), R0
	MOVD  d+8(FP), R1
	MOVD  sum+16(FP), R2
	MOVD  w+24(FP), R3
	MOVD  scales+32(FP), R5
	MOVD  nb+40(FP), R4
	VEOR  V28.B16, V28.B16, V28.B16
	VMOVI $15, V22.B16
	FMOVS $8.0, F23
	VDUP  V23.S[0], V23.S4

q4sloop4:
	CMP    $4, R4
	BLT    q4stail
	VLD1.P 64(R3), [V0.B16, V1.B16, V2.B16, V3.B16]
	VLD2.P 32(R0), [V8.B16, V9.B16]     // x's even elements, odd ones
	VLD2.P 32(R0), [V10.B16, V11.B16]
	VLD2.P 32(R0), [V12.B16, V13.B16]
	VLD2.P 32(R0), [V14.B16, V15.B16]
	Q4NIB(V0, V4)
	Q4NIB(V1, V5)
	Q4NIB(V2, V6)
	Q4NIB(V3, V7)
	ZEROI4
	SDOT(8, 4, 16)
	SDOT(10, 5, 17)
	SDOT(12, 6, 18)
	SDOT(14, 7, 19)
	SDOT(9, 0, 16)
	SDOT(11, 1, 17)
	SDOT(13, 2, 18)
	SDOT(15, 3, 19)
	FOLD4
	VLD1.P 16(R1), [V20.S4]
	VLD1.P 16(R2), [V21.S4]
	VLD1.P 16(R5), [V24.S4]
	FMUL4S(20, 16, 16)                  // d·Σ n·q
	VFMLS  V23.S4, V21.S4, V16.S4       // − 8·Σx
	VFMLA  V24.S4, V16.S4, V28.S4       // · scale
	SUB    $4, R4
	B      q4sloop4

q4stail:
	CBZ    R4, q4sdone
	VLD1.P 16(R3), [V0.B16]
	VLD2.P 32(R0), [V8.B16, V9.B16]
	Q4NIB(V0, V4)
	VEOR   V16.B16, V16.B16, V16.B16
	SDOT(8, 4, 16)
	SDOT(9, 0, 16)
	FOLD1
	FMOVS.P 4(R1), F20
	FMOVS.P 4(R2), F21
	FMOVS.P 4(R5), F24
	FMUL4S(20, 16, 16)
	VFMLS  V23.S4, V21.S4, V16.S4
	VFMLA  V24.S4, V16.S4, V28.S4
	SUB    $1, R4
	B      q4stail

q4sdone:
	SUM4
	FMOVS F28, ret+48(FP)
	RET

// Q4KSCALES decodes the header of the super-block at (R3) and steps R3 past
// it: V24, V25 = scale_j for sub-blocks 0–3, 4–7; V26, V27 = min_j. The 12
// bytes of 6-bit scales and mins are unpacked with 32-bit masks and shifts
// as in qdot_amd64.s (bytes 0–3: scales 0–3 and the top bits of scales
// 4–7; bytes 4–7 the same for the mins; bytes 8–11: the low four bits of
// scales and mins 4–7), widened to floats and multiplied by d and dmin,
// each product rounded once, bit for bit as q4kScalesMins.
#define Q4KSCALES \
	MOVWU 4(R3), R8 \
	MOVWU 8(R3), R9 \
	MOVWU 12(R3), R10 \
	ANDW  $0x3f3f3f3f, R8, R11 \
	ANDW  $0x0f0f0f0f, R10, R12 \
	LSRW  $6, R8, R13 \
	ANDW  $0x03030303, R13, R13 \
	ORRW  R13<<4, R12, R12 \
	ORR   R12<<32, R11, R11 \
	ANDW  $0x3f3f3f3f, R9, R14 \
	LSRW  $4, R10, R15 \
	ANDW  $0x0f0f0f0f, R15, R15 \
	LSRW  $6, R9, R13 \
	ANDW  $0x03030303, R13, R13 \
	ORRW  R13<<4, R15, R15 \
	ORR   R15<<32, R14, R14 \
	VMOV  R11, V24.D[0] \
	VMOV  R14, V26.D[0] \
	VUXTL V24.B8, V24.H8 \
	VUXTL V26.B8, V26.H8 \
	VUXTL2 V24.H8, V25.S4 \
	VUXTL V24.H4, V24.S4 \
	VUXTL2 V26.H8, V27.S4 \
	VUXTL V26.H4, V26.S4 \
	SCVTF4S(24, 24) \
	SCVTF4S(25, 25) \
	SCVTF4S(26, 26) \
	SCVTF4S(27, 27) \
	FMOVS (R3), F23 \
	FCVTL(23, 23) \
	FMULEL(23, 0, 24, 24) \
	FMULEL(23, 0, 25, 25) \
	FMULEL(23, 1, 26, 26) \
	FMULEL(23, 1, 27, 27) \
	ADD   $16, R3

// Q4KWEIGHTS loads half h of a super-block's nibbles (chunks 2h and 2h+1,
// 64 bytes at (R3)) and unpacks them as bytes: V4, V5 = sub-block 4h
// (chunk 2h's low nibbles), V0, V1 = 4h+1 (its high ones), V6, V7 = 4h+2,
// V2, V3 = 4h+3.
#define Q4KWEIGHTS \
	VLD1.P 64(R3), [V0.B16, V1.B16, V2.B16, V3.B16] \
	Q4NIB(V0, V4) \
	Q4NIB(V1, V5) \
	Q4NIB(V2, V6) \
	Q4NIB(V3, V7)

// Q4KROW adds half a super-block of one x row (128 bytes at (q), d and Σx
// of its four sub-blocks at (d) and (sum), all stepped past) against the
// unpacked weights to acc: Σ_j scale_j·d_j·Σ n·q − min_j·Σx_j, with
// scale_j in V<sc> (a number) and min_j in mn.
#define Q4KROW(q, d, sum, sc, mn, acc) \
	VLD1.P 64(q), [V8.B16, V9.B16, V10.B16, V11.B16] \
	VLD1.P 64(q), [V12.B16, V13.B16, V14.B16, V15.B16] \
	ZEROI4 \
	SDOT(8, 4, 16) \
	SDOT(10, 0, 17) \
	SDOT(12, 6, 18) \
	SDOT(14, 2, 19) \
	SDOT(9, 5, 16) \
	SDOT(11, 1, 17) \
	SDOT(13, 7, 18) \
	SDOT(15, 3, 19) \
	FOLD4 \
	VLD1.P 16(d), [V20.S4] \
	VLD1.P 16(sum), [V21.S4] \
	FMUL4S(sc, 20, 20) \
	VFMLA  V20.S4, V16.S4, acc \
	VFMLS  mn.S4, V21.S4, acc

// func dotQ4KSDOTAsm(q *int8, d *float32, sum *float32, w *uint32, nsb int) float32
// nsb > 0 super-blocks of 36 words: d and dmin (halves), 12 bytes of 6-bit
// scales and mins, then four 32-byte chunks, chunk c holding sub-block 2c
// in its low nibbles and 2c+1 in its high ones. The two halves of a
// super-block add to V28 and V29, two independent chains.
TEXT ·dotQ4KSDOTAsm(SB), NOSPLIT, $0-44
	MOVD  q+0(FP), R0
	MOVD  d+8(FP), R1
	MOVD  sum+16(FP), R2
	MOVD  w+24(FP), R3
	MOVD  nsb+32(FP), R4
	VEOR  V28.B16, V28.B16, V28.B16
	VEOR  V29.B16, V29.B16, V29.B16
	VMOVI $15, V22.B16

q4ksloop:
	Q4KSCALES
	Q4KWEIGHTS
	Q4KROW(R0, R1, R2, 24, V26, V28.S4)
	Q4KWEIGHTS
	Q4KROW(R0, R1, R2, 25, V27, V29.S4)
	SUBS $1, R4, R4
	BNE  q4ksloop

	FADD4S(29, 28, 28)
	SUM4
	FMOVS F28, ret+40(FP)
	RET

// func dotQ4Kx4SDOTAsm(q *int8, k int, d *float32, sum *float32, w *uint32, nsb int, out *[4]float32)
// The Q4K kernel for four x rows (four beams, or four rows of a short
// prompt) against one weight row: the scales are decoded and the nibbles
// unpacked once for the four. nsb > 0; row r's bytes at q + r·k, its d and
// Σx at d + r·k/8 and sum + r·k/8 bytes. Beside the common registers:
//   R0, R6, R7, R19  the rows' bytes;  R1, R20–R22  their d
//   R2, R23–R25  their Σx;  V28–V31  their running sums
// The row pointers step on together, so the three rows' offsets hold.
TEXT ·dotQ4Kx4SDOTAsm(SB), NOSPLIT, $0-56
	MOVD  q+0(FP), R0
	MOVD  k+8(FP), R5
	MOVD  d+16(FP), R1
	MOVD  sum+24(FP), R2
	MOVD  w+32(FP), R3
	MOVD  nsb+40(FP), R4
	ADD   R5, R0, R6
	ADD   R5, R6, R7
	ADD   R5, R7, R19
	LSR   $3, R5, R5                     // k/32 floats: k/8 bytes
	ADD   R5, R1, R20
	ADD   R5, R20, R21
	ADD   R5, R21, R22
	ADD   R5, R2, R23
	ADD   R5, R23, R24
	ADD   R5, R24, R25
	VEOR  V28.B16, V28.B16, V28.B16
	VEOR  V29.B16, V29.B16, V29.B16
	VEOR  V30.B16, V30.B16, V30.B16
	VEOR  V31.B16, V31.B16, V31.B16
	VMOVI $15, V22.B16

q4kx4sloop:
	Q4KSCALES
	Q4KWEIGHTS
	Q4KROW(R0, R1, R2, 24, V26, V28.S4)
	Q4KROW(R6, R20, R23, 24, V26, V29.S4)
	Q4KROW(R7, R21, R24, 24, V26, V30.S4)
	Q4KROW(R19, R22, R25, 24, V26, V31.S4)
	Q4KWEIGHTS
	Q4KROW(R0, R1, R2, 25, V27, V28.S4)
	Q4KROW(R6, R20, R23, 25, V27, V29.S4)
	Q4KROW(R7, R21, R24, 25, V27, V30.S4)
	Q4KROW(R19, R22, R25, 25, V27, V31.S4)
	SUBS $1, R4, R4
	BNE  q4kx4sloop

	// Row r's (a0+a1)+(a2+a3) in lane r, as SUM4.
	FADDP4S(29, 28, 28)
	FADDP4S(31, 30, 30)
	FADDP4S(30, 28, 28)
	MOVD out+48(FP), R5
	VST1 [V28.S4], (R5)
	RET
