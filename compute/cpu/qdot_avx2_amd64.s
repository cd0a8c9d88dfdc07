//go:build amd64 && !purego

// The integer matrix–vector kernels (qdot.go) for AVX2 + FMA + F16C, for
// processors without AVX-512 VNNI (Haswell to Alder/Raptor Lake, Zen 1–3):
// the technique of ggml's AVX2 vec_dot kernels. VPMADDUBSW multiplies 32
// unsigned bytes by 32 signed bytes and adds each two products into one of
// sixteen int16 lanes; VPMADDWD with int16 ones adds those in pairs into
// eight int32 lanes. One block of 32 weights is then one vector of eight
// exact int32 partial sums, converted to floats and scaled (FMA) by the
// weight's and x's block scales: as in qdot_amd64.s, the sums stay exact
// integers up to that point, and only the combination of blocks is float32.
//
// VPMADDUBSW's first factor is unsigned and its int16 sums saturate, so the
// int16 step must not overflow: Q4 and Q4K nibbles (0..15) times |q| ≤ 127
// give at most 2·15·127 = 3810. Q8 weights are signed: VPSIGNB moves w's
// sign onto x (|w|·(sign(w)·q) = w·q), and 2·128·127 = 32512 < 32767. (The
// VNNI kernel's w+128 with a Σq correction would saturate here: 2·255·127.)
//
// Common registers:
//   SI  x's bytes (q);  R8  x's block scales (d);  R9  x's block sums
//   DI  the weights;  DX  the weights' block scales;  CX  blocks left
//   Y0–Y3  running sums (Q8: one per block of an iteration, four
//          independent FMA chains; Q4: one per pair of blocks, Y2 the
//          tail's; Q4K: Y0, Y1 the chunks' low and high nibbles, Y2 the
//          mins' terms);  X8  Σ scale·Σx for Q4's offset
//   Y9  scale·d of the iteration's blocks (Q4K: scale_j)
//   Y10–Y13  lane indexes (Q8: bidx 0–3; Q4: bidx 0, and pidx 0–1 in
//          Y12, Y13);  Y14  0x0F bytes;  Y15  int16 ones;  Y4–Y7 temporaries
// Q4K's per-sub-block scales go through the frame instead (see there).
// Each kernel ends with VZEROUPPER, as vec_amd64.s's do.

#include "textflag.h"
#include "q4k_amd64.h"

// QPFD is how far ahead the kernels prefetch the weights, once per 64
// bytes read: the same distance as qdot_amd64.s's.
#define QPFD 2560

// bidx<>+32i holds eight lane indexes i: VPERMPS with it broadcasts lane i
// of Y9 (block i's scale·d) to a whole vector, one shuffle instead of two
// broadcast loads and a multiply per block.
DATA bidx<>+0(SB)/4, $0
DATA bidx<>+4(SB)/4, $0
DATA bidx<>+8(SB)/4, $0
DATA bidx<>+12(SB)/4, $0
DATA bidx<>+16(SB)/4, $0
DATA bidx<>+20(SB)/4, $0
DATA bidx<>+24(SB)/4, $0
DATA bidx<>+28(SB)/4, $0
DATA bidx<>+32(SB)/4, $1
DATA bidx<>+36(SB)/4, $1
DATA bidx<>+40(SB)/4, $1
DATA bidx<>+44(SB)/4, $1
DATA bidx<>+48(SB)/4, $1
DATA bidx<>+52(SB)/4, $1
DATA bidx<>+56(SB)/4, $1
DATA bidx<>+60(SB)/4, $1
DATA bidx<>+64(SB)/4, $2
DATA bidx<>+68(SB)/4, $2
DATA bidx<>+72(SB)/4, $2
DATA bidx<>+76(SB)/4, $2
DATA bidx<>+80(SB)/4, $2
DATA bidx<>+84(SB)/4, $2
DATA bidx<>+88(SB)/4, $2
DATA bidx<>+92(SB)/4, $2
DATA bidx<>+96(SB)/4, $3
DATA bidx<>+100(SB)/4, $3
DATA bidx<>+104(SB)/4, $3
DATA bidx<>+108(SB)/4, $3
DATA bidx<>+112(SB)/4, $3
DATA bidx<>+116(SB)/4, $3
DATA bidx<>+120(SB)/4, $3
DATA bidx<>+124(SB)/4, $3
GLOBL bidx<>(SB), RODATA|NOPTR, $128

