//go:build arm64 && !purego

// NEON dot products of one x row (float32) with one weight row, for the
// fused matrix–vector path of Linear (see vec.go).
//
// Register plan, shared by the four kernels:
//   R0  x (float32 activations), post-incremented by the loads
//   R1  w (weights: float32, packed halves, int8 or nibbles)
//   R2  block scales (Q8, Q4); R2 is the element count for F32, F16
//   R3  blocks left (Q8, Q4); the acc pointer for F32, F16
//   R4  acc pointer (Q8, Q4)
//   V16–V19  running sums (four independent FMLA chains hide its latency)
//   V0–V3, V24–V27  x;  V4–V15, V22, V23  weights being widened
//   V20, V21  one block's sums;  V28  its scale, replicated
//   V30, V31  Q4 constants: bytes of 8 and of 0x0f
// The kernels leave four lane sums in *acc; the Go wrappers add them.
//
// Go's assembler has no FADD (vector), FCVTL, SXTL or SCVTF (vector), so
// those are written as WORDs from the Arm ARM encodings below.

#include "textflag.h"

// FADD Vd.4S, Vn.4S, Vm.4S
#define FADD4S(m, n, d) WORD $(0x4E20D400 | (m)<<16 | (n)<<5 | (d))
// FCVTL Vd.4S, Vn.4H (low four halves) and FCVTL2 (high four).
#define FCVTL(n, d) WORD $(0x0E217800 | (n)<<5 | (d))
#define FCVTL2(n, d) WORD $(0x4E217800 | (n)<<5 | (d))
// SXTL Vd.8H, Vn.8B and SXTL2 Vd.8H, Vn.16B (SSHLL #0).
#define SXTL8H(n, d) WORD $(0x0F08A400 | (n)<<5 | (d))
#define SXTL28H(n, d) WORD $(0x4F08A400 | (n)<<5 | (d))
// SXTL Vd.4S, Vn.4H and SXTL2 Vd.4S, Vn.8H.
#define SXTL4S(n, d) WORD $(0x0F10A400 | (n)<<5 | (d))
#define SXTL24S(n, d) WORD $(0x4F10A400 | (n)<<5 | (d))
// SCVTF Vd.4S, Vn.4S
#define SCVTF4S(n, d) WORD $(0x4E21D800 | (n)<<5 | (d))

#define ZERO4 \
	VEOR V16.B16, V16.B16, V16.B16 \
	VEOR V17.B16, V17.B16, V17.B16 \
	VEOR V18.B16, V18.B16, V18.B16 \
	VEOR V19.B16, V19.B16, V19.B16

// REDUCE4 adds V17–V19 into V16 and stores its lanes at (acc).
#define REDUCE4(acc) \
	FADD4S(17, 16, 16) \
	FADD4S(19, 18, 18) \
	FADD4S(18, 16, 16) \
	VST1 [V16.S4], (acc)

// func dotF32NEONAsm(x, w *float32, n int, acc *[4]float32)
// n is a multiple of 16.
TEXT ·dotF32NEONAsm(SB), NOSPLIT, $0-32
	MOVD x+0(FP), R0
	MOVD w+8(FP), R1
	MOVD n+16(FP), R2
	MOVD acc+24(FP), R3
	ZERO4
	CBZ  R2, f32done

f32loop:
	VLD1.P 64(R0), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1.P 64(R1), [V4.S4, V5.S4, V6.S4, V7.S4]
	VFMLA  V0.S4, V4.S4, V16.S4
	VFMLA  V1.S4, V5.S4, V17.S4
	VFMLA  V2.S4, V6.S4, V18.S4
	VFMLA  V3.S4, V7.S4, V19.S4
	SUBS   $16, R2, R2
	BNE    f32loop

f32done:
	REDUCE4(R3)
	RET

// func dotF16NEONAsm(x *float32, w *uint32, n int, acc *[4]float32)
// n (halves) is a multiple of 16; FCVTL widens four halves at a time.
TEXT ·dotF16NEONAsm(SB), NOSPLIT, $0-32
	MOVD x+0(FP), R0
	MOVD w+8(FP), R1
	MOVD n+16(FP), R2
	MOVD acc+24(FP), R3
	ZERO4
	CBZ  R2, f16done

f16loop:
	VLD1.P 64(R0), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1.P 32(R1), [V4.H8, V5.H8]
	FCVTL(4, 6)
	FCVTL2(4, 7)
	FCVTL(5, 8)
	FCVTL2(5, 9)
	VFMLA  V0.S4, V6.S4, V16.S4
	VFMLA  V1.S4, V7.S4, V17.S4
	VFMLA  V2.S4, V8.S4, V18.S4
	VFMLA  V3.S4, V9.S4, V19.S4
	SUBS   $16, R2, R2
	BNE    f16loop

