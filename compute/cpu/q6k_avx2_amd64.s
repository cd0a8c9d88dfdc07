//go:build amd64 && !purego

// The Q6K integer kernels (qdot.go's dotQ6Ki) for AVX2, the technique of
// ggml's AVX2 ggml_vec_dot_q6_K_q8_K with qdot_avx2_amd64.s's block
// scales. A super-block (212 bytes: ql at 0, qh at 128, sixteen int8
// scales sc_j at 192, the half d at 208) is two halves of 128 values; in
// half h, with ql0 = ql[64h:], ql1 = ql[64h+32:] and qh' = qh[32h:], the
// values of x block 4h+i (32 bytes each, in x's order) are
//   i = 0: ql0 & 15 | (qh' & 3) << 4      i = 1: ql1 & 15 | (qh' >> 2 & 3) << 4
//   i = 2: ql0 >> 4 | (qh' >> 4 & 3) << 4 i = 3: ql1 >> 4 | (qh' >> 6) << 4
// q in [0, 63], unsigned bytes for VPMADDUBSW's first factor: against x's
// 32 bytes it leaves sixteen int16 sums of two products each, words 0–7
// group 2b's and 8–15 group 2b+1's (b = 4h+i); 2·63·127 does not
// saturate. The offset of 32 comes off those words, as VPMADDUBSW of 32
// bytes and x (pairs |(q−32)·x| ≤ 2·32·127), or, in the rows kernel, from
// x's group sums once per super-block. VPMADDWD with the group's scale in
// every word then leaves eight exact int32 sums of sc_j·(q−32)·x; those
// are converted and scaled (FMA) by d·x.d_b, and only the combination of
// blocks is float32, as in qdot_avx2_amd64.s.
//
// Common registers:
//   SI  x's bytes;  R8  x's block scales;  DI  the weights;  CX  super-
//       blocks left
//   Y11  the super-block's scales as int16, the even groups' in the low
//        128-bit lane and the odd groups' in the high one (Q6SCALES), so
//        that one VPSHUFB (q6sel) spreads block b's two into a VPMADDWD
//        factor
//   Y12  0x20 bytes (32);  Y13  0x30 bytes;  Y14  0x0F bytes
//   Y4  a half's qh bytes;  Y5  a block's values q;  Y6–Y8  temporaries
//   0–31(SP)  d·x.d_b of the super-block's eight blocks, to be broadcast
//        one at a time by loads (AVX2 has too few registers for eight
//        VPERMPS indexes besides the rest)
// Each kernel ends with VZEROUPPER, as vec_amd64.s's do.

#include "textflag.h"

// Q6PFD is how far ahead the kernels prefetch the weights, with four
// prefetches per 212-byte super-block (none farther apart than a 64-byte
// line, so that no line is skipped): qdot_avx2_amd64.s's QPFD. On the
// 2-core CI machine, with AVX-512 off, three alternating rounds of
// BenchmarkCPULinearVecDRAMHuge (8192×81920 Q6K): 2560 bytes ahead
// 10.6–11.1 GB/s, 1536 9.9–10.8, 3840 9.0–9.5, 5120 8.2–8.4, and 7.5–8.3
// without prefetching.
#define Q6PFD 2560

// q6eo<> gathers the even bytes of 16, then the odd ones: a super-block's
// scales of its even groups (sc_0, sc_2, …, sc_14), then of its odd
// groups, for Q6SCALES.
DATA q6eo<>+0(SB)/8, $0x0e0c0a0806040200
DATA q6eo<>+8(SB)/8, $0x0f0d0b0907050301
GLOBL q6eo<>(SB), RODATA|NOPTR, $16