// pidx<>+32p holds lane indexes 2p (four times), then 2p+1 (four times):
// VPERMPS with it makes the scale vector of a pair of Q4 blocks whose sums
// lie in lanes 0–3 (block 2p) and 4–7 (block 2p+1).
DATA pidx<>+0(SB)/4, $0
DATA pidx<>+4(SB)/4, $0
DATA pidx<>+8(SB)/4, $0
DATA pidx<>+12(SB)/4, $0
DATA pidx<>+16(SB)/4, $1
DATA pidx<>+20(SB)/4, $1
DATA pidx<>+24(SB)/4, $1
DATA pidx<>+28(SB)/4, $1
DATA pidx<>+32(SB)/4, $2
DATA pidx<>+36(SB)/4, $2
DATA pidx<>+40(SB)/4, $2
DATA pidx<>+44(SB)/4, $2
DATA pidx<>+48(SB)/4, $3
DATA pidx<>+52(SB)/4, $3
DATA pidx<>+56(SB)/4, $3
DATA pidx<>+60(SB)/4, $3
GLOBL pidx<>(SB), RODATA|NOPTR, $64

// IREDUCE leaves Y0+Y1+Y2+Y3, summed over its eight lanes, in X0.
#define IREDUCE \
	VADDPS       Y1, Y0, Y0 \
	VADDPS       Y3, Y2, Y2 \
	VADDPS       Y2, Y0, Y0 \
	VEXTRACTF128 $1, Y0, X1 \
	VADDPS       X1, X0, X0 \
	VPERMILPS    $0x4e, X0, X1 \
	VADDPS       X1, X0, X0 \
	VPERMILPS    $0xb1, X0, X1 \
	VADDPS       X1, X0, X0

// ISUMS4 sums the four lanes of xr into its lane 0 (tmp is clobbered).
#define ISUMS4(xr, tmp) \
	VPERMILPS $0x4e, xr, tmp \
	VADDPS    tmp, xr, xr \
	VPERMILPS $0xb1, xr, tmp \
	VADDPS    tmp, xr, xr

// ONES16 sets Y15 to int16 ones, VPMADDWD's second factor.
#define ONES16 \
	MOVL $0x00010001, AX \
	VMOVD AX, X15 \
	VPBROADCASTD X15, Y15

// NIBMASK sets Y14 to 0x0F bytes.
#define NIBMASK \
	MOVL $0x0f0f0f0f, AX \
	VMOVD AX, X14 \
	VPBROADCASTD X14, Y14

// Q8BLK adds block i's product (weights at wo(DI), x at wo(SI): 32 bytes
// each), scaled by Y9's lane i (idx = bidx i), to acc. Y6 = |w| as
// unsigned bytes (−128 becomes 128), Y5 = q with w's sign (0 where w is 0).
#define Q8BLK(wo, idx, acc) \
	VMOVDQU     wo(DI), Y4 \
	VMOVDQU     wo(SI), Y5 \
	VPSIGNB     Y4, Y4, Y6 \
	VPSIGNB     Y4, Y5, Y5 \
	VPMADDUBSW  Y5, Y6, Y6 \
	VPMADDWD    Y15, Y6, Y6 \
	VCVTDQ2PS   Y6, Y6 \
	VPERMPS     Y9, idx, Y7 \
	VFMADD231PS Y7, Y6, acc