f16done:
	REDUCE4(R3)
	RET

// BLOCK32 multiplies the 32 int8 in V4 (elements 0–15) and V5 (16–31) by
// the next 32 x, sums them, and adds that sum times the block's scale to
// V16: the block's sum is formed first and scaled once, as dotQ8 does.
// Each int8 is sign-extended twice (to 16, then 32 bits) and converted.
#define BLOCK32 \
	VLD1.P  64(R0), [V0.S4, V1.S4, V2.S4, V3.S4] \
	VLD1.P  64(R0), [V24.S4, V25.S4, V26.S4, V27.S4] \
	SXTL8H(4, 6) \
	SXTL28H(4, 7) \
	SXTL8H(5, 8) \
	SXTL28H(5, 9) \
	SXTL4S(6, 10) \
	SXTL24S(6, 11) \
	SXTL4S(7, 12) \
	SXTL24S(7, 13) \
	SXTL4S(8, 14) \
	SXTL24S(8, 15) \
	SXTL4S(9, 22) \
	SXTL24S(9, 23) \
	SCVTF4S(10, 10) \
	SCVTF4S(11, 11) \
	SCVTF4S(12, 12) \
	SCVTF4S(13, 13) \
	SCVTF4S(14, 14) \
	SCVTF4S(15, 15) \
	SCVTF4S(22, 22) \
	SCVTF4S(23, 23) \
	VEOR    V20.B16, V20.B16, V20.B16 \
	VEOR    V21.B16, V21.B16, V21.B16 \
	VFMLA   V0.S4, V10.S4, V20.S4 \
	VFMLA   V1.S4, V11.S4, V21.S4 \
	VFMLA   V2.S4, V12.S4, V20.S4 \
	VFMLA   V3.S4, V13.S4, V21.S4 \
	VFMLA   V24.S4, V14.S4, V20.S4 \
	VFMLA   V25.S4, V15.S4, V21.S4 \
	VFMLA   V26.S4, V22.S4, V20.S4 \
	VFMLA   V27.S4, V23.S4, V21.S4 \
	FADD4S(21, 20, 20) \
	VLD1R.P 4(R2), [V28.S4] \
	VFMLA   V28.S4, V20.S4, V16.S4

// func dotQ8NEONAsm(x *float32, w *uint32, scales *float32, nb int, acc *[4]float32)
// nb > 0 blocks of 32 int8 weights and one float32 scale each.
TEXT ·dotQ8NEONAsm(SB), NOSPLIT, $0-40
	MOVD x+0(FP), R0
	MOVD w+8(FP), R1
	MOVD scales+16(FP), R2
	MOVD nb+24(FP), R3
	MOVD acc+32(FP), R4
	ZERO4
	CBZ  R3, q8done

q8loop:
	VLD1.P 32(R1), [V4.B16, V5.B16]
	BLOCK32
	SUBS   $1, R3, R3
	BNE    q8loop

q8done:
	REDUCE4(R4)
	RET

// func dotQ4NEONAsm(x *float32, w *uint32, scales *float32, nb int, acc *[4]float32)
// nb > 0 blocks of 32 nibbles (16 bytes) and one float32 scale each. Byte
// i holds elements 2i (low nibble) and 2i+1 (high); a stored nibble q
// means q−8. The nibbles are split, zipped back into element order and
// offset, which gives BLOCK32 its int8.
TEXT ·dotQ4NEONAsm(SB), NOSPLIT, $0-40
	MOVD  x+0(FP), R0
	MOVD  w+8(FP), R1
	MOVD  scales+16(FP), R2
	MOVD  nb+24(FP), R3
	MOVD  acc+32(FP), R4
	ZERO4
	VMOVI $15, V31.B16
	VMOVI $8, V30.B16
	CBZ   R3, q4done

q4loop:
	VLD1.P 16(R1), [V6.B16]
	VUSHR  $4, V6.B16, V7.B16
	VAND   V31.B16, V6.B16, V6.B16
	VZIP1  V7.B16, V6.B16, V4.B16
	VZIP2  V7.B16, V6.B16, V5.B16
	VSUB   V30.B16, V4.B16, V4.B16
	VSUB   V30.B16, V5.B16, V5.B16
	BLOCK32
	SUBS   $1, R3, R3
	BNE    q4loop

q4done:
	REDUCE4(R4)
	RET

