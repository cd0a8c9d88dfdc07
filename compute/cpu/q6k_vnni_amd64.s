//go:build amd64 && !purego

// The Q6K integer kernels (dotQ6Ki in qdot.go) for AVX-512 with VNNI, in
// the manner of qdot_amd64.s's Q4K kernels. A super-block's 6-bit values
// q in [0, 63] are VPDPBUSD's unsigned bytes and x's rounded bytes the
// signed ones; each int32 lane sums four consecutive elements, so a
// register of 64 elements holds four groups of 16 (one scale each) in
// lanes 4i..4i+3. The offset of 32 is a second VPDPBUSD, of 32s against
// the same x bytes, taken off lane by lane: every lane stays an exact
// integer, |Σ (q − 32)·x| ≤ 4·32·127, until it is converted and scaled by
// d·sc_g·x.d_b (one float per group, each product rounded once).
//
// Decoding, per half h of a super-block (128 elements): its 64 ql bytes
// hold elements 128h+0..63 in their low nibbles and 128h+64..127 in their
// high ones, in order; its 32 qh bytes, broadcast to both 256-bit halves
// of a register and shifted right by 0 (lower half) or 2 (upper half)
// bits per word (VPSRLVW), hold the top two bits of the first 64 elements
// in bits 0–1 of each byte and those of the last 64 in bits 4–5. Masked
// with 0x33, one VPTERNLOGD bit-select (0x0F: low nibble from the first
// operand, the rest from the second) then makes either 64 values: ql with
// the top bits shifted up by 4, or ql shifted down by 4 with the top bits
// as they are. (The word shifts carry bits across bytes only where the
// masks drop them.)
//
// Common registers:
//   SI  x's bytes;  R8 or DX  x's block scales;  DI (and BX) the weights
//   R12  the rows kernel's table;  CX  super-blocks left;  Z0–Z3  running
//   sums
//   Z20–Z23 lane-to-group indexes (q6kidx<>);  Z24 group-to-block indexes
//   (q6kpair<>);  Z28 0x0F bytes;  Z29 0x33 bytes;  Z30 the qh shift
//   counts (q6kcnt<>);  Z31 0x20 bytes

#include "textflag.h"

// Q6PFD is how far ahead the kernels prefetch the weights (PREFETCHT0,
// four lines per 212-byte super-block, so that no line is skipped): as
// qdot_amd64.s's QPFD, not a multiple of 4 KiB. On the 2-core CI machine,
// 8192×81920 products (0.56 GB, in huge pages) with the two-row rows
// kernel, three rounds beside the Q8 kernel's 24.5–26.2 GB/s: 2560 bytes
// 26.2 GB/s (each round), 1600 25.4–27.2, 3600 25.5–26.2, 5120
// 25.2–25.8; PREFETCHT1 at 2560–9600, 23.8–25.1. (With one row at a time,
// PREFETCHT1 had been the better, at 22–23.5 GB/s, T0 17–19.)
#define Q6PFD 2560