// func dotQ8iAVX2Asm(q *int8, d *float32, w *uint32, scales *float32, nb int) float32
// nb > 0 blocks of 32 weights (8 words) and one scale each.
TEXT ·dotQ8iAVX2Asm(SB), NOSPLIT, $0-44
	MOVQ q+0(FP), SI
	MOVQ d+8(FP), R8
	MOVQ w+16(FP), DI
	MOVQ scales+24(FP), DX
	MOVQ nb+32(FP), CX
	ONES16
	VMOVDQU bidx<>+0(SB), Y10
	VMOVDQU bidx<>+32(SB), Y11
	VMOVDQU bidx<>+64(SB), Y12
	VMOVDQU bidx<>+96(SB), Y13
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

q8iloop4:
	CMPQ CX, $4
	JLT  q8itail
	PREFETCHT0 QPFD(DI)
	PREFETCHT0 (QPFD+64)(DI)
	VMOVUPS (DX), X9
	VMULPS  (R8), X9, X9               // scale·d of the four blocks
	Q8BLK(0, Y10, Y0)
	Q8BLK(32, Y11, Y1)
	Q8BLK(64, Y12, Y2)
	Q8BLK(96, Y13, Y3)
	ADDQ $128, SI
	ADDQ $128, DI
	ADDQ $16, DX
	ADDQ $16, R8
	SUBQ $4, CX
	JMP  q8iloop4

q8itail:
	TESTQ CX, CX
	JZ    q8idone
	VMOVSS (DX), X9
	VMULSS (R8), X9, X9
	Q8BLK(0, Y10, Y0)
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $4, DX
	ADDQ $4, R8
	DECQ CX
	JMP  q8itail

q8idone:
	IREDUCE
	VZEROUPPER
	MOVSS X0, ret+40(FP)
	RET

// Q4BLK adds block i's product (16 bytes of nibbles at wo(DI), 32 x bytes
// at xo(SI)), scaled by Y9's lane i, to acc. Byte j of a block holds
// elements 2j (low nibble) and 2j+1 (high nibble): widened to words and
// or-ed with themselves shifted by 4, each word's two bytes are elements
// 2j and 2j+1, in x's order, once masked. The tail's step: the main loop
// takes blocks in pairs (Q4PAIR).
#define Q4BLK(wo, xo, idx, acc) \
	VPMOVZXBW   wo(DI), Y4 \
	VPSLLW      $4, Y4, Y5 \
	VPOR        Y5, Y4, Y4 \
	VPAND       Y14, Y4, Y4 \
	VPMADDUBSW  xo(SI), Y4, Y4 \
	VPMADDWD    Y15, Y4, Y4 \
	VCVTDQ2PS   Y4, Y4 \
	VPERMPS     Y9, idx, Y5 \
	VFMADD231PS Y5, Y4, acc

// Q4PAIR adds blocks 2p and 2p+1's products (32 bytes of nibbles at wo(DI),
// 64 x bytes at xo(SI)), scaled by Y9's lanes 2p and 2p+1 (idx = pidx p),
// to acc. One load brings both blocks, one per 128-bit lane; VPUNPCKLBW
// and VPUNPCKHBW of the low and high nibbles interleave them, in lane,
// into elements 0–15 and 16–31 of each block, in order. x's halves are put
// in the same lanes by VINSERTI128 from memory (a load, no shuffle). Both
// halves' int16 sums (each of four products, |·| ≤ 4·15·127 = 7620) add
// in int16 before one VPMADDWD, leaving block 2p's sums in lanes 0–3 and
// block 2p+1's in lanes 4–7. Against Q4BLK twice, this saves three
// vector operations and a shuffle per pair.
#define Q4PAIR(wo, xo, xo16, xo32, xo48, idx, acc) \
	VMOVDQU     wo(DI), Y4 \
	VPSRLW      $4, Y4, Y5 \
	VPAND       Y14, Y4, Y4 \
	VPAND       Y14, Y5, Y5 \
	VPUNPCKLBW  Y5, Y4, Y6 \
	VPUNPCKHBW  Y5, Y4, Y7 \
	VMOVDQU     xo(SI), X4 \
	VINSERTI128 $1, xo32(SI), Y4, Y4 \
	VMOVDQU     xo16(SI), X5 \
	VINSERTI128 $1, xo48(SI), Y5, Y5 \
	VPMADDUBSW  Y4, Y6, Y6 \
	VPMADDUBSW  Y5, Y7, Y7 \
	VPADDW      Y7, Y6, Y6 \
	VPMADDWD    Y15, Y6, Y6 \
	VCVTDQ2PS   Y6, Y6 \
	VPERMPS     Y9, idx, Y7 \
	VFMADD231PS Y7, Y6, acc

