//go:build arm64 && !purego

// The Q6K integer kernels (dotQ6Ki's contract, qdot.go) for arm64 cores
// with the dot product extension, as qdot_arm64.s's for Q4K: SDOT
// multiplies sixteen signed bytes of weights by sixteen of x and adds each
// four products into one of four int32 lanes, so one SDOT covers one
// group of 16 elements, which shares one scale.
//
// A super-block (53 words) is 128 bytes of low nibbles (ql), 64 bytes of
// top bit pairs (qh), sixteen int8 scales sc_g, the half d and two zero
// bytes. Its halves h = 0, 1 (elements 128h..128h+127) take ql bytes
// 64h..64h+63 (Q0–Q3, 16 each) and qh bytes 32h..32h+31 (H0, H1): group
// i of the half (16i..16i+15) has its low nibble in Q(i%4), low for
// i < 4 and high after, and its top bits in H(i%2), bit pair i/2.
//
// Unpacking: the value SDOT takes is 4·(q − 32), built in place as the
// byte (q ^ 32)<<2, whose six bits read as two's complement are q − 32:
// bits 6–7 are the top pair with its high bit flipped (one EOR of H0, H1
// with 0xaa serves the four groups of each), bits 2–5 the nibble, bits
// 0–1 zero. SHL, SLI and SRI put the pieces there in two or three
// instructions per group (22 per half), with no byte subtraction and no
// per-byte sign extension. |4·(q − 32)| ≤ 128 fits int8, and every sum of
// such products is a multiple of 4, which one arithmetic shift of the
// block sums takes back exactly.
//
// Sums: each group's four lanes are folded by ADDP (four groups to one
// vector of sums), multiplied by the groups' scales as int32 (MUL), and
// pairs of groups folded into the sums of 32-element blocks, exact in
// int32 (|4·Σ_b| < 2^27), then shifted right by 2: as in dotQ6Ki, a
// block's Σ sc·Σ (q − 32)·x (|·| ≤ 2·16·32·127·128 < 2^24) is exact until
// SCVTF converts it. Each block's float sum is then scaled by x's d of the
// block times the super-block's d.
//
// Register plan:
//   R0  x's bytes;  R1  x's block scales;  R3  the weights (ql);
//   R4  super-blocks left;  R8  qh;  R9  the scales and d
//   V0–V7  the unpacked weights of a half (V0–V3 groups 0–3, V6, V7
//          groups 4, 5, V4, V5 groups 6, 7; raw ql in V0–V3 and qh in V4,
//          V5 before)
//   V8–V11  x bytes (64 at a time); unpacking temporaries before
//   V12–V19  the int32 lanes of the half's eight groups, then folded;
//            V12, V13 unpacking temporaries before
//   V20  bytes of 0xaa;  V21  bytes of 0xf0;  V23  the super-block's d
//   V24–V27  sc_g as int32 (groups 0–3, 4–7, 8–11, 12–15)
//   V28–V31  float32 running sums
//
// SDOT, MUL, SSHR and SCVTF (vector), SXTL (SSHLL #0), FCVTL, FMUL by
// element and FADD/FADDP (vector) are WORDs, as in qdot_arm64.s.

#include "textflag.h"

// SDOT Vd.4S, Vn.16B, Vm.16B
#define SDOT(m, n, d) WORD $(0x4E809400 | (m)<<16 | (n)<<5 | (d))
// MUL Vd.4S, Vn.4S, Vm.4S
#define MUL4S(m, n, d) WORD $(0x4EA09C00 | (m)<<16 | (n)<<5 | (d))
// SXTL Vd.8H, Vn.8B (SSHLL #0), and SXTL2 Vd.8H, Vn.16B
#define SXTL8H(n, d) WORD $(0x0F08A400 | (n)<<5 | (d))
#define SXTL28H(n, d) WORD $(0x4F08A400 | (n)<<5 | (d))
// SXTL Vd.4S, Vn.4H, and SXTL2 Vd.4S, Vn.8H
#define SXTL4S(n, d) WORD $(0x0F10A400 | (n)<<5 | (d))
#define SXTL24S(n, d) WORD $(0x4F10A400 | (n)<<5 | (d))
// SSHR Vd.4S, Vn.4S, #2
#define SSHR4S2(n, d) WORD $(0x4F3E0400 | (n)<<5 | (d))
// SCVTF Vd.4S, Vn.4S
#define SCVTF4S(n, d) WORD $(0x4E21D800 | (n)<<5 | (d))
// FCVTL Vd.4S, Vn.4H (the low four halves)
#define FCVTL(n, d) WORD $(0x0E217800 | (n)<<5 | (d))
// FMUL Vd.4S, Vn.4S, Vm.S[i]
#define FMULEL(m, i, n, d) WORD $(0x4F809000 | ((i)&1)<<21 | (m)<<16 | ((i)>>1)<<11 | (n)<<5 | (d))
// FADD Vd.4S, Vn.4S, Vm.4S
#define FADD4S(m, n, d) WORD $(0x4E20D400 | (m)<<16 | (n)<<5 | (d))
// FADDP Vd.4S, Vn.4S, Vm.4S (pairwise: n0+n1, n2+n3, m0+m1, m2+m3)
#define FADDP4S(m, n, d) WORD $(0x6E20D400 | (m)<<16 | (n)<<5 | (d))