// q6kidx<>+64c holds sixteen lane indexes for chunk c (elements 64c..64c+63)
// of a super-block: lane l sums elements 64c+4l..64c+4l+3, of group
// 4c + l/4. VPERMPS by it spreads the sixteen group factors over the lanes.
DATA q6kidx<>+0(SB)/8, $0x0000000000000000
DATA q6kidx<>+8(SB)/8, $0x0000000000000000
DATA q6kidx<>+16(SB)/8, $0x0000000100000001
DATA q6kidx<>+24(SB)/8, $0x0000000100000001
DATA q6kidx<>+32(SB)/8, $0x0000000200000002
DATA q6kidx<>+40(SB)/8, $0x0000000200000002
DATA q6kidx<>+48(SB)/8, $0x0000000300000003
DATA q6kidx<>+56(SB)/8, $0x0000000300000003
DATA q6kidx<>+64(SB)/8, $0x0000000400000004
DATA q6kidx<>+72(SB)/8, $0x0000000400000004
DATA q6kidx<>+80(SB)/8, $0x0000000500000005
DATA q6kidx<>+88(SB)/8, $0x0000000500000005
DATA q6kidx<>+96(SB)/8, $0x0000000600000006
DATA q6kidx<>+104(SB)/8, $0x0000000600000006
DATA q6kidx<>+112(SB)/8, $0x0000000700000007
DATA q6kidx<>+120(SB)/8, $0x0000000700000007
DATA q6kidx<>+128(SB)/8, $0x0000000800000008
DATA q6kidx<>+136(SB)/8, $0x0000000800000008
DATA q6kidx<>+144(SB)/8, $0x0000000900000009
DATA q6kidx<>+152(SB)/8, $0x0000000900000009
DATA q6kidx<>+160(SB)/8, $0x0000000a0000000a
DATA q6kidx<>+168(SB)/8, $0x0000000a0000000a
DATA q6kidx<>+176(SB)/8, $0x0000000b0000000b
DATA q6kidx<>+184(SB)/8, $0x0000000b0000000b
DATA q6kidx<>+192(SB)/8, $0x0000000c0000000c
DATA q6kidx<>+200(SB)/8, $0x0000000c0000000c
DATA q6kidx<>+208(SB)/8, $0x0000000d0000000d
DATA q6kidx<>+216(SB)/8, $0x0000000d0000000d
DATA q6kidx<>+224(SB)/8, $0x0000000e0000000e
DATA q6kidx<>+232(SB)/8, $0x0000000e0000000e
DATA q6kidx<>+240(SB)/8, $0x0000000f0000000f
DATA q6kidx<>+248(SB)/8, $0x0000000f0000000f
GLOBL q6kidx<>(SB), RODATA|NOPTR, $256

// q6kpair<> is g/2 for lanes g = 0..15: VPERMPS by it turns x's eight block
// scales of a super-block into one per group of 16.
DATA q6kpair<>+0(SB)/8, $0x0000000000000000
DATA q6kpair<>+8(SB)/8, $0x0000000100000001
DATA q6kpair<>+16(SB)/8, $0x0000000200000002
DATA q6kpair<>+24(SB)/8, $0x0000000300000003
DATA q6kpair<>+32(SB)/8, $0x0000000400000004
DATA q6kpair<>+40(SB)/8, $0x0000000500000005
DATA q6kpair<>+48(SB)/8, $0x0000000600000006
DATA q6kpair<>+56(SB)/8, $0x0000000700000007
GLOBL q6kpair<>(SB), RODATA|NOPTR, $64

// q6kcnt<> is the VPSRLVW counts for a half's qh bytes: sixteen words of 0
// (the lower 256 bits: bits 0–1 and 4–5 of each byte stay), sixteen of 2
// (the upper: bits 2–3 and 6–7 move down to them).
DATA q6kcnt<>+0(SB)/8, $0
DATA q6kcnt<>+8(SB)/8, $0
DATA q6kcnt<>+16(SB)/8, $0
DATA q6kcnt<>+24(SB)/8, $0
DATA q6kcnt<>+32(SB)/8, $0x0002000200020002
DATA q6kcnt<>+40(SB)/8, $0x0002000200020002
DATA q6kcnt<>+48(SB)/8, $0x0002000200020002
DATA q6kcnt<>+56(SB)/8, $0x0002000200020002
GLOBL q6kcnt<>(SB), RODATA|NOPTR, $64

// Q6KCONSTS loads the registers every kernel keeps (Z20–Z24, Z28–Z31).
#define Q6KCONSTS \
	MOVL         $0x0f0f0f0f, AX \
	VPBROADCASTD AX, Z28 \
	MOVL         $0x33333333, AX \
	VPBROADCASTD AX, Z29 \
	MOVL         $0x20202020, AX \
	VPBROADCASTD AX, Z31 \
	VMOVDQU32    q6kcnt<>(SB), Z30 \
	VMOVDQU32    q6kidx<>+0(SB), Z20 \
	VMOVDQU32    q6kidx<>+64(SB), Z21 \
	VMOVDQU32    q6kidx<>+128(SB), Z22 \
	VMOVDQU32    q6kidx<>+192(SB), Z23 \
	VMOVDQU32    q6kpair<>(SB), Z24