// func dotQ4iAVX2Asm(q *int8, d *float32, sum *float32, w *uint32, scales *float32, nb int) float32
// nb > 0 blocks of 32 weights (4 words) and one scale each. The offset of
// 8 multiplies the exact Σx: X8 gathers Σ scale·Σx, taken 8 times off at
// the end. Y12, Y13 hold pidx 0 and 1 here, Y10 bidx 0 (for the tail).
TEXT ·dotQ4iAVX2Asm(SB), NOSPLIT, $0-52
	MOVQ q+0(FP), SI
	MOVQ d+8(FP), R8
	MOVQ sum+16(FP), R9
	MOVQ w+24(FP), DI
	MOVQ scales+32(FP), DX
	MOVQ nb+40(FP), CX
	ONES16
	NIBMASK
	VMOVDQU bidx<>+0(SB), Y10
	VMOVDQU pidx<>+0(SB), Y12
	VMOVDQU pidx<>+32(SB), Y13
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS X8, X8, X8

q4iloop4:
	CMPQ CX, $4
	JLT  q4itail
	PREFETCHT0  QPFD(DI)
	VMOVUPS     (DX), X6
	VMULPS      (R8), X6, X9           // scale·d of the four blocks
	VFMADD231PS (R9), X6, X8           // Σ scale·Σx
	Q4PAIR(0, 0, 16, 32, 48, Y12, Y0)
	Q4PAIR(32, 64, 80, 96, 112, Y13, Y1)
	ADDQ $128, SI
	ADDQ $64, DI
	ADDQ $16, DX
	ADDQ $16, R8
	ADDQ $16, R9
	SUBQ $4, CX
	JMP  q4iloop4

q4itail:
	TESTQ CX, CX
	JZ    q4idone
	VMOVSS      (DX), X6
	VMULSS      (R8), X6, X9
	VMOVSS      (R9), X7
	VFMADD231SS X7, X6, X8
	Q4BLK(0, 0, Y10, Y2)
	ADDQ $32, SI
	ADDQ $16, DI
	ADDQ $4, DX
	ADDQ $4, R8
	ADDQ $4, R9
	DECQ CX
	JMP  q4itail

q4idone:
	IREDUCE
	ISUMS4(X8, X4)
	MOVL  $0x41000000, AX              // 8.0
	VMOVD AX, X5
	VFNMADD231SS X5, X8, X0            // Σ − 8·Σ scale·Σx
	VZEROUPPER
	MOVSS X0, ret+48(FP)
	RET

// Q4KCHUNK multiplies chunk c of a super-block (32 bytes at wo(DI): sub-
// block 2c in the low nibbles, 2c+1 in the high ones) by x's 64 bytes at
// xo(SI) and adds them, scaled by the floats at so(SP) and so+4(SP) (sub-
// blocks 2c and 2c+1's scale·d), to Y0 and Y1.
#define Q4KCHUNK(wo, xo, xo2, so, so2) \
	VMOVDQU      wo(DI), Y4 \
	VPSRLW       $4, Y4, Y5 \
	VPAND        Y14, Y4, Y4 \
	VPAND        Y14, Y5, Y5 \
	VPMADDUBSW   xo(SI), Y4, Y4 \
	VPMADDUBSW   xo2(SI), Y5, Y5 \
	VPMADDWD     Y15, Y4, Y4 \
	VPMADDWD     Y15, Y5, Y5 \
	VCVTDQ2PS    Y4, Y4 \
	VCVTDQ2PS    Y5, Y5 \
	VBROADCASTSS so(SP), Y6 \
	VBROADCASTSS so2(SP), Y7 \
	VFMADD231PS  Y6, Y4, Y0 \
	VFMADD231PS  Y7, Y5, Y1