// The Q4K kernel follows dotQ4K: a sub-block's value is scale·q − min, so
// it adds scale·Σx·q − min·Σx, with the scales and mins decoded in Go (sm:
// per super-block eight scales, then eight mins). Each 64-element chunk of
// a super-block is 32 bytes: byte i holds element i of the even sub-block
// in its low nibble and of the odd one in its high nibble.
// Register plan (beside the shared one above):
//   R1  the super-block, past its 16-byte header while in its nibbles
//   R2  sm;  R3  super-blocks left;  R4  acc;  R5  a scale's or min's address
//   V4, V5  a chunk's 32 bytes;  V6, V7  one sub-block's nibbles as bytes
//   V8–V11  as halfwords, then (V8, V9) dwords with V12–V15, V22, V23
//   V20, V21  Σx·q;  V28, V29  Σx;  V30  a scale or min, replicated
//   V31  bytes of 15;  V16 (even) and V17 (odd sub-blocks) the running sums

// Q4KSUB adds scale·Σx·q − min·Σx of one sub-block (nibbles in V6, V7;
// the next 32 x) to acc, its scale and min at so(R2) and mo(R2).
#define Q4KSUB(so, mo, acc) \
	VLD1.P 64(R0), [V0.S4, V1.S4, V2.S4, V3.S4] \
	VLD1.P 64(R0), [V24.S4, V25.S4, V26.S4, V27.S4] \
	VUXTL  V6.B8, V8.H8 \
	VUXTL2 V6.B16, V9.H8 \
	VUXTL  V7.B8, V10.H8 \
	VUXTL2 V7.B16, V11.H8 \
	VUXTL  V8.H4, V12.S4 \
	VUXTL2 V8.H8, V13.S4 \
	VUXTL  V9.H4, V14.S4 \
	VUXTL2 V9.H8, V15.S4 \
	VUXTL  V10.H4, V22.S4 \
	VUXTL2 V10.H8, V23.S4 \
	VUXTL  V11.H4, V8.S4 \
	VUXTL2 V11.H8, V9.S4 \
	SCVTF4S(12, 12) \
	SCVTF4S(13, 13) \
	SCVTF4S(14, 14) \
	SCVTF4S(15, 15) \
	SCVTF4S(22, 22) \
	SCVTF4S(23, 23) \
	SCVTF4S(8, 8) \
	SCVTF4S(9, 9) \
	VEOR   V20.B16, V20.B16, V20.B16 \
	VEOR   V21.B16, V21.B16, V21.B16 \
	VFMLA  V0.S4, V12.S4, V20.S4 \
	VFMLA  V1.S4, V13.S4, V21.S4 \
	VFMLA  V2.S4, V14.S4, V20.S4 \
	VFMLA  V3.S4, V15.S4, V21.S4 \
	VFMLA  V24.S4, V22.S4, V20.S4 \
	VFMLA  V25.S4, V23.S4, V21.S4 \
	VFMLA  V26.S4, V8.S4, V20.S4 \
	VFMLA  V27.S4, V9.S4, V21.S4 \
	FADD4S(21, 20, 20) \
	FADD4S(1, 0, 28) \
	FADD4S(3, 2, 29) \
	FADD4S(29, 28, 28) \
	FADD4S(25, 24, 29) \
	FADD4S(29, 28, 28) \
	FADD4S(27, 26, 29) \
	FADD4S(29, 28, 28) \
	ADD    $so, R2, R5 \
	VLD1R  (R5), [V30.S4] \
	VFMLA  V30.S4, V20.S4, acc \
	ADD    $mo, R2, R5 \
	VLD1R  (R5), [V30.S4] \
	VFMLS  V30.S4, V28.S4, acc

// Q4KCHUNK adds one chunk: the even sub-block's scale at so(R2) and min at
// mo(R2); the odd one's follow them.
#define Q4KCHUNK(so, mo) \
	VLD1.P 32(R1), [V4.B16, V5.B16] \
	VAND   V31.B16, V4.B16, V6.B16 \
	VAND   V31.B16, V5.B16, V7.B16 \
	Q4KSUB(so, mo, V16.S4) \
	VUSHR  $4, V4.B16, V6.B16 \
	VUSHR  $4, V5.B16, V7.B16 \
	Q4KSUB(so+4, mo+4, V17.S4)

// func dotQ4KNEONAsm(x *float32, w *uint32, sm *float32, nsb int, acc *[4]float32)
// nsb > 0 super-blocks of 256 elements (36 words each).
TEXT ·dotQ4KNEONAsm(SB), NOSPLIT, $0-40
	MOVD  x+0(FP), R0
	MOVD  w+8(FP), R1
	MOVD  sm+16(FP), R2
	MOVD  nsb+24(FP), R3
	MOVD  acc+32(FP), R4
	ZERO4
	VMOVI $15, V31.B16
	CBZ   R3, q4kdone