// Q6KSCALES reads the scales and d of the super-block at (R3) (bytes
// 192–209): V24–V27 = sc_g sign-extended to int32, four groups each, and
// V23's lane 0 = d as a float32. R8 is left at the super-block's qh.
#define Q6KSCALES \
	ADD    $192, R3, R9 \
	VLD1   (R9), [V24.B16] \
	FMOVS  16(R9), F23 \
	FCVTL(23, 23) \
	SXTL28H(24, 25) \
	SXTL8H(24, 24) \
	SXTL24S(25, 27) \
	SXTL4S(25, 26) \
	SXTL24S(24, 25) \
	SXTL4S(24, 24) \
	ADD    $128, R3, R8

// Q6KWEIGHTS loads half a super-block's ql (64 bytes at (R3)) and qh (32
// bytes at (R8)), stepping both on, and unpacks its eight groups to bytes
// 4·(q − 32): V0–V3 groups 0–3, V6, V7 groups 4, 5, V4, V5 groups 6, 7.
// The high nibbles are masked out (V8–V11) before the low ones are
// shifted up in place, and H0, H1 become groups 6 and 7 last.
#define Q6KWEIGHTS \
	VLD1.P 64(R3), [V0.B16, V1.B16, V2.B16, V3.B16] \
	VLD1.P 32(R8), [V4.B16, V5.B16] \
	VEOR   V20.B16, V4.B16, V4.B16 \
	VEOR   V20.B16, V5.B16, V5.B16 \
	VAND   V21.B16, V0.B16, V8.B16 \
	VAND   V21.B16, V1.B16, V9.B16 \
	VAND   V21.B16, V2.B16, V10.B16 \
	VAND   V21.B16, V3.B16, V11.B16 \
	VSHL   $2, V4.B16, V6.B16 \
	VSHL   $2, V5.B16, V7.B16 \
	VSRI   $2, V8.B16, V6.B16 \
	VSRI   $2, V9.B16, V7.B16 \
	VUSHR  $2, V4.B16, V12.B16 \
	VUSHR  $2, V5.B16, V13.B16 \
	VSHL   $2, V0.B16, V0.B16 \
	VSHL   $2, V1.B16, V1.B16 \
	VSHL   $2, V2.B16, V2.B16 \
	VSHL   $2, V3.B16, V3.B16 \
	VSLI   $6, V4.B16, V0.B16 \
	VSLI   $6, V5.B16, V1.B16 \
	VSLI   $6, V12.B16, V2.B16 \
	VSLI   $6, V13.B16, V3.B16 \
	VSRI   $2, V10.B16, V4.B16 \
	VSRI   $2, V11.B16, V5.B16

#define ZERO4(a, b, c, d) \
	VEOR a.B16, a.B16, a.B16 \
	VEOR b.B16, b.B16, b.B16 \
	VEOR c.B16, c.B16, c.B16 \
	VEOR d.B16, d.B16, d.B16

// Q6KROW adds half a super-block of one x row (128 bytes at (q), the d of
// its four blocks at (d), both stepped past) against the unpacked weights
// to acc: Σ_b d·d_b·Σ_{g in b} sc_g·Σ (q − 32)·x, with the half's scales in
// V<s0> (groups 0–3) and V<s1> (4–7), numbers.
#define Q6KROW(q, d, s0, s1, acc) \
	VLD1.P 64(q), [V8.B16, V9.B16, V10.B16, V11.B16] \
	ZERO4(V12, V13, V14, V15) \
	SDOT(8, 0, 12) \
	SDOT(9, 1, 13) \
	SDOT(10, 2, 14) \
	SDOT(11, 3, 15) \
	VLD1.P 64(q), [V8.B16, V9.B16, V10.B16, V11.B16] \
	ZERO4(V16, V17, V18, V19) \
	SDOT(8, 6, 16) \
	SDOT(9, 7, 17) \
	SDOT(10, 4, 18) \
	SDOT(11, 5, 19) \
	VADDP  V13.S4, V12.S4, V12.S4 \
	VADDP  V15.S4, V14.S4, V14.S4 \
	VADDP  V17.S4, V16.S4, V16.S4 \
	VADDP  V19.S4, V18.S4, V18.S4 \
	VADDP  V14.S4, V12.S4, V12.S4 \
	VADDP  V18.S4, V16.S4, V16.S4 \
	MUL4S(s0, 12, 12) \
	MUL4S(s1, 16, 16) \
	VADDP  V16.S4, V12.S4, V12.S4 \
	SSHR4S2(12, 12) \
	SCVTF4S(12, 12) \
	VLD1.P 16(d), [V13.S4] \
	FMULEL(23, 0, 13, 13) \
	VFMLA  V13.S4, V12.S4, acc