// Q6KPREFETCH prefetches the weights Q6PFD bytes past base's super-block.
#define Q6KPREFETCH(base) \
	PREFETCHT0 Q6PFD(base) \
	PREFETCHT0 (Q6PFD+64)(base) \
	PREFETCHT0 (Q6PFD+128)(base) \
	PREFETCHT0 (Q6PFD+192)(base)

// Q6KSCALES leaves d·sc_g, the super-block at base's sixteen group scales
// times its d (exact in float32), in Z9; clobbers Y10.
#define Q6KSCALES(base) \
	VPMOVSXBD    192(base), Z9 \
	VCVTDQ2PS    Z9, Z9 \
	VPBROADCASTW 208(base), Y10 \
	VCVTPH2PS    Y10, Z10 \
	VMULPS       Z10, Z9, Z9

// Q6KFACTORS leaves the group factors d·sc_g·x.d_{g/2} in fac, from Z9
// (Q6KSCALES) and x's eight block scales of the super-block at dmem.
#define Q6KFACTORS(dmem, facy, fac) \
	VMOVUPS dmem, facy \
	VPERMPS fac, Z24, fac \
	VMULPS  Z9, fac, fac

// Q6KHALF decodes half h of the super-block at base (ql at lo(base) =
// 64h(base), qh at hi(base) = 128+32h(base)): chunk 2h's 64 values to lo6
// and chunk 2h+1's to hi6. Clobbers t.
#define Q6KHALF(base, lo, hi, lo6, hi6, t) \
	VBROADCASTI64X4 hi(base), hi6 \
	VPSRLVW    Z30, hi6, hi6 \
	VPANDD     Z29, hi6, hi6 \
	VMOVDQU64  lo(base), t \
	VPSLLW     $4, hi6, lo6 \
	VPTERNLOGD $0xd8, Z28, t, lo6 \
	VPSRLW     $4, t, t \
	VPTERNLOGD $0xd8, Z28, t, hi6

// Q6KDOT adds one chunk's product with x's 64 bytes at mem, its values in
// q, to acc: the lanes' Σ q·x less 32·Σx, converted and scaled by fac's
// group factors (spread over the lanes by idx). t, u and s are
// temporaries.
#define Q6KDOT(mem, q, idx, fac, acc, t, u, s) \
	VPXORD      t, t, t \
	VPDPBUSD    mem, q, t \
	VPXORD      u, u, u \
	VPDPBUSD    mem, Z31, u \
	VPSUBD      u, t, t \
	VCVTDQ2PS   t, t \
	VPERMPS     fac, idx, s \
	VFMADD231PS s, t, acc

// Q6KSB multiplies one super-block of the weights at DI by x (SI, R8) into
// Z0 and Z1 and advances the pointers: the body of the one-row kernel.
#define Q6KSB \
	Q6KPREFETCH(DI) \
	Q6KSCALES(DI) \
	Q6KFACTORS((R8), Y11, Z11) \
	Q6KHALF(DI, 0, 128, Z6, Z4, Z5) \
	Q6KDOT(0(SI), Z6, Z20, Z11, Z0, Z12, Z13, Z14) \
	Q6KDOT(64(SI), Z4, Z21, Z11, Z1, Z15, Z16, Z17) \
	Q6KHALF(DI, 64, 160, Z6, Z4, Z5) \
	Q6KDOT(128(SI), Z6, Z22, Z11, Z0, Z12, Z13, Z14) \
	Q6KDOT(192(SI), Z4, Z23, Z11, Z1, Z15, Z16, Z17) \
	ADDQ $212, DI \
	ADDQ $256, SI \
	ADDQ $32, R8

// Q6KHSUM16 leaves the sum of z's sixteen lanes (y, x: its lower halves)
// in x; clobbers Y5.
#define Q6KHSUM16(z, y, x) \
	VEXTRACTF64X4 $1, z, Y5 \
	VADDPS        Y5, y, y \
	VEXTRACTF128  $1, y, X5 \
	VADDPS        X5, x, x \
	VPERMILPS     $0x4e, x, X5 \
	VADDPS        X5, x, x \
	VPERMILPS     $0xb1, x, X5 \
	VADDPS        X5, x, x