// func dotQ4KiAVX2Asm(q *int8, d *float32, sum *float32, w *uint32, nsb int) float32
// nsb > 0 super-blocks of 36 words: d and dmin (halves), 12 bytes of 6-bit
// scales and mins, 128 bytes of nibbles. The eight scale_j·d_j go through
// the frame (0–31(SP)) to be broadcast one at a time by loads: AVX2 has
// too few registers for eight VPERMPS indexes besides the rest. The mins'
// terms, min_j·Σx_j, go lane-wise into Y2 (all lanes are summed at the end).
TEXT ·dotQ4KiAVX2Asm(SB), NOSPLIT, $32-44
	MOVQ q+0(FP), SI
	MOVQ d+8(FP), R8
	MOVQ sum+16(FP), R9
	MOVQ w+24(FP), DI
	MOVQ nsb+32(FP), CX
	ONES16
	NIBMASK
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

q4kiloop:
	PREFETCHT0 QPFD(DI)
	PREFETCHT0 (QPFD+64)(DI)
	PREFETCHT0 (QPFD+128)(DI)
	Q4KSCALES
	VFNMADD231PS (R9), Y10, Y2         // − min_j·Σx_j
	VMULPS       (R8), Y9, Y9          // scale_j·d_j
	VMOVUPS      Y9, 0(SP)
	Q4KCHUNK(16, 0, 32, 0, 4)
	Q4KCHUNK(48, 64, 96, 8, 12)
	Q4KCHUNK(80, 128, 160, 16, 20)
	Q4KCHUNK(112, 192, 224, 24, 28)
	ADDQ $144, DI
	ADDQ $256, SI
	ADDQ $32, R8
	ADDQ $32, R9
	DECQ CX
	JNZ  q4kiloop

	IREDUCE
	VZEROUPPER
	MOVSS X0, ret+40(FP)
	RET

// The x4 kernel takes one Q4K weight row against four rounded x rows (four
// beams, or four rows of a short prompt): the scales are decoded and the
// nibbles unpacked once for all four. Registers:
//   SI  row 0's bytes, R8 = k, R9 = 3k (rows r at SI + r·k)
//   DX  row 0's block scales, R12 its block sums, BX = k/8 bytes between
//       rows of those, R11 = 3·BX
//   DI  the weights;  CX  super-blocks left;  AX, R10, R13  decoding
//   Y0–Y3  the rows' running sums, their −min_j·Σx_j included
//   Y4, Y5  a chunk's low and high nibbles as bytes;  Y6–Y8, Y11  products
//   and scales;  Y9, Y10  scale_j, min_j;  Y14, Y15  as above
//   0–127(SP)  row r's scale_j·d_j at 32r+4j(SP)

// ROWDOT adds row r's product of the chunk's nibbles nib with its x bytes
// at mem, scaled by the float at so(SP), to acc (t, s temporaries).
#define ROWDOT(mem, nib, so, acc, t, s) \
	VPMADDUBSW   mem, nib, t \
	VPMADDWD     Y15, t, t \
	VCVTDQ2PS    t, t \
	VBROADCASTSS so(SP), s \
	VFMADD231PS  s, t, acc