// q6sel<>+32b repeats bytes 2b and 2b+1 in every word of both lanes: with
// Y11 (Q6SCALES), VPSHUFB by it gives sc_2b in words 0–7 and sc_2b+1 in
// words 8–15, block b's VPMADDWD factor.
DATA q6sel<>+0(SB)/8, $0x0100010001000100
DATA q6sel<>+8(SB)/8, $0x0100010001000100
DATA q6sel<>+16(SB)/8, $0x0100010001000100
DATA q6sel<>+24(SB)/8, $0x0100010001000100
DATA q6sel<>+32(SB)/8, $0x0302030203020302
DATA q6sel<>+40(SB)/8, $0x0302030203020302
DATA q6sel<>+48(SB)/8, $0x0302030203020302
DATA q6sel<>+56(SB)/8, $0x0302030203020302
DATA q6sel<>+64(SB)/8, $0x0504050405040504
DATA q6sel<>+72(SB)/8, $0x0504050405040504
DATA q6sel<>+80(SB)/8, $0x0504050405040504
DATA q6sel<>+88(SB)/8, $0x0504050405040504
DATA q6sel<>+96(SB)/8, $0x0706070607060706
DATA q6sel<>+104(SB)/8, $0x0706070607060706
DATA q6sel<>+112(SB)/8, $0x0706070607060706
DATA q6sel<>+120(SB)/8, $0x0706070607060706
DATA q6sel<>+128(SB)/8, $0x0908090809080908
DATA q6sel<>+136(SB)/8, $0x0908090809080908
DATA q6sel<>+144(SB)/8, $0x0908090809080908
DATA q6sel<>+152(SB)/8, $0x0908090809080908
DATA q6sel<>+160(SB)/8, $0x0b0a0b0a0b0a0b0a
DATA q6sel<>+168(SB)/8, $0x0b0a0b0a0b0a0b0a
DATA q6sel<>+176(SB)/8, $0x0b0a0b0a0b0a0b0a
DATA q6sel<>+184(SB)/8, $0x0b0a0b0a0b0a0b0a
DATA q6sel<>+192(SB)/8, $0x0d0c0d0c0d0c0d0c
DATA q6sel<>+200(SB)/8, $0x0d0c0d0c0d0c0d0c
DATA q6sel<>+208(SB)/8, $0x0d0c0d0c0d0c0d0c
DATA q6sel<>+216(SB)/8, $0x0d0c0d0c0d0c0d0c
DATA q6sel<>+224(SB)/8, $0x0f0e0f0e0f0e0f0e
DATA q6sel<>+232(SB)/8, $0x0f0e0f0e0f0e0f0e
DATA q6sel<>+240(SB)/8, $0x0f0e0f0e0f0e0f0e
DATA q6sel<>+248(SB)/8, $0x0f0e0f0e0f0e0f0e
GLOBL q6sel<>(SB), RODATA|NOPTR, $256

// BCASTB sets y to the byte b in every byte (AX is clobbered).
#define BCASTB(b, x, y) \
	MOVL         b, AX \
	VMOVD        AX, x \
	VPBROADCASTB x, y

// Q6CONSTS sets Y12, Y13 and Y14 (see above).
#define Q6CONSTS \
	BCASTB($0x20, X12, Y12) \
	BCASTB($0x30, X13, Y13) \
	BCASTB($0x0f, X14, Y14)

// Q6SCALES sets Y11 from the super-block at DI's scales (see above).
#define Q6SCALES \
	VMOVDQU   192(DI), X6 \
	VPSHUFB   q6eo<>(SB), X6, X6 \
	VPMOVSXBW X6, Y11

// Q6D sets y to the super-block at DI's d in all eight lanes (x is y's
// low half). VPBROADCASTW reads the half alone: a wider load from 208
// would read past the last super-block of the weights.
#define Q6D(x, y) \
	VPBROADCASTW 208(DI), x \
	VCVTPH2PS    x, y

// Q6Q0 to Q6Q3 leave in q the values of block i = 0…3 of the half whose
// ql0 is at lo(DI) (Q6Q1 and Q6Q3: lo is ql1's offset) and whose qh bytes
// are in Y4 (t is clobbered). The word shifts carry bits across bytes
// only into bits that the masks clear.
#define Q6Q0(lo, q, t) \
	VPAND  lo(DI), Y14, q \
	VPSLLW $4, Y4, t \
	VPAND  Y13, t, t \
	VPOR   t, q, q

#define Q6Q1(lo, q, t) \
	VPAND  lo(DI), Y14, q \
	VPSLLW $2, Y4, t \
	VPAND  Y13, t, t \
	VPOR   t, q, q