// func dotQ6KVNNIAsm(q *int8, d *float32, w *uint32, nsb int) float32
// x against one Q6K weight row of nsb > 0 super-blocks, the offset of 32
// taken off x's bytes as it goes (no table to fill first).
TEXT ·dotQ6KVNNIAsm(SB), NOSPLIT, $0-36
	MOVQ q+0(FP), SI
	MOVQ d+8(FP), R8
	MOVQ w+16(FP), DI
	MOVQ nsb+24(FP), CX
	Q6KCONSTS
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1

q6kloop:
	Q6KSB
	DECQ CX
	JNZ  q6kloop

	VADDPS Z1, Z0, Z0
	Q6KHSUM16(Z0, Y0, X0)
	VZEROUPPER
	MOVSS X0, ret+32(FP)
	RET

// The rows kernel meets every weight row with the same x, so it first
// fills a table (q6kTableWords words per super-block) with what depends
// on x alone: per chunk, sixteen lanes of −32·Σx over their four elements,
// the int32 that VPDPBUSD then starts from (a load instead of a second
// VPDPBUSD and a subtraction per chunk), and x's block scales spread over
// the sixteen groups. Per super-block that leaves the scales, the decoding
// and, per chunk, VPDPBUSD, VCVTDQ2PS, VPERMPS and VFMADD231PS.

// Q6KTABLE fills the table at R12 for the super-block of x at SI, R8;
// Z7 holds zeros.
#define Q6KTABLE \
	Q6KOFFSET(0) \
	Q6KOFFSET(64) \
	Q6KOFFSET(128) \
	Q6KOFFSET(192) \
	VMOVUPS   (R8), Y13 \
	VPERMPS   Z13, Z24, Z13 \
	VMOVUPS   Z13, 256(R12)

// Q6KOFFSET writes −32·Σx of each four bytes of x at xo(SI) to xo(R12).
#define Q6KOFFSET(xo) \
	VPXORD    Z12, Z12, Z12 \
	VPDPBUSD  xo(SI), Z31, Z12 \
	VPSUBD    Z12, Z7, Z12 \
	VMOVDQU32 Z12, xo(R12)

// Q6KDOTT is Q6KDOT with x's bytes in register x and the offset from the
// table (at tmem).
#define Q6KDOTT(x, tmem, q, idx, fac, acc, t, s) \
	VMOVDQU32   tmem, t \
	VPDPBUSD    x, q, t \
	VCVTDQ2PS   t, t \
	VPERMPS     fac, idx, s \
	VFMADD231PS s, t, acc

// Q6KSBT multiplies one super-block of the weight row at DI by x (SI, the
// table at R12) into Z0 and Z1 and advances the pointers.
#define Q6KSBT \
	Q6KPREFETCH(DI) \
	Q6KSCALES(DI) \
	VMULPS      256(R12), Z9, Z11 \
	Q6KHALF(DI, 0, 128, Z6, Z4, Z5) \
	VMOVDQU64   0(SI), Z19 \
	Q6KDOTT(Z19, 0(R12), Z6, Z20, Z11, Z0, Z12, Z14) \
	VMOVDQU64   64(SI), Z19 \
	Q6KDOTT(Z19, 64(R12), Z4, Z21, Z11, Z1, Z15, Z17) \
	Q6KHALF(DI, 64, 160, Z6, Z4, Z5) \
	VMOVDQU64   128(SI), Z19 \
	Q6KDOTT(Z19, 128(R12), Z6, Z22, Z11, Z0, Z12, Z14) \
	VMOVDQU64   192(SI), Z19 \
	Q6KDOTT(Z19, 192(R12), Z4, Z23, Z11, Z1, Z15, Z17) \
	ADDQ $212, DI \
	ADDQ $256, SI \
	ADDQ $320, R12