// Q4KCHUNK4 runs chunk c (weights at wo(DI), x at xo and xo2 = xo+32 of
// each row, scales at so, so2 = so+4 of each row's 32 bytes) for the four
// rows.
#define Q4KCHUNK4(wo, xo, xo2, so, so2) \
	VMOVDQU wo(DI), Y4 \
	VPSRLW  $4, Y4, Y5 \
	VPAND   Y14, Y4, Y4 \
	VPAND   Y14, Y5, Y5 \
	ROWDOT(xo(SI), Y4, so, Y0, Y6, Y7) \
	ROWDOT(xo(SI)(R8*1), Y4, so+32, Y1, Y8, Y11) \
	ROWDOT(xo(SI)(R8*2), Y4, so+64, Y2, Y6, Y7) \
	ROWDOT(xo(SI)(R9*1), Y4, so+96, Y3, Y8, Y11) \
	ROWDOT(xo2(SI), Y5, so2, Y0, Y6, Y7) \
	ROWDOT(xo2(SI)(R8*1), Y5, so2+32, Y1, Y8, Y11) \
	ROWDOT(xo2(SI)(R8*2), Y5, so2+64, Y2, Y6, Y7) \
	ROWDOT(xo2(SI)(R9*1), Y5, so2+96, Y3, Y8, Y11)

// ROWSUM leaves the sum of y's eight lanes in x (lane 0).
#define ROWSUM(y, x) \
	VEXTRACTF128 $1, y, X5 \
	VADDPS       X5, x, x \
	ISUMS4(x, X5)

// func dotQ4Kx4iAVX2Asm(q *int8, k int, d *float32, sum *float32, w *uint32, nsb int, out *[4]float32)
// nsb > 0 super-blocks; x row r at q + r·k, its scales and sums at
// d + r·k/32 and sum + r·k/32.
TEXT ·dotQ4Kx4iAVX2Asm(SB), NOSPLIT, $128-56
	MOVQ q+0(FP), SI
	MOVQ k+8(FP), R8
	MOVQ d+16(FP), DX
	MOVQ sum+24(FP), R12
	MOVQ w+32(FP), DI
	MOVQ nsb+40(FP), CX
	LEAQ (R8)(R8*2), R9
	MOVQ R8, BX
	SHRQ $3, BX
	LEAQ (BX)(BX*2), R11
	ONES16
	NIBMASK
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

q4kx4iloop:
	PREFETCHT0 QPFD(DI)
	PREFETCHT0 (QPFD+64)(DI)
	PREFETCHT0 (QPFD+128)(DI)
	Q4KSCALES
	VFNMADD231PS (R12), Y10, Y0        // − min_j·Σx_j, row by row
	VFNMADD231PS (R12)(BX*1), Y10, Y1
	VFNMADD231PS (R12)(BX*2), Y10, Y2
	VFNMADD231PS (R12)(R11*1), Y10, Y3
	VMULPS       (DX), Y9, Y6          // scale_j·d_j, row by row
	VMOVUPS      Y6, 0(SP)
	VMULPS       (DX)(BX*1), Y9, Y7
	VMOVUPS      Y7, 32(SP)
	VMULPS       (DX)(BX*2), Y9, Y8
	VMOVUPS      Y8, 64(SP)
	VMULPS       (DX)(R11*1), Y9, Y11
	VMOVUPS      Y11, 96(SP)
	Q4KCHUNK4(16, 0, 32, 0, 4)
	Q4KCHUNK4(48, 64, 96, 8, 12)
	Q4KCHUNK4(80, 128, 160, 16, 20)
	Q4KCHUNK4(112, 192, 224, 24, 28)
	ADDQ $144, DI
	ADDQ $256, SI
	ADDQ $32, DX
	ADDQ $32, R12
	DECQ CX
	JNZ  q4kx4iloop

	ROWSUM(Y0, X0)
	ROWSUM(Y1, X1)
	ROWSUM(Y2, X2)
	ROWSUM(Y3, X3)
	MOVQ out+48(FP), BX
	VZEROUPPER
	MOVSS X0, 0(BX)
	MOVSS X1, 4(BX)
	MOVSS X2, 8(BX)
	MOVSS X3, 12(BX)
	RET