#define Q6Q2(lo, q, t) \
	VMOVDQU lo(DI), q \
	VPSRLW  $4, q, q \
	VPAND   Y14, q, q \
	VPAND   Y13, Y4, t \
	VPOR    t, q, q

#define Q6Q3(lo, q, t) \
	VMOVDQU lo(DI), q \
	VPSRLW  $4, q, q \
	VPAND   Y14, q, q \
	VPSRLW  $2, Y4, t \
	VPAND   Y13, t, t \
	VPOR    t, q, q

// Q6REDUCE leaves the sum of y's eight lanes in x's lane 0 (x is y's low
// half; t, an X register, is clobbered).
#define Q6REDUCE(y, x, t) \
	VEXTRACTF128 $1, y, t \
	VADDPS       t, x, x \
	VPERMILPS    $0x4e, x, t \
	VADDPS       t, x, x \
	VPERMILPS    $0xb1, x, t \
	VADDPS       t, x, x

// Q6BLK adds block b's product (values in Y5, x's 32 bytes at xo(SI)),
// scaled by d·x.d_b at 4b(SP), to acc: VPMADDUBSW by q and by 32,
// subtracted in int16, VPMADDWD by the scales (sel: q6sel b).
#define Q6BLK(xo, sel, so, acc) \
	VPMADDUBSW   xo(SI), Y5, Y7 \
	VPMADDUBSW   xo(SI), Y12, Y8 \
	VPSUBW       Y8, Y7, Y7 \
	VPSHUFB      sel, Y11, Y8 \
	VPMADDWD     Y8, Y7, Y7 \
	VCVTDQ2PS    Y7, Y7 \
	VBROADCASTSS so(SP), Y8 \
	VFMADD231PS  Y8, Y7, acc

// func dotQ6KiAVX2Asm(q *int8, d *float32, w *uint32, nsb int) float32
// nsb > 0 super-blocks of 53 words. Y0–Y3 take the blocks of a half in
// turn, four independent FMA chains.
TEXT ·dotQ6KiAVX2Asm(SB), NOSPLIT, $32-36
	MOVQ q+0(FP), SI
	MOVQ d+8(FP), R8
	MOVQ w+16(FP), DI
	MOVQ nsb+24(FP), CX
	Q6CONSTS
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

q6kiloop:
	PREFETCHT0 Q6PFD(DI)
	PREFETCHT0 (Q6PFD+64)(DI)
	PREFETCHT0 (Q6PFD+128)(DI)
	PREFETCHT0 (Q6PFD+192)(DI)
	Q6D(X6, Y6)
	VMULPS  (R8), Y6, Y6               // d·x.d_b
	VMOVUPS Y6, 0(SP)
	Q6SCALES
	VMOVDQU 128(DI), Y4                // half 0
	Q6Q0(0, Y5, Y6)
	Q6BLK(0, q6sel<>+0(SB), 0, Y0)
	Q6Q1(32, Y5, Y6)
	Q6BLK(32, q6sel<>+32(SB), 4, Y1)
	Q6Q2(0, Y5, Y6)
	Q6BLK(64, q6sel<>+64(SB), 8, Y2)
	Q6Q3(32, Y5, Y6)
	Q6BLK(96, q6sel<>+96(SB), 12, Y3)
	VMOVDQU 160(DI), Y4                // half 1
	Q6Q0(64, Y5, Y6)
	Q6BLK(128, q6sel<>+128(SB), 16, Y0)
	Q6Q1(96, Y5, Y6)
	Q6BLK(160, q6sel<>+160(SB), 20, Y1)
	Q6Q2(64, Y5, Y6)
	Q6BLK(192, q6sel<>+192(SB), 24, Y2)
	Q6Q3(96, Y5, Y6)
	Q6BLK(224, q6sel<>+224(SB), 28, Y3)
	ADDQ $212, DI
	ADDQ $256, SI
	ADDQ $32, R8
	DECQ CX
	JNZ  q6kiloop

	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0
	Q6REDUCE(Y0, X0, X1)
	VZEROUPPER
	MOVSS X0, ret+32(FP)
	RET