q4kloop:
	ADD  $16, R1
	Q4KCHUNK(0, 32)
	Q4KCHUNK(8, 40)
	Q4KCHUNK(16, 48)
	Q4KCHUNK(24, 56)
	ADD  $64, R2
	SUBS $1, R3, R3
	BNE  q4kloop

q4kdone:
	REDUCE4(R4)
	RET

// The x4 kernels below take one weight row against four x rows, so that
// each weight is loaded and widened once for four products. Register plan:
//   R0, R5, R6, R7  the four x rows (R5 = R0 + ldx·4 bytes, and so on)
//   R1  w;  R2  block scales (Q8, Q4);  R3  elements or blocks left
//   R4  out
//   V16–V19  the rows' sums (V20–V23 a second set for F32, F16)
//   V4–V7   weights (F32, F16);  V8–V15  a Q8/Q4 block widened to floats
//   V0–V3, V24–V27  x;  V20, V21  a block's sums (Q8, Q4);  V28  its scale
// FADDP folds the four rows' lanes into one vector, stored at out.

// FADDP Vd.4S, Vn.4S, Vm.4S (pairwise: n0+n1, n2+n3, m0+m1, m2+m3).
#define FADDP4S(m, n, d) WORD $(0x6E20D400 | (m)<<16 | (n)<<5 | (d))

#define ROWPTRS4 \
	LSL $2, R8, R8 \
	ADD R8, R0, R5 \
	ADD R8, R5, R6 \
	ADD R8, R6, R7

#define STORE4ROWS \
	FADDP4S(17, 16, 16) \
	FADDP4S(19, 18, 18) \
	FADDP4S(18, 16, 16) \
	VST1 [V16.S4], (R4)

#define ZERO8 \
	ZERO4 \
	VEOR V20.B16, V20.B16, V20.B16 \
	VEOR V21.B16, V21.B16, V21.B16 \
	VEOR V22.B16, V22.B16, V22.B16 \
	VEOR V23.B16, V23.B16, V23.B16

#define FOLD8 \
	FADD4S(20, 16, 16) \
	FADD4S(21, 17, 17) \
	FADD4S(22, 18, 18) \
	FADD4S(23, 19, 19)

// FROW adds the 16 weights in V4–V7 times the next 16 x of row ptr to the
// sums a and b.
#define FROW(ptr, a, b) \
	VLD1.P 64(ptr), [V0.S4, V1.S4, V2.S4, V3.S4] \
	VFMLA  V0.S4, V4.S4, a \
	VFMLA  V1.S4, V5.S4, b \
	VFMLA  V2.S4, V6.S4, a \
	VFMLA  V3.S4, V7.S4, b

#define FROWS4 \
	FROW(R0, V16.S4, V20.S4) \
	FROW(R5, V17.S4, V21.S4) \
	FROW(R6, V18.S4, V22.S4) \
	FROW(R7, V19.S4, V23.S4)

// func dotF32x4NEONAsm(x *float32, ldx int, w *float32, n int, out *[4]float32)
// n is a multiple of 16.
TEXT ·dotF32x4NEONAsm(SB), NOSPLIT, $0-40
	MOVD x+0(FP), R0
	MOVD ldx+8(FP), R8
	MOVD w+16(FP), R1
	MOVD n+24(FP), R3
	MOVD out+32(FP), R4
	ROWPTRS4
	ZERO8
	CBZ  R3, f32x4done

f32x4loop:
	VLD1.P 64(R1), [V4.S4, V5.S4, V6.S4, V7.S4]
	FROWS4
	SUBS   $16, R3, R3
	BNE    f32x4loop

f32x4done:
	FOLD8
	STORE4ROWS
	RET

// func dotF16x4NEONAsm(x *float32, ldx int, w *uint32, n int, out *[4]float32)
// n (halves) is a multiple of 16.
TEXT ·dotF16x4NEONAsm(SB), NOSPLIT, $0-40
	MOVD x+0(FP), R0
	MOVD ldx+8(FP), R8
	MOVD w+16(FP), R1
	MOVD n+24(FP), R3
	MOVD out+32(FP), R4
	ROWPTRS4
	ZERO8
	CBZ  R3, f16x4done

f16x4loop:
	VLD1.P 32(R1), [V8.H8, V9.H8]
	FCVTL(8, 4)
	FCVTL2(8, 5)
	FCVTL(9, 6)
	FCVTL2(9, 7)
	FROWS4
	SUBS   $16, R3, R3
	BNE    f16x4loop