// Q6KSBT2 is Q6KSBT for two weight rows at once, DI's into Z0 and Z1 and
// BX's into Z2 and Z3: x's bytes and the table are loaded once for both,
// and the weights stream from two places in memory, which the 2-core CI
// machine's memory serves faster than one stream (a plain read of 0.56 GB
// on both cores, 64 bytes and a prefetch per iteration: 28.8 GB/s as one
// stream a core, 31.7 as two half a task apart, 30.3 as two adjacent rows;
// the Q8 rows kernel, whose scales are a second stream, reads the same
// bytes at 32.7), so the rows kernel pairs rows half its task apart.
#define Q6KSBT2 \
	Q6KPREFETCH(DI) \
	Q6KPREFETCH(BX) \
	Q6KSCALES(DI) \
	VMULPS      256(R12), Z9, Z11 \
	Q6KSCALES(BX) \
	VMULPS      256(R12), Z9, Z18 \
	Q6KHALF(DI, 0, 128, Z6, Z4, Z5) \
	Q6KHALF(BX, 0, 128, Z13, Z7, Z8) \
	VMOVDQU64   0(SI), Z19 \
	Q6KDOTT(Z19, 0(R12), Z6, Z20, Z11, Z0, Z12, Z14) \
	Q6KDOTT(Z19, 0(R12), Z13, Z20, Z18, Z2, Z15, Z16) \
	VMOVDQU64   64(SI), Z19 \
	Q6KDOTT(Z19, 64(R12), Z4, Z21, Z11, Z1, Z17, Z25) \
	Q6KDOTT(Z19, 64(R12), Z7, Z21, Z18, Z3, Z26, Z27) \
	Q6KHALF(DI, 64, 160, Z6, Z4, Z5) \
	Q6KHALF(BX, 64, 160, Z13, Z7, Z8) \
	VMOVDQU64   128(SI), Z19 \
	Q6KDOTT(Z19, 128(R12), Z6, Z22, Z11, Z0, Z12, Z14) \
	Q6KDOTT(Z19, 128(R12), Z13, Z22, Z18, Z2, Z15, Z16) \
	VMOVDQU64   192(SI), Z19 \
	Q6KDOTT(Z19, 192(R12), Z4, Z23, Z11, Z1, Z17, Z25) \
	Q6KDOTT(Z19, 192(R12), Z7, Z23, Z18, Z3, Z26, Z27) \
	ADDQ $212, DI \
	ADDQ $212, BX \
	ADDQ $256, SI \
	ADDQ $320, R12

// func dotQ6KRowsVNNIAsm(q *int8, d *float32, w *uint32, nsb int, nrows int, out *float32, tab *uint32)
// x against nrows consecutive Q6K weight rows of nsb > 0 super-blocks
// each, out[r] for row r: one call per task of decoding. tab has room for
// nsb·q6kTableWords words, filled here. With h = nrows/2, rows r and h+r
// go together (DI and BX, results to R10 and R10+R11), then the last row
// of an odd count alone.
TEXT ·dotQ6KRowsVNNIAsm(SB), NOSPLIT, $0-56
	Q6KCONSTS
	MOVQ q+0(FP), SI
	MOVQ d+8(FP), R8
	MOVQ nsb+24(FP), CX
	MOVQ tab+48(FP), R12
	VPXORD Z7, Z7, Z7

q6ktab:
	Q6KTABLE
	ADDQ $256, SI
	ADDQ $32, R8
	ADDQ $320, R12
	DECQ CX
	JNZ  q6ktab

	MOVQ w+16(FP), DI
	MOVQ out+40(FP), R10
	MOVQ nrows+32(FP), DX
	SHRQ $1, DX
	JZ   q6krodd
	MOVQ nsb+24(FP), AX
	IMULQ $212, AX
	IMULQ DX, AX
	LEAQ (DI)(AX*1), BX                // row h
	LEAQ 0(DX*4), R11

q6kr2row:
	MOVQ q+0(FP), SI
	MOVQ tab+48(FP), R12
	MOVQ nsb+24(FP), CX
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3