// The x4 kernel takes one Q6K weight row against four rounded x rows (four
// beams, or four rows of a short prompt): the values are unpacked and the
// scales spread once for all four. Registers:
//   SI  row 0's bytes, R8 = k, R9 = 3k (row r at SI + r·k)
//   DX  row 0's block scales, BX = k/8 bytes between rows' scales, R11 = 3·BX
//   Y0–Y3  the rows' running sums;  Y6  block b's VPMADDWD factor
//   Y7–Y10  products and scales;  Y15  the unpacking's temporary
//   0–127(SP)  row r's d·x.d_b at 32r+4b(SP)

// Q6ROW adds one row's product of the values in Y5 with its x bytes at
// mem, scaled by the float at so(SP), to acc (t, s temporaries).
#define Q6ROW(mem, so, acc, t, s) \
	VPMADDUBSW   mem, Y5, t \
	VPMADDUBSW   mem, Y12, s \
	VPSUBW       s, t, t \
	VPMADDWD     Y6, t, t \
	VCVTDQ2PS    t, t \
	VBROADCASTSS so(SP), s \
	VFMADD231PS  s, t, acc

// Q6BLK4 runs block b (values in Y5, x at xo of each row, sel: q6sel b,
// scales at so of each row's 32 bytes) for the four rows.
#define Q6BLK4(xo, sel, so) \
	VPSHUFB sel, Y11, Y6 \
	Q6ROW(xo(SI), so, Y0, Y7, Y8) \
	Q6ROW(xo(SI)(R8*1), so+32, Y1, Y9, Y10) \
	Q6ROW(xo(SI)(R8*2), so+64, Y2, Y7, Y8) \
	Q6ROW(xo(SI)(R9*1), so+96, Y3, Y9, Y10)

// func dotQ6Kx4iAVX2Asm(q *int8, k int, d *float32, w *uint32, nsb int, out *[4]float32)
// nsb > 0 super-blocks; x row r at q + r·k, its block scales at d + r·k/32.
TEXT ·dotQ6Kx4iAVX2Asm(SB), NOSPLIT, $128-48
	MOVQ q+0(FP), SI
	MOVQ k+8(FP), R8
	MOVQ d+16(FP), DX
	MOVQ w+24(FP), DI
	MOVQ nsb+32(FP), CX
	LEAQ (R8)(R8*2), R9
	MOVQ R8, BX
	SHRQ $3, BX
	LEAQ (BX)(BX*2), R11
	Q6CONSTS
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

q6kx4iloop:
	PREFETCHT0 Q6PFD(DI)
	PREFETCHT0 (Q6PFD+64)(DI)
	PREFETCHT0 (Q6PFD+128)(DI)
	PREFETCHT0 (Q6PFD+192)(DI)
	Q6D(X6, Y6)
	VMULPS  (DX), Y6, Y7               // d·x.d_b, row by row
	VMOVUPS Y7, 0(SP)
	VMULPS  (DX)(BX*1), Y6, Y8
	VMOVUPS Y8, 32(SP)
	VMULPS  (DX)(BX*2), Y6, Y9
	VMOVUPS Y9, 64(SP)
	VMULPS  (DX)(R11*1), Y6, Y10
	VMOVUPS Y10, 96(SP)
	Q6SCALES
	VMOVDQU 128(DI), Y4                // half 0
	Q6Q0(0, Y5, Y15)
	Q6BLK4(0, q6sel<>+0(SB), 0)
	Q6Q1(32, Y5, Y15)
	Q6BLK4(32, q6sel<>+32(SB), 4)
	Q6Q2(0, Y5, Y15)
	Q6BLK4(64, q6sel<>+64(SB), 8)
	Q6Q3(32, Y5, Y15)
	Q6BLK4(96, q6sel<>+96(SB), 12)
	VMOVDQU 160(DI), Y4                // half 1
	Q6Q0(64, Y5, Y15)
	Q6BLK4(128, q6sel<>+128(SB), 16)
	Q6Q1(96, Y5, Y15)
	Q6BLK4(160, q6sel<>+160(SB), 20)
	Q6Q2(64, Y5, Y15)
	Q6BLK4(192, q6sel<>+192(SB), 24)
	Q6Q3(96, Y5, Y15)
	Q6BLK4(224, q6sel<>+224(SB), 28)
	ADDQ $212, DI
	ADDQ $256, SI
	ADDQ $32, DX
	DECQ CX
	JNZ  q6kx4iloop

	Q6REDUCE(Y0, X0, X5)
	Q6REDUCE(Y1, X1, X5)
	Q6REDUCE(Y2, X2, X5)
	Q6REDUCE(Y3, X3, X5)
	MOVQ out+40(FP), BX
	VZEROUPPER
	MOVSS X0, 0(BX)
	MOVSS X1, 4(BX)
	MOVSS X2, 8(BX)
	MOVSS X3, 12(BX)
	RET