f16x4done:
	FOLD8
	STORE4ROWS
	RET

// WIDEN32 sign-extends the 32 int8 in V4 (elements 0–15) and V5 (16–31)
// to floats in V8–V15, through halfwords in V6, V7, V22, V23.
#define WIDEN32 \
	SXTL8H(4, 6) \
	SXTL28H(4, 7) \
	SXTL8H(5, 22) \
	SXTL28H(5, 23) \
	SXTL4S(6, 8) \
	SXTL24S(6, 9) \
	SXTL4S(7, 10) \
	SXTL24S(7, 11) \
	SXTL4S(22, 12) \
	SXTL24S(22, 13) \
	SXTL4S(23, 14) \
	SXTL24S(23, 15) \
	SCVTF4S(8, 8) \
	SCVTF4S(9, 9) \
	SCVTF4S(10, 10) \
	SCVTF4S(11, 11) \
	SCVTF4S(12, 12) \
	SCVTF4S(13, 13) \
	SCVTF4S(14, 14) \
	SCVTF4S(15, 15)

// QROW adds the scaled sum of the block in V8–V15 times the next 32 x of
// row ptr to acc, as BLOCK32 does for one row.
#define QROW(ptr, acc) \
	VLD1.P 64(ptr), [V0.S4, V1.S4, V2.S4, V3.S4] \
	VLD1.P 64(ptr), [V24.S4, V25.S4, V26.S4, V27.S4] \
	VEOR   V20.B16, V20.B16, V20.B16 \
	VEOR   V21.B16, V21.B16, V21.B16 \
	VFMLA  V0.S4, V8.S4, V20.S4 \
	VFMLA  V1.S4, V9.S4, V21.S4 \
	VFMLA  V2.S4, V10.S4, V20.S4 \
	VFMLA  V3.S4, V11.S4, V21.S4 \
	VFMLA  V24.S4, V12.S4, V20.S4 \
	VFMLA  V25.S4, V13.S4, V21.S4 \
	VFMLA  V26.S4, V14.S4, V20.S4 \
	VFMLA  V27.S4, V15.S4, V21.S4 \
	FADD4S(21, 20, 20) \
	VFMLA  V28.S4, V20.S4, acc

#define QROWS4 \
	WIDEN32 \
	VLD1R.P 4(R2), [V28.S4] \
	QROW(R0, V16.S4) \
	QROW(R5, V17.S4) \
	QROW(R6, V18.S4) \
	QROW(R7, V19.S4)

// func dotQ8x4NEONAsm(x *float32, ldx int, w *uint32, scales *float32, nb int, out *[4]float32)
// nb > 0 blocks.
TEXT ·dotQ8x4NEONAsm(SB), NOSPLIT, $0-48
	MOVD x+0(FP), R0
	MOVD ldx+8(FP), R8
	MOVD w+16(FP), R1
	MOVD scales+24(FP), R2
	MOVD nb+32(FP), R3
	MOVD out+40(FP), R4
	ROWPTRS4
	ZERO4
	CBZ  R3, q8x4done

q8x4loop:
	VLD1.P 32(R1), [V4.B16, V5.B16]
	QROWS4
	SUBS   $1, R3, R3
	BNE    q8x4loop

q8x4done:
	STORE4ROWS
	RET

// func dotQ4x4NEONAsm(x *float32, ldx int, w *uint32, scales *float32, nb int, out *[4]float32)
// nb > 0 blocks; the nibbles are unpacked as in dotQ4NEONAsm.
TEXT ·dotQ4x4NEONAsm(SB), NOSPLIT, $0-48
	MOVD  x+0(FP), R0
	MOVD  ldx+8(FP), R8
	MOVD  w+16(FP), R1
	MOVD  scales+24(FP), R2
	MOVD  nb+32(FP), R3
	MOVD  out+40(FP), R4
	ROWPTRS4
	ZERO4
	VMOVI $15, V31.B16
	VMOVI $8, V30.B16
	CBZ   R3, q4x4done

q4x4loop:
	VLD1.P 16(R1), [V6.B16]
	VUSHR  $4, V6.B16, V7.B16
	VAND   V31.B16, V6.B16, V6.B16
	VZIP1  V7.B16, V6.B16, V4.B16
	VZIP2  V7.B16, V6.B16, V5.B16
	VSUB   V30.B16, V4.B16, V4.B16
	VSUB   V30.B16, V5.B16, V5.B16
	QROWS4
	SUBS   $1, R3, R3
	BNE    q4x4loop

q4x4done:
	STORE4ROWS
	RET