q6kr2loop:
	Q6KSBT2
	DECQ CX
	JNZ  q6kr2loop

	VADDPS Z1, Z0, Z0
	Q6KHSUM16(Z0, Y0, X0)
	VADDPS Z3, Z2, Z2
	Q6KHSUM16(Z2, Y2, X2)
	MOVSS X0, (R10)
	MOVSS X2, (R10)(R11*1)
	ADDQ  $4, R10
	DECQ  DX
	JNZ   q6kr2row
	MOVQ  BX, DI                       // row 2h
	ADDQ  R11, R10

q6krodd:
	TESTQ $1, nrows+32(FP)
	JZ    q6krdone
	MOVQ q+0(FP), SI
	MOVQ tab+48(FP), R12
	MOVQ nsb+24(FP), CX
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1

q6krloop:
	Q6KSBT
	DECQ CX
	JNZ  q6krloop

	VADDPS Z1, Z0, Z0
	Q6KHSUM16(Z0, Y0, X0)
	MOVSS X0, (R10)

q6krdone:
	VZEROUPPER
	RET

// Q6KDOT4 adds one chunk's products with the four x rows (64 bytes at
// xo(SI) + r·k) to Z0–Z3: the values in q, the rows' factors in Z12–Z15.
#define Q6KDOT4(xo, q, idx) \
	Q6KDOT(xo(SI), q, idx, Z12, Z0, Z8, Z9, Z10) \
	Q6KDOT(xo(SI)(R8*1), q, idx, Z13, Z1, Z11, Z16, Z17) \
	Q6KDOT(xo(SI)(R8*2), q, idx, Z14, Z2, Z18, Z19, Z25) \
	Q6KDOT(xo(SI)(R9*1), q, idx, Z15, Z3, Z26, Z27, Z7)

// func dotQ6Kx4VNNIAsm(q *int8, k int, d *float32, w *uint32, nsb int, out *[4]float32)
// One Q6K weight row of nsb > 0 super-blocks against four rounded x rows
// (row r at q + r·k, its block scales at d + r·k/32): each super-block's
// scales are decoded and its values unpacked once for the four. R8 = k,
// R9 = 3k; DX row 0's block scales, BX = k/8 bytes between rows of them,
// R11 = 3·BX.
TEXT ·dotQ6Kx4VNNIAsm(SB), NOSPLIT, $0-48
	MOVQ q+0(FP), SI
	MOVQ k+8(FP), R8
	MOVQ d+16(FP), DX
	MOVQ w+24(FP), DI
	MOVQ nsb+32(FP), CX
	LEAQ (R8)(R8*2), R9
	MOVQ R8, BX
	SHRQ $3, BX
	LEAQ (BX)(BX*2), R11
	Q6KCONSTS
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3

q6kx4loop:
	Q6KPREFETCH(DI)
	Q6KSCALES(DI)
	Q6KFACTORS((DX), Y12, Z12)
	Q6KFACTORS((DX)(BX*1), Y13, Z13)
	Q6KFACTORS((DX)(BX*2), Y14, Z14)
	Q6KFACTORS((DX)(R11*1), Y15, Z15)
	Q6KHALF(DI, 0, 128, Z6, Z4, Z5)
	Q6KDOT4(0, Z6, Z20)
	Q6KDOT4(64, Z4, Z21)
	Q6KHALF(DI, 64, 160, Z6, Z4, Z5)
	Q6KDOT4(128, Z6, Z22)
	Q6KDOT4(192, Z4, Z23)
	ADDQ $212, DI
	ADDQ $256, SI
	ADDQ $32, DX
	DECQ CX
	JNZ  q6kx4loop

	Q6KHSUM16(Z0, Y0, X0)
	Q6KHSUM16(Z1, Y1, X1)
	Q6KHSUM16(Z2, Y2, X2)
	Q6KHSUM16(Z3, Y3, X3)
	MOVQ out+40(FP), BX
	VZEROUPPER
	MOVSS X0, 0(BX)
	MOVSS X1, 4(BX)
	MOVSS X2, 8(BX)
	MOVSS X3, 12(BX)
	RET