// func q6kGroupSumsAVX2Asm(q *int8, nsb int, gs *int16)
// Writes the sums of x's bytes over each group of 16 (nsb > 0 super-blocks
// of sixteen groups) to gs, in order, for the rows kernel. Per super-block:
// VPMADDUBSW by one bytes and VPMADDWD by one words leave block b's sums
// of four bytes, group 2b's in lanes 0–3 and 2b+1's in lanes 4–7; three
// VPHADDD per four blocks finish the groups (the even ones in the low
// 128-bit lane, the odd ones in the high lane), VPACKSSDW narrows them to
// words (|Σ| ≤ 16·128) and VPUNPCKLWD, VPUNPCKHWD put them in order.
TEXT ·q6kGroupSumsAVX2Asm(SB), NOSPLIT, $0-24
	MOVQ q+0(FP), SI
	MOVQ nsb+8(FP), CX
	MOVQ gs+16(FP), DI
	BCASTB($0x01, X15, Y15)
	MOVL $0x00010001, AX
	VMOVD AX, X14
	VPBROADCASTD X14, Y14

q6kgsloop:
	VPMADDUBSW 0(SI), Y15, Y0
	VPMADDUBSW 32(SI), Y15, Y1
	VPMADDUBSW 64(SI), Y15, Y2
	VPMADDUBSW 96(SI), Y15, Y3
	VPMADDUBSW 128(SI), Y15, Y4
	VPMADDUBSW 160(SI), Y15, Y5
	VPMADDUBSW 192(SI), Y15, Y6
	VPMADDUBSW 224(SI), Y15, Y7
	VPMADDWD   Y14, Y0, Y0
	VPMADDWD   Y14, Y1, Y1
	VPMADDWD   Y14, Y2, Y2
	VPMADDWD   Y14, Y3, Y3
	VPMADDWD   Y14, Y4, Y4
	VPMADDWD   Y14, Y5, Y5
	VPMADDWD   Y14, Y6, Y6
	VPMADDWD   Y14, Y7, Y7
	VPHADDD    Y1, Y0, Y0
	VPHADDD    Y3, Y2, Y2
	VPHADDD    Y2, Y0, Y0              // groups 0, 2, 4, 6 | 1, 3, 5, 7
	VPHADDD    Y5, Y4, Y4
	VPHADDD    Y7, Y6, Y6
	VPHADDD    Y6, Y4, Y4              // groups 8, 10, 12, 14 | 9, 11, 13, 15
	VPACKSSDW  Y4, Y0, Y0              // even groups | odd groups
	VEXTRACTI128 $1, Y0, X1
	VPUNPCKLWD X1, X0, X2
	VPUNPCKHWD X1, X0, X3
	VMOVDQU    X2, 0(DI)
	VMOVDQU    X3, 16(DI)
	ADDQ $256, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  q6kgsloop

	VZEROUPPER
	RET

// The rows kernel takes x against nrows consecutive weight rows, with x's
// group sums S_j from q6kGroupSumsAVX2Asm: the offset's part of block b,
// 32·(sc_2b·S_2b + sc_2b+1·S_2b+1), is one VPMADDWD of the sixteen scales
// (as words, in order) and sixteen sums per super-block, lane b, scaled
// by d·x.d_b into Y2 and taken 32 times off at the end of the row.
// Registers besides the common ones:
//   BX  the group sums;  DX  out;  R10  rows left
//   Y0, Y1  the row's running sums (alternate blocks);  Y2  the offset's
//   Y9, Y10  the offset's terms;  Y15  32.0