// Q6KCONSTS sets the unpacking masks, V20 = 0xaa and V21 = 0xf0 bytes.
#define Q6KCONSTS \
	VMOVI $0xaa, V20.B16 \
	VMOVI $0xf0, V21.B16

// func dotQ6KSDOTAsm(q *int8, d *float32, w *uint32, nsb int) float32
// nsb > 0 super-blocks; the two halves of each add to V28 and V29, two
// independent chains, reduced at the end as qdot_arm64.s's SUM4.
TEXT ·dotQ6KSDOTAsm(SB), NOSPLIT, $0-36
	MOVD q+0(FP), R0
	MOVD d+8(FP), R1
	MOVD w+16(FP), R3
	MOVD nsb+24(FP), R4
	VEOR V28.B16, V28.B16, V28.B16
	VEOR V29.B16, V29.B16, V29.B16
	Q6KCONSTS

q6ksloop:
	Q6KSCALES
	Q6KWEIGHTS
	Q6KROW(R0, R1, 24, 25, V28.S4)
	Q6KWEIGHTS
	Q6KROW(R0, R1, 26, 27, V29.S4)
	ADD  $84, R3                          // past the scales, d and padding
	SUBS $1, R4, R4
	BNE  q6ksloop

	FADD4S(29, 28, 28)
	FADDP4S(28, 28, 28)
	FADDP4S(28, 28, 28)
	FMOVS F28, ret+32(FP)
	RET

// func dotQ6Kx4SDOTAsm(q *int8, k int, d *float32, w *uint32, nsb int, out *[4]float32)
// The Q6K kernel for four x rows against one weight row: the scales are
// decoded and the values unpacked once for the four. nsb > 0; row r's
// bytes at q + r·k, its block scales at d + r·k/8 bytes. Beside the
// common registers:
//   R0, R6, R7, R19  the rows' bytes;  R1, R20–R22  their block scales
//   V28–V31  their running sums
// The row pointers step on together, so the rows' offsets hold.
TEXT ·dotQ6Kx4SDOTAsm(SB), NOSPLIT, $0-48
	MOVD q+0(FP), R0
	MOVD k+8(FP), R5
	MOVD d+16(FP), R1
	MOVD w+24(FP), R3
	MOVD nsb+32(FP), R4
	ADD  R5, R0, R6
	ADD  R5, R6, R7
	ADD  R5, R7, R19
	LSR  $3, R5, R5                       // k/32 floats: k/8 bytes
	ADD  R5, R1, R20
	ADD  R5, R20, R21
	ADD  R5, R21, R22
	VEOR V28.B16, V28.B16, V28.B16
	VEOR V29.B16, V29.B16, V29.B16
	VEOR V30.B16, V30.B16, V30.B16
	VEOR V31.B16, V31.B16, V31.B16
	Q6KCONSTS

q6kx4sloop:
	Q6KSCALES
	Q6KWEIGHTS
	Q6KROW(R0, R1, 24, 25, V28.S4)
	Q6KROW(R6, R20, 24, 25, V29.S4)
	Q6KROW(R7, R21, 24, 25, V30.S4)
	Q6KROW(R19, R22, 24, 25, V31.S4)
	Q6KWEIGHTS
	Q6KROW(R0, R1, 26, 27, V28.S4)
	Q6KROW(R6, R20, 26, 27, V29.S4)
	Q6KROW(R7, R21, 26, 27, V30.S4)
	Q6KROW(R19, R22, 26, 27, V31.S4)
	ADD  $84, R3
	SUBS $1, R4, R4
	BNE  q6kx4sloop

	// Row r's (a0+a1)+(a2+a3) in lane r.
	FADDP4S(29, 28, 28)
	FADDP4S(31, 30, 30)
	FADDP4S(30, 28, 28)
	MOVD out+40(FP), R5
	VST1 [V28.S4], (R5)
	RET