// Q6RBLK adds block b's product (values in Y5, x's 32 bytes at xo(SI)),
// scaled by d·x.d_b at 4b(SP), to acc: Q6BLK without the offset.
#define Q6RBLK(xo, sel, so, acc) \
	VPMADDUBSW   xo(SI), Y5, Y7 \
	VPSHUFB      sel, Y11, Y8 \
	VPMADDWD     Y8, Y7, Y7 \
	VCVTDQ2PS    Y7, Y7 \
	VBROADCASTSS so(SP), Y8 \
	VFMADD231PS  Y8, Y7, acc

// func dotQ6KRowsAVX2Asm(q *int8, d *float32, gs *int16, w *uint32, nsb int, nrows int, out *float32)
// x (nsb > 0 super-blocks, its group sums at gs) against nrows > 0
// consecutive weight rows of nsb super-blocks each, out[r] for row r. DI
// runs on from row to row; SI, R8 and BX start again for each.
TEXT ·dotQ6KRowsAVX2Asm(SB), NOSPLIT, $32-56
	MOVQ w+24(FP), DI
	MOVQ nrows+40(FP), R10
	MOVQ out+48(FP), DX
	Q6CONSTS
	MOVL $0x42000000, AX               // 32.0
	VMOVD AX, X15
	VBROADCASTSS X15, Y15

q6krowsrow:
	MOVQ q+0(FP), SI
	MOVQ d+8(FP), R8
	MOVQ gs+16(FP), BX
	MOVQ nsb+32(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2

q6krowsloop:
	PREFETCHT0 Q6PFD(DI)
	PREFETCHT0 (Q6PFD+64)(DI)
	PREFETCHT0 (Q6PFD+128)(DI)
	PREFETCHT0 (Q6PFD+192)(DI)
	Q6D(X6, Y6)
	VMULPS      (R8), Y6, Y10          // d·x.d_b
	VMOVUPS     Y10, 0(SP)
	VPMOVSXBW   192(DI), Y9
	VPMADDWD    (BX), Y9, Y9           // Σ sc_j·S_j of each block
	VCVTDQ2PS   Y9, Y9
	VFMADD231PS Y10, Y9, Y2
	Q6SCALES
	VMOVDQU 128(DI), Y4                // half 0
	Q6Q0(0, Y5, Y6)
	Q6RBLK(0, q6sel<>+0(SB), 0, Y0)
	Q6Q1(32, Y5, Y6)
	Q6RBLK(32, q6sel<>+32(SB), 4, Y1)
	Q6Q2(0, Y5, Y6)
	Q6RBLK(64, q6sel<>+64(SB), 8, Y0)
	Q6Q3(32, Y5, Y6)
	Q6RBLK(96, q6sel<>+96(SB), 12, Y1)
	VMOVDQU 160(DI), Y4                // half 1
	Q6Q0(64, Y5, Y6)
	Q6RBLK(128, q6sel<>+128(SB), 16, Y0)
	Q6Q1(96, Y5, Y6)
	Q6RBLK(160, q6sel<>+160(SB), 20, Y1)
	Q6Q2(64, Y5, Y6)
	Q6RBLK(192, q6sel<>+192(SB), 24, Y0)
	Q6Q3(96, Y5, Y6)
	Q6RBLK(224, q6sel<>+224(SB), 28, Y1)
	ADDQ $212, DI
	ADDQ $256, SI
	ADDQ $32, R8
	ADDQ $32, BX
	DECQ CX
	JNZ  q6krowsloop

	VADDPS       Y1, Y0, Y0
	VFNMADD231PS Y15, Y2, Y0           // − 32·Σ d·x.d_b·Σ sc_j·S_j
	Q6REDUCE(Y0, X0, X1)
	MOVSS X0, (DX)
	ADDQ  $4, DX
	DECQ  R10
	JNZ   q6krowsrow

	VZEROUPPER
	RET
