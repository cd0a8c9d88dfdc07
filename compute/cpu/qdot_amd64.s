//go:build amd64 && !purego

// The integer matrix–vector kernels (qdot.go) for AVX-512 with VNNI
// (Ice Lake, Sapphire Rapids, Zen 4 and later): VPDPBUSD multiplies 64
// unsigned bytes by 64 signed bytes and adds each four products into one of
// sixteen int32 lanes, so two blocks of 32 weights take one instruction.
// Each block's int32 lanes are converted to floats and scaled by the
// weight's and x's block scales at once: the sums stay exact integers up to
// that point, and only the combination of blocks is float32.
//
// VPDPBUSD's first factor is unsigned. Q4 and Q4K nibbles are (0..15); Q8
// weights are signed, so they go in as w+128 (the sign bit flipped) and
// 128·Σq per block, which quantizeRows computed, is taken off at the end.
//
// Common registers:
//   SI  x's bytes (q);  R8  x's block scales (d);  R9  x's block sums
//   DI  the weights;  DX  the weights' block scales;  CX  blocks left
//   Z0, Z1  running sums (alternate blocks or chunks);  X3  the correction
//   Z20–Z23 lane-to-block indexes (qidx);  Z29 0x0F bytes (Q4), or Y29
//   hsixteenth (Q4K);  Z28 nibmask (Q4K);  Z31 0x80 bytes

#include "textflag.h"
#include "q4k_amd64.h"

// QPFD is how far ahead the kernels prefetch the weights (PREFETCHT0, once
// per 64 bytes read). Not a multiple of 4 KiB: a prefetch into L1 exactly
// pages ahead lands in the set of the line being read (L1's sets repeat
// every 4 KiB) and evicts what the loop still needs. On the 2-core CI
// machine, five alternating rounds of BenchmarkCPULinearVecDRAMHuge
// (8192×131072 Q4K) and BenchmarkCPUDecodeLayersHuge (q4k): 4096 bytes
// ahead 16.4–18.9 and 13.7–15.8 GB/s, 2560 bytes 19.2–22.1 and
// 16.6–17.4 GB/s (2048: 19.0–21.7 and 16.2–17.4).
#define QPFD 2560

// Q8PFD is the Q8 rows kernel's distance for a lone row (an odd count's
// last, or dotQ8VNNI's), into L2 (PREFETCHT1): its
// weights stream at twice Q4K's bytes per instruction, and four rounds of
// the same benchmarks (8192×65536 Q8; q8 layers) gave 24.2–25.6 and
// 21.2–22.0 GB/s with QPFD into L1, 25.0–28.4 and 21.4–24.0 with this.
#define Q8PFD 5120

// qidx<>+64c holds sixteen lane indexes: eight of 2c, then eight of 2c+1,
// which VPERMPS turns into a vector of block 2c's scale in lanes 0–7 and
// block 2c+1's in lanes 8–15, the layout VPDPBUSD leaves two blocks' sums in.
DATA qidx<>+0(SB)/4, $0
DATA qidx<>+4(SB)/4, $0
DATA qidx<>+8(SB)/4, $0
DATA qidx<>+12(SB)/4, $0
DATA qidx<>+16(SB)/4, $0
DATA qidx<>+20(SB)/4, $0
DATA qidx<>+24(SB)/4, $0
DATA qidx<>+28(SB)/4, $0
DATA qidx<>+32(SB)/4, $1
DATA qidx<>+36(SB)/4, $1
DATA qidx<>+40(SB)/4, $1
DATA qidx<>+44(SB)/4, $1
DATA qidx<>+48(SB)/4, $1
DATA qidx<>+52(SB)/4, $1
DATA qidx<>+56(SB)/4, $1
DATA qidx<>+60(SB)/4, $1
DATA qidx<>+64(SB)/4, $2
DATA qidx<>+68(SB)/4, $2
DATA qidx<>+72(SB)/4, $2
DATA qidx<>+76(SB)/4, $2
DATA qidx<>+80(SB)/4, $2
DATA qidx<>+84(SB)/4, $2
DATA qidx<>+88(SB)/4, $2
DATA qidx<>+92(SB)/4, $2
DATA qidx<>+96(SB)/4, $3
DATA qidx<>+100(SB)/4, $3
DATA qidx<>+104(SB)/4, $3
DATA qidx<>+108(SB)/4, $3
DATA qidx<>+112(SB)/4, $3
DATA qidx<>+116(SB)/4, $3
DATA qidx<>+120(SB)/4, $3
DATA qidx<>+124(SB)/4, $3
DATA qidx<>+128(SB)/4, $4
DATA qidx<>+132(SB)/4, $4
DATA qidx<>+136(SB)/4, $4
DATA qidx<>+140(SB)/4, $4
DATA qidx<>+144(SB)/4, $4
DATA qidx<>+148(SB)/4, $4
DATA qidx<>+152(SB)/4, $4
DATA qidx<>+156(SB)/4, $4
DATA qidx<>+160(SB)/4, $5
DATA qidx<>+164(SB)/4, $5
DATA qidx<>+168(SB)/4, $5
DATA qidx<>+172(SB)/4, $5
DATA qidx<>+176(SB)/4, $5
DATA qidx<>+180(SB)/4, $5
DATA qidx<>+184(SB)/4, $5
DATA qidx<>+188(SB)/4, $5
DATA qidx<>+192(SB)/4, $6
DATA qidx<>+196(SB)/4, $6
DATA qidx<>+200(SB)/4, $6
DATA qidx<>+204(SB)/4, $6
DATA qidx<>+208(SB)/4, $6
DATA qidx<>+212(SB)/4, $6
DATA qidx<>+216(SB)/4, $6
DATA qidx<>+220(SB)/4, $6
DATA qidx<>+224(SB)/4, $7
DATA qidx<>+228(SB)/4, $7
DATA qidx<>+232(SB)/4, $7
DATA qidx<>+236(SB)/4, $7
DATA qidx<>+240(SB)/4, $7
DATA qidx<>+244(SB)/4, $7
DATA qidx<>+248(SB)/4, $7
DATA qidx<>+252(SB)/4, $7
GLOBL qidx<>(SB), RODATA|NOPTR, $256

// nibmask<> is 32 bytes of 0x0F, then 32 of 0xF0: with a super-block
// chunk's 32 bytes broadcast to both halves of a register (a load, no
// shuffle), one AND leaves the low nibbles in the lower half and the high
// ones, times 16, in the upper half. VPDPBUSD takes them as they are (its
// byte products go straight to 32 bits: 240·127 does not saturate, as it
// would in AVX2's VPMADDUBSW), and the odd blocks' scales are divided by
// 16 (hsixteenth<>), exactly: the products come out bit for bit those of
// shifting the nibbles down, one instruction fewer per chunk on the port
// that VPDPBUSD and VCVTDQ2PS already share.
DATA nibmask<>+0(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA nibmask<>+8(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA nibmask<>+16(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA nibmask<>+24(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA nibmask<>+32(SB)/8, $0xf0f0f0f0f0f0f0f0
DATA nibmask<>+40(SB)/8, $0xf0f0f0f0f0f0f0f0
DATA nibmask<>+48(SB)/8, $0xf0f0f0f0f0f0f0f0
DATA nibmask<>+56(SB)/8, $0xf0f0f0f0f0f0f0f0
GLOBL nibmask<>(SB), RODATA|NOPTR, $64

// q4kshuf<> is three 16-byte tables for Q4KSCALESV, which decodes a
// super-block's twelve bytes of 6-bit scales and mins (s0–s11, at 4(DI))
// in vector registers: VPSHUFB by the first gathers
// [s0–s3, s8–s11, s4–s7, s8–s11], the low bits of scales 0–7 then mins
// 0–7 (mins 4–7 from the high nibbles of s8–s11); by the second
// [–, s0–s3, –, s4–s7], whose top two bits are bits 4–5 of scales 4–7 and
// mins 4–7; the third masks the low bits (63 for 6-bit values, 15 for
// nibbles).
DATA q4kshuf<>+0(SB)/8, $0x0b0a090803020100
DATA q4kshuf<>+8(SB)/8, $0x0b0a090807060504
DATA q4kshuf<>+16(SB)/8, $0x0302010080808080
DATA q4kshuf<>+24(SB)/8, $0x0706050480808080
DATA q4kshuf<>+32(SB)/8, $0x0f0f0f0f3f3f3f3f
DATA q4kshuf<>+40(SB)/8, $0x0f0f0f0f3f3f3f3f
GLOBL q4kshuf<>(SB), RODATA|NOPTR, $48

// hsixteenth<> is eight floats, 1 for the even blocks of a super-block
// (low nibbles) and 1/16 for the odd ones (high nibbles, left in place by
// nibmask<>).
DATA hsixteenth<>+0(SB)/8, $0x3d8000003f800000
DATA hsixteenth<>+8(SB)/8, $0x3d8000003f800000
DATA hsixteenth<>+16(SB)/8, $0x3d8000003f800000
DATA hsixteenth<>+24(SB)/8, $0x3d8000003f800000
GLOBL hsixteenth<>(SB), RODATA|NOPTR, $32

// QREDUCE leaves the sum of Z0 and Z1's sixteen lanes in X0.
#define QREDUCE \
	VADDPS        Z1, Z0, Z0 \
	VEXTRACTF64X4 $1, Z0, Y1 \
	VADDPS        Y1, Y0, Y0 \
	VEXTRACTF128  $1, Y0, X1 \
	VADDPS        X1, X0, X0 \
	VPERMILPS     $0x4e, X0, X1 \
	VADDPS        X1, X0, X0 \
	VPERMILPS     $0xb1, X0, X1 \
	VADDPS        X1, X0, X0

// HSUM4 sums the four lanes of xr into its lane 0 (tmp is clobbered).
#define HSUM4(xr, tmp) \
	VPERMILPS $0x4e, xr, tmp \
	VADDPS    tmp, xr, xr \
	VPERMILPS $0xb1, xr, tmp \
	VADDPS    tmp, xr, xr

// func dotQ4RowsVNNIAsm(q *int8, d *float32, sum *float32, w *uint32, scales *float32, nb int, nrows int, out *float32)
// x against nrows consecutive Q4 weight rows of nb > 0 blocks each (and
// their scales), out[r] for row r: one call per task of decoding. DI and DX
// run on from row to row. A block's 16 bytes hold elements 2i (low nibble)
// and 2i+1 (high nibble) in byte i: widened to words and or-ed with
// themselves shifted by 4, each word's two bytes are elements 2i and 2i+1,
// in order. The offset of 8 multiplies the exact Σx, taken off at the end.
TEXT ·dotQ4RowsVNNIAsm(SB), NOSPLIT, $0-64
	MOVQ w+24(FP), DI
	MOVQ scales+32(FP), DX
	MOVL $0x0f0f0f0f, AX
	VPBROADCASTD AX, Z29
	VMOVDQU32 qidx<>+0(SB), Z20

q4rrow:
	MOVQ q+0(FP), SI
	MOVQ d+8(FP), R8
	MOVQ sum+16(FP), R9
	MOVQ nb+40(FP), CX
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS X3, X3, X3

q4rloop2:
	CMPQ CX, $2
	JLT  q4rtail
	PREFETCHT0  QPFD(DI)
	VPMOVZXBW   (DI), Z4
	VPSLLW      $4, Z4, Z5
	VPTERNLOGD  $0xa8, Z29, Z5, Z4
	VPXORD      Z5, Z5, Z5
	VPDPBUSD    (SI), Z4, Z5
	VCVTDQ2PS   Z5, Z5
	VMOVQ       (DX), X6
	VMOVQ       (R8), X7
	VMULPS      X6, X7, X7
	VPERMPS     Z7, Z20, Z7
	VFMADD231PS Z7, Z5, Z0
	VMOVQ       (R9), X8
	VFMADD231PS X8, X6, X3
	ADDQ $64, SI
	ADDQ $32, DI
	ADDQ $8, DX
	ADDQ $8, R8
	ADDQ $8, R9
	SUBQ $2, CX
	JMP  q4rloop2

q4rtail:
	CMPQ CX, $1
	JLT  q4rdone
	VPMOVZXBW    (DI), Y4
	VPSLLW       $4, Y4, Y5
	VPTERNLOGD   $0xa8, Y29, Y5, Y4
	VPXORD       Y5, Y5, Y5
	VPDPBUSD     (SI), Y4, Y5
	VCVTDQ2PS    Y5, Y5
	VMOVSS       (DX), X6
	VMULSS       (R8), X6, X7
	VBROADCASTSS X7, Y7
	VMULPS       Y7, Y5, Y5
	VADDPS       Z5, Z1, Z1
	VMOVSS       (R9), X8
	VFMADD231SS  X8, X6, X3
	ADDQ         $16, DI               // on to the next row
	ADDQ         $4, DX

q4rdone:
	QREDUCE
	HSUM4(X3, X4)
	MOVL  $0x41000000, AX              // 8.0
	VMOVD AX, X5
	VFNMADD231SS X5, X3, X0            // Σ − 8·Σ scale·Σx
	MOVQ  out+56(FP), AX
	MOVSS X0, (AX)
	ADDQ  $4, AX
	MOVQ  AX, out+56(FP)
	DECQ  nrows+48(FP)
	JNZ   q4rrow
	VZEROUPPER
	RET

// Q4KCHUNK multiplies chunk c of the super-block at base (32 bytes at
// wo = 16+32c(base): sub-block 2c in the low nibbles, 2c+1 in the high
// ones, left times 16 by nibmask<>) by x's 64 bytes 64c..64c+63 (x: a
// register or memory) and adds them, scaled by s's lanes 2c and 2c+1 (idx:
// qidx's table c; lane 2c+1 already divided by 16), to acc. w, t and p are
// temporaries.
#define Q4KCHUNK(base, wo, x, idx, s, acc, w, t, p) \
	VBROADCASTI64X4 wo(base), w \
	VPANDD       Z28, w, w \
	VPXORD       t, t, t \
	VPDPBUSD     x, w, t \
	VCVTDQ2PS    t, t \
	VPERMPS      s, idx, p \
	VFMADD231PS  p, t, acc

// Q4KSCALESV is Q4KSCALES in vector registers, for the rows kernel: it
// leaves the super-block at base's scale_j·d in sz's lanes 0–7 and
// min_j·dmin in lanes 8–15, the same products, rounded once each. Takes
// X24–X26 (q4kshuf<>), X27 (0x30 bytes), K1 (bytes 12–15) and Z20
// (qidx<>'s first table: eight 0s, eight 1s); clobbers X11–X15.
#define Q4KSCALESV(base, sz) \
	VMOVDQU      4(base), X11 \
	VPSHUFB      X24, X11, X12 \
	VPSRLW       $4, X12, X13 \
	VMOVDQU8     X13, K1, X12 \
	VPANDD       X26, X12, X12 \
	VPSHUFB      X25, X11, X14 \
	VPSRLW       $2, X14, X14 \
	VPTERNLOGD   $0xf8, X27, X14, X12 \
	VPMOVZXBD    X12, sz \
	VCVTDQ2PS    sz, sz \
	VCVTPH2PS    (base), X15 \
	VPERMPS      Z15, Z20, Z15 \
	VMULPS       Z15, sz, sz

// Q4KFACTORS adds Σ min_j·dmin·Σx_j (sz's lanes 8–15 times x's block sums,
// Z16's) to min's lanes 8–15 and leaves scale_j·d·x.d_j in sy's lanes 0–7
// (lanes 2c+1 divided by 16), from Q4KSCALESV's sz.
#define Q4KFACTORS(sz, sy, min) \
	VFMADD231PS  Z16, sz, K2, min \
	VMULPS       Y29, sy, sy \
	VMULPS       Y16, sy, sy

// Q4KXSCALES loads x's block scales (lanes 0–7) and sums (lanes 8–15) of
// the super-block at R8 and R9 into Z16.
#define Q4KXSCALES \
	VMOVUPS      (R8), Y16 \
	VINSERTF64X4 $1, (R9), Z16, Z16

// Q4KPREFETCH prefetches the weights QPFD bytes past base's super-block
// (three lines per 144 bytes, so that no line is skipped).
#define Q4KPREFETCH(base) \
	PREFETCHT0 QPFD(base) \
	PREFETCHT0 (QPFD+64)(base) \
	PREFETCHT0 (QPFD+128)(base)

// Q4KSB multiplies one super-block of the weights at DI by x (SI, R8, R9)
// into Z0, Z1 (scaled sums) and Z3's lanes 8–15 (Σ min·Σx), and advances
// the pointers: the body of the rows kernel's loop over a lone row.
#define Q4KSB \
	Q4KPREFETCH(DI) \
	Q4KSCALESV(DI, Z9) \
	Q4KXSCALES \
	Q4KFACTORS(Z9, Y9, Z3) \
	Q4KCHUNK(DI, 16, 0(SI), Z20, Z9, Z0, Z4, Z5, Z6) \
	Q4KCHUNK(DI, 48, 64(SI), Z21, Z9, Z1, Z4, Z5, Z6) \
	Q4KCHUNK(DI, 80, 128(SI), Z22, Z9, Z0, Z4, Z5, Z6) \
	Q4KCHUNK(DI, 112, 192(SI), Z23, Z9, Z1, Z4, Z5, Z6) \
	ADDQ $144, DI \
	ADDQ $256, SI \
	ADDQ $32, R8 \
	ADDQ $32, R9

// Q4KSB2 is Q4KSB for two weight rows at once, DI's into Z0, Z1 and Z3 and
// BX's into Z2, Z7 and Z8, each row's operations in the same order as
// Q4KSB's (so each result is bit for bit the one-row loop's): x's bytes,
// block scales and sums are loaded once for both, and the weights stream
// from two places in memory, which the 2-core CI machine serves faster than
// one stream a core (as q6k_vnni_amd64.s's Q6KSBT2). The prefetch distance
// stays QPFD for each stream: with two rows, 3 to 14 alternating rounds of
// the rows kernel's benchmarks (DecodeLayers, then DRAMHuge) put 1280–3600
// bytes within noise of one another (2560: 23.2–26.7 and 26.6–30.1 GB/s;
// 1920: 22.5–27.0 and 25.6–30.9; 3600: 24.7–26.7 and 27.0–28.2), 5120
// lower (22.3–25.3, 25.7–26.5), and PREFETCHT1 at 2560 or 5120 lower
// again (21.6–24.7, 23.8–27.0).
#define Q4KSB2 \
	Q4KPREFETCH(DI) \
	Q4KPREFETCH(BX) \
	Q4KSCALESV(DI, Z9) \
	Q4KSCALESV(BX, Z10) \
	Q4KXSCALES \
	Q4KFACTORS(Z9, Y9, Z3) \
	Q4KFACTORS(Z10, Y10, Z8) \
	VMOVDQU64    0(SI), Z30 \
	Q4KCHUNK(DI, 16, Z30, Z20, Z9, Z0, Z4, Z5, Z6) \
	Q4KCHUNK(BX, 16, Z30, Z20, Z10, Z2, Z17, Z18, Z19) \
	VMOVDQU64    64(SI), Z31 \
	Q4KCHUNK(DI, 48, Z31, Z21, Z9, Z1, Z4, Z5, Z6) \
	Q4KCHUNK(BX, 48, Z31, Z21, Z10, Z7, Z17, Z18, Z19) \
	VMOVDQU64    128(SI), Z30 \
	Q4KCHUNK(DI, 80, Z30, Z22, Z9, Z0, Z4, Z5, Z6) \
	Q4KCHUNK(BX, 80, Z30, Z22, Z10, Z2, Z17, Z18, Z19) \
	VMOVDQU64    192(SI), Z31 \
	Q4KCHUNK(DI, 112, Z31, Z23, Z9, Z1, Z4, Z5, Z6) \
	Q4KCHUNK(BX, 112, Z31, Z23, Z10, Z7, Z17, Z18, Z19) \
	ADDQ $144, DI \
	ADDQ $144, BX \
	ADDQ $256, SI \
	ADDQ $32, R8 \
	ADDQ $32, R9

// Q8ROWS2 is the rows kernel's two-block step (w + 128 by x's bytes,
// lanes 0–7 block b and 8–15 block b+1, scaled by scale·d; the correction
// Σ scale·d·Σq beside) for one weight row, at w (its scales at s), with
// x's 64 bytes in Z30, its two block scales in X15 and their Σq, as floats,
// in X8: acc and corr take the sums; wz, tz, sx (sz: the same register)
// and pz are temporaries. The one-row loop's operations, in its order.
#define Q8ROWS2(w, s, wz, tz, sx, sz, pz, acc, corr) \
	VMOVDQU64   (w), wz \
	VPXORD      Z31, wz, wz \
	VPXORD      tz, tz, tz \
	VPDPBUSD    Z30, wz, tz \
	VCVTDQ2PS   tz, tz \
	VMOVQ       (s), sx \
	VMULPS      X15, sx, sx \
	VPERMPS     sz, Z20, pz \
	VFMADD231PS pz, tz, acc \
	VFMADD231PS X8, sx, corr

// Q8ROWS1 is Q8ROWS2 for a last single block (256-bit vectors: x's 32
// bytes in Y30, its scale in X15, its Σq in X8), into accz (whose upper
// lanes the zero upper lanes of tz leave as they are).
#define Q8ROWS1(w, s, wy, ty, tz, sx, py, accz, corr) \
	VMOVDQU      (w), wy \
	VPXORD       Y31, wy, wy \
	VPXORD       ty, ty, ty \
	VPDPBUSD     Y30, wy, ty \
	VCVTDQ2PS    ty, ty \
	VMOVSS       (s), sx \
	VMULSS       X15, sx, sx \
	VBROADCASTSS sx, py \
	VMULPS       py, ty, ty \
	VADDPS       tz, accz, accz \
	VFMADD231PS  X8, sx, corr

// Q8ROWSUM leaves a row's result, Σ of a's and b's lanes less 128·Σ of
// corr's lanes (X5 = 128), in ax; clobbers b and X4. QREDUCE, HSUM4 and
// the correction of the one-row loop, in the same order, for either row.
#define Q8ROWSUM(az, ay, ax, bz, by, bx, corr) \
	VADDPS        bz, az, az \
	VEXTRACTF64X4 $1, az, by \
	VADDPS        by, ay, ay \
	VEXTRACTF128  $1, ay, bx \
	VADDPS        bx, ax, ax \
	VPERMILPS     $0x4e, ax, bx \
	VADDPS        bx, ax, ax \
	VPERMILPS     $0xb1, ax, bx \
	VADDPS        bx, ax, ax \
	HSUM4(corr, X4) \
	VFNMADD231SS  X5, corr, ax

// func dotQ8RowsVNNIAsm(q *int8, d *float32, isum *int32, w *uint32, scales *float32, nb int, nrows int, out *float32)
// x against nrows consecutive Q8 weight rows of nb > 0 blocks each (and
// their scales), out[r] for row r: one call per task of decoding instead
// of one per row. With h = nrows/2, rows r and h+r go together (weights
// DI and BX, scales DX and R12, Q8ROWS2 and Q8ROWS1 into Z0, Z1, X3 and
// Z2, Z9, X10; results to R10 and R10+R11), x's bytes, block scales and
// Σq loaded once for both; then the last row of an odd count alone, the
// one-row loop (q8rloop2), which also serves dotQ8VNNI. Each row's
// operations are the one-row loop's, in its order, so each result is bit
// for bit the same whichever way its row goes; the two rows stream from
// two places in memory, which the 2-core CI machine serves faster than one
// stream a core (as dotQ4KRowsVNNIAsm). The two streams prefetch as the
// Q4K pair does (PREFETCHT0, QPFD ahead each), not Q8PFD's PREFETCHT1.
// Old and new test binaries (go test -c), interleaved, 14 rounds on the
// 2-core CI machine (-run '^$' -bench 'CPUDecodeLayersHuge/.*/q8'
// -benchtime 3x; -bench 'CPULinearVecDRAMHuge/.*/q8' -benchtime 10x;
// -bench 'CPULinearVecL2/.*/q8' -cpu 1), medians and ranges: one row at a
// time 19.3 (15.1–22.7), 25.9 (16.6–27.9) and 24.8 (16.4–26.4) GB/s; this
// 20.9 (17.6–24.5), 27.4 (24.3–29.8) and 28.5 (26.2–32.1). The pair with
// Q8PFD kept (PREFETCHT1, 5120) gave 20.7, 25.7 and 27.2, and PREFETCHT1
// at 2560 or 7680 no better than that (8 rounds).
TEXT ·dotQ8RowsVNNIAsm(SB), NOSPLIT, $0-64
	MOVQ w+24(FP), DI
	MOVQ scales+32(FP), DX
	MOVQ out+56(FP), R10
	MOVL $0x80808080, AX
	VPBROADCASTD AX, Z31
	VMOVDQU32 qidx<>+0(SB), Z20
	MOVQ nrows+48(FP), R13
	SHRQ $1, R13
	JZ   q8rodd
	MOVQ nb+40(FP), AX
	IMULQ R13, AX                      // h·nb blocks
	LEAQ (DX)(AX*4), R12               // row h's scales
	SHLQ $5, AX
	LEAQ (DI)(AX*1), BX                // row h's weights
	LEAQ 0(R13*4), R11

q8r2row:
	MOVQ q+0(FP), SI
	MOVQ d+8(FP), R8
	MOVQ isum+16(FP), R9
	MOVQ nb+40(FP), CX
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS X3, X3, X3
	VXORPS Z2, Z2, Z2
	VXORPS Z9, Z9, Z9
	VXORPS X10, X10, X10

q8r2loop2:
	CMPQ CX, $2
	JLT  q8r2tail
	PREFETCHT0 QPFD(DI)
	PREFETCHT0 QPFD(BX)
	VMOVDQU64  (SI), Z30
	VMOVQ      (R8), X15
	VMOVQ      (R9), X8
	VCVTDQ2PS  X8, X8
	Q8ROWS2(DI, DX, Z4, Z5, X6, Z6, Z7, Z0, X3)
	Q8ROWS2(BX, R12, Z11, Z12, X13, Z13, Z14, Z2, X10)
	ADDQ $64, SI
	ADDQ $64, DI
	ADDQ $64, BX
	ADDQ $8, DX
	ADDQ $8, R12
	ADDQ $8, R8
	ADDQ $8, R9
	SUBQ $2, CX
	JMP  q8r2loop2

q8r2tail:
	CMPQ CX, $1
	JLT  q8r2done
	VMOVDQU64 (SI), Y30
	VMOVSS    (R8), X15
	VMOVSS    (R9), X8
	VCVTDQ2PS X8, X8
	Q8ROWS1(DI, DX, Y4, Y5, Z5, X6, Y7, Z1, X3)
	Q8ROWS1(BX, R12, Y11, Y12, Z12, X13, Y14, Z9, X10)
	ADDQ $32, DI                       // on to the next rows
	ADDQ $32, BX
	ADDQ $4, DX
	ADDQ $4, R12

q8r2done:
	MOVL  $0x43000000, AX              // 128.0
	VMOVD AX, X5
	Q8ROWSUM(Z0, Y0, X0, Z1, Y1, X1, X3)
	Q8ROWSUM(Z2, Y2, X2, Z9, Y9, X9, X10)
	MOVSS X0, (R10)
	MOVSS X2, (R10)(R11*1)
	ADDQ  $4, R10
	DECQ  R13
	JNZ   q8r2row
	MOVQ  BX, DI                       // row 2h
	MOVQ  R12, DX
	ADDQ  R11, R10

q8rodd:
	TESTQ $1, nrows+48(FP)
	JZ    q8rret
	MOVQ q+0(FP), SI
	MOVQ d+8(FP), R8
	MOVQ isum+16(FP), R9
	MOVQ nb+40(FP), CX
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS X3, X3, X3

q8rloop2:
	CMPQ CX, $2
	JLT  q8rtail
	PREFETCHT1  Q8PFD(DI)
	VMOVDQU64   (DI), Z4
	VPXORD      Z31, Z4, Z4            // w + 128, as unsigned bytes
	VPXORD      Z5, Z5, Z5
	VPDPBUSD    (SI), Z4, Z5           // lanes 0–7: block b, 8–15: block b+1
	VCVTDQ2PS   Z5, Z5
	VMOVQ       (DX), X6
	VMOVQ       (R8), X7
	VMULPS      X7, X6, X6             // scale·d of the two blocks
	VPERMPS     Z6, Z20, Z7
	VFMADD231PS Z7, Z5, Z0
	VMOVQ       (R9), X8
	VCVTDQ2PS   X8, X8
	VFMADD231PS X8, X6, X3             // Σ scale·d·Σq, for the correction
	ADDQ $64, SI
	ADDQ $64, DI
	ADDQ $8, DX
	ADDQ $8, R8
	ADDQ $8, R9
	SUBQ $2, CX
	JMP  q8rloop2

q8rtail:
	CMPQ CX, $1
	JLT  q8rdone
	VMOVDQU      (DI), Y4
	VPXORD       Y31, Y4, Y4
	VPXORD       Y5, Y5, Y5
	VPDPBUSD     (SI), Y4, Y5
	VCVTDQ2PS    Y5, Y5
	VMOVSS       (DX), X6
	VMULSS       (R8), X6, X6
	VBROADCASTSS X6, Y7
	VMULPS       Y7, Y5, Y5
	VADDPS       Z5, Z1, Z1            // Y5's upper lanes are zero
	VMOVSS       (R9), X8
	VCVTDQ2PS    X8, X8
	VFMADD231PS  X8, X6, X3

q8rdone:
	QREDUCE
	HSUM4(X3, X4)
	MOVL  $0x43000000, AX              // 128.0
	VMOVD AX, X5
	VFNMADD231SS X5, X3, X0
	MOVSS X0, (R10)

q8rret:
	VZEROUPPER
	RET

// Q4KROWSUM leaves a row's result, Σ of a's and b's lanes less Σ of m's
// lanes 8–15 (Σ min·Σx), in ax; clobbers b, m and t. The one-row loop's
// reduction, in the same order, for either row.
#define Q4KROWSUM(az, ay, ax, bz, by, bx, mz, my, mx, tx) \
	VADDPS        bz, az, az \
	VEXTRACTF64X4 $1, az, by \
	VADDPS        by, ay, ay \
	VEXTRACTF128  $1, ay, bx \
	VADDPS        bx, ax, ax \
	VPERMILPS     $0x4e, ax, bx \
	VADDPS        bx, ax, ax \
	VPERMILPS     $0xb1, ax, bx \
	VADDPS        bx, ax, ax \
	VEXTRACTF64X4 $1, mz, my \
	VEXTRACTF128  $1, my, tx \
	VADDPS        tx, mx, mx \
	HSUM4(mx, tx) \
	VSUBSS        mx, ax, ax

// func dotQ4KRowsVNNIAsm(q *int8, d *float32, sum *float32, w *uint32, nsb int, nrows int, out *float32)
// x against nrows consecutive Q4K weight rows of nsb > 0 super-blocks
// each, out[r] for row r: one call per task of decoding. With h = nrows/2,
// rows r and h+r go together (DI and BX, Q4KSB2; results to R10 and
// R10+R11), then the last row of an odd count alone (Q4KSB). Walking two
// rows half a task apart instead of one row at a time, on the 2-core CI
// machine, five alternating rounds of the old and new test binaries
// (go test -c; -run '^$' -bench 'CPUDecodeLayersHuge/.*/q4k' -benchtime 3x,
// and -bench 'CPULinearVecDRAMHuge/.*/q4k' -benchtime 10x): 17.9–19.6 to
// 23.3–25.0 GB/s and 21.7–23.6 to 26.5–29.1 GB/s; in cache
// (BenchmarkCPULinearVecL2 q4k, -cpu 1, ten rounds) 18.2–19.8 and
// 17.9–19.4 GB/s, the same work per byte.
TEXT ·dotQ4KRowsVNNIAsm(SB), NOSPLIT, $0-56
	VMOVDQU32 nibmask<>(SB), Z28
	VMOVUPS   hsixteenth<>(SB), Y29
	VMOVDQU32 qidx<>+0(SB), Z20
	VMOVDQU32 qidx<>+64(SB), Z21
	VMOVDQU32 qidx<>+128(SB), Z22
	VMOVDQU32 qidx<>+192(SB), Z23
	VMOVDQU32 q4kshuf<>+0(SB), X24
	VMOVDQU32 q4kshuf<>+16(SB), X25
	VMOVDQU32 q4kshuf<>+32(SB), X26
	MOVL      $0x30303030, AX
	VPBROADCASTD AX, X27
	MOVW      $0xf000, AX
	KMOVW     AX, K1
	MOVW      $0xff00, AX
	KMOVW     AX, K2
	MOVQ w+24(FP), DI
	MOVQ out+48(FP), R10
	MOVQ nrows+40(FP), DX
	SHRQ $1, DX
	JZ   q4krodd
	MOVQ nsb+32(FP), AX
	IMULQ $144, AX
	IMULQ DX, AX
	LEAQ (DI)(AX*1), BX                // row h
	LEAQ 0(DX*4), R11

q4kr2row:
	MOVQ q+0(FP), SI
	MOVQ d+8(FP), R8
	MOVQ sum+16(FP), R9
	MOVQ nsb+32(FP), CX
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z3, Z3, Z3
	VXORPS Z2, Z2, Z2
	VXORPS Z7, Z7, Z7
	VXORPS Z8, Z8, Z8

q4kr2loop:
	Q4KSB2
	DECQ CX
	JNZ  q4kr2loop

	Q4KROWSUM(Z0, Y0, X0, Z1, Y1, X1, Z3, Y3, X3, X4)
	Q4KROWSUM(Z2, Y2, X2, Z7, Y7, X7, Z8, Y8, X8, X4)
	MOVSS X0, (R10)
	MOVSS X2, (R10)(R11*1)
	ADDQ  $4, R10
	DECQ  DX
	JNZ   q4kr2row
	MOVQ  BX, DI                       // row 2h
	ADDQ  R11, R10

q4krodd:
	TESTQ $1, nrows+40(FP)
	JZ    q4krdone
	MOVQ q+0(FP), SI
	MOVQ d+8(FP), R8
	MOVQ sum+16(FP), R9
	MOVQ nsb+32(FP), CX
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z3, Z3, Z3

q4krloop:
	Q4KSB
	DECQ CX
	JNZ  q4krloop

	Q4KROWSUM(Z0, Y0, X0, Z1, Y1, X1, Z3, Y3, X3, X4)
	MOVSS X0, (R10)

q4krdone:
	VZEROUPPER
	RET

// The x4 kernel takes one Q4K weight row against four rounded x rows (four
// beams, or four rows of a short prompt): the scales are decoded and the
// nibbles unpacked once for all four. Registers:
//   SI  row 0's bytes, R8 = k, R9 = 3k (rows r at SI + r·k)
//   DX  row 0's block scales, R12 its block sums, BX = k/8 bytes between
//       rows of those, R11 = 3·BX
//   DI  the weights;  CX  super-blocks left;  AX, R10, R13  scale decoding
//   Z0–Z3  the rows' running sums;  Y24–Y27  their Σ min·Σx
//   Z12–Z15  the rows' scale_j·d_j;  Z4  a chunk's nibbles as bytes

// ROWDOT adds row r's chunk product (x bytes at mem), scaled by p's lanes
// through idx, to acc; t and s are that row's temporaries.
#define ROWDOT(mem, idx, p, acc, t, s) \
	VPXORD      t, t, t \
	VPDPBUSD    mem, Z4, t \
	VCVTDQ2PS   t, t \
	VPERMPS     p, idx, s \
	VFMADD231PS s, t, acc

#define Q4KCHUNK4(wo, xo, idx) \
	VBROADCASTI64X4 wo(DI), Z4 \
	VPANDD       Z28, Z4, Z4 \
	ROWDOT(xo(SI), idx, Z12, Z0, Z5, Z16) \
	ROWDOT(xo(SI)(R8*1), idx, Z13, Z1, Z6, Z17) \
	ROWDOT(xo(SI)(R8*2), idx, Z14, Z2, Z7, Z18) \
	ROWDOT(xo(SI)(R9*1), idx, Z15, Z3, Z8, Z19)

// ROWSUM leaves row r's result, Σ of acc's lanes less Σ of min's, in x.
#define ROWSUM(acc, y, x, min) \
	VEXTRACTF64X4 $1, acc, Y5 \
	VADDPS        Y5, y, y \
	VSUBPS        min, y, y \
	VEXTRACTF128  $1, y, X5 \
	VADDPS        X5, x, x \
	HSUM4(x, X5)

// func dotQ4Kx4VNNIAsm(q *int8, k int, d *float32, sum *float32, w *uint32, nsb int, out *[4]float32)
// nsb > 0 super-blocks; x row r at q + r·k, its scales and sums at
// d + r·k/32 and sum + r·k/32.
TEXT ·dotQ4Kx4VNNIAsm(SB), NOSPLIT, $0-56
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
	VMOVDQU32 nibmask<>(SB), Z28
	VMOVUPS   hsixteenth<>(SB), Y29
	VMOVDQU32 qidx<>+0(SB), Z20
	VMOVDQU32 qidx<>+64(SB), Z21
	VMOVDQU32 qidx<>+128(SB), Z22
	VMOVDQU32 qidx<>+192(SB), Z23
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
	VXORPS Z24, Z24, Z24
	VXORPS Z25, Z25, Z25
	VXORPS Z26, Z26, Z26
	VXORPS Z27, Z27, Z27

q4kx4vloop:
	PREFETCHT0 QPFD(DI)
	PREFETCHT0 (QPFD+64)(DI)
	PREFETCHT0 (QPFD+128)(DI)
	Q4KSCALES
	VFMADD231PS  (R12), Y10, Y24
	VFMADD231PS  (R12)(BX*1), Y10, Y25
	VFMADD231PS  (R12)(BX*2), Y10, Y26
	VFMADD231PS  (R12)(R11*1), Y10, Y27
	VMULPS       Y29, Y9, Y9
	VMULPS       (DX), Y9, Y12
	VMULPS       (DX)(BX*1), Y9, Y13
	VMULPS       (DX)(BX*2), Y9, Y14
	VMULPS       (DX)(R11*1), Y9, Y15
	Q4KCHUNK4(16, 0, Z20)
	Q4KCHUNK4(48, 64, Z21)
	Q4KCHUNK4(80, 128, Z22)
	Q4KCHUNK4(112, 192, Z23)
	ADDQ $144, DI
	ADDQ $256, SI
	ADDQ $32, DX
	ADDQ $32, R12
	DECQ CX
	JNZ  q4kx4vloop

	VMOVAPS Y24, Y8
	VMOVAPS Y25, Y9
	VMOVAPS Y26, Y10
	VMOVAPS Y27, Y11
	ROWSUM(Z0, Y0, X0, Y8)
	ROWSUM(Z1, Y1, X1, Y9)
	ROWSUM(Z2, Y2, X2, Y10)
	ROWSUM(Z3, Y3, X3, Y11)
	MOVQ out+48(FP), BX
	VZEROUPPER
	MOVSS X0, 0(BX)
	MOVSS X1, 4(BX)
	MOVSS X2, 8(BX)
	MOVSS X3, 12(BX)
	RET

// The Q8 x4 kernel: one Q8 weight row against four rounded x rows, the
// weights loaded and offset once for the four. Registers as the Q4K x4
// kernel's, with R12 the rows' Σq (isum), R13 the weights' block scales,
// X24–X27 the rows' corrections (Σ scale·d·Σq) and X21 two blocks' weight
// scales.

// ROWQ8 adds row r's two-block product (x bytes at qmem, scales at dmem,
// Σq at imem) to acc and its correction to corr; t, s, p (X and Z names of
// one register) and c are that row's temporaries.
#define ROWQ8(qmem, dmem, imem, acc, corr, t, s, px, pz, c) \
	VPXORD      t, t, t \
	VPDPBUSD    qmem, Z4, t \
	VCVTDQ2PS   t, t \
	VMOVQ       dmem, px \
	VMULPS      X21, px, px \
	VPERMPS     pz, Z20, s \
	VFMADD231PS s, t, acc \
	VMOVQ       imem, c \
	VCVTDQ2PS   c, c \
	VFMADD231PS c, px, corr

// ROWQ8TAIL is ROWQ8 for a last single block (256-bit vectors).
#define ROWQ8TAIL(qmem, dmem, imem, accz, corr, ty, tz, px, c) \
	VPXORD       ty, ty, ty \
	VPDPBUSD     qmem, Y4, ty \
	VCVTDQ2PS    ty, ty \
	VMULSS       dmem, X21, px \
	VBROADCASTSS px, Y15 \
	VMULPS       Y15, ty, ty \
	VADDPS       tz, accz, accz \
	VMOVSS       imem, c \
	VCVTDQ2PS    c, c \
	VFMADD231SS  c, px, corr

// ROWSUMQ8 leaves Σ acc − 128·Σ corr in x (tmp: X5, X15; X14 = 128).
#define ROWSUMQ8(acc, y, x, corr) \
	VEXTRACTF64X4 $1, acc, Y5 \
	VADDPS        Y5, y, y \
	VEXTRACTF128  $1, y, X5 \
	VADDPS        X5, x, x \
	HSUM4(x, X5) \
	VMOVAPS       corr, X15 \
	HSUM4(X15, X5) \
	VFNMADD231SS  X14, X15, x

// func dotQ8x4VNNIAsm(q *int8, k int, d *float32, isum *int32, w *uint32, scales *float32, nb int, out *[4]float32)
// nb > 0 blocks; x row r at q + r·k, its scales and Σq at d + r·k/32 and
// isum + r·k/32.
TEXT ·dotQ8x4VNNIAsm(SB), NOSPLIT, $0-64
	MOVQ q+0(FP), SI
	MOVQ k+8(FP), R8
	MOVQ d+16(FP), DX
	MOVQ isum+24(FP), R12
	MOVQ w+32(FP), DI
	MOVQ scales+40(FP), R13
	MOVQ nb+48(FP), CX
	LEAQ (R8)(R8*2), R9
	MOVQ R8, BX
	SHRQ $3, BX
	LEAQ (BX)(BX*2), R11
	MOVL $0x80808080, AX
	VPBROADCASTD AX, Z31
	VMOVDQU32 qidx<>+0(SB), Z20
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
	VXORPS X24, X24, X24
	VXORPS X25, X25, X25
	VXORPS X26, X26, X26
	VXORPS X27, X27, X27

q8x4vloop2:
	CMPQ CX, $2
	JLT  q8x4vtail
	PREFETCHT0 QPFD(DI)
	VMOVDQU64  (DI), Z4
	VPXORD     Z31, Z4, Z4             // w + 128, as unsigned bytes
	VMOVQ      (R13), X21
	ROWQ8(0(SI), (DX), (R12), Z0, X24, Z5, Z16, X9, Z9, X13)
	ROWQ8(0(SI)(R8*1), (DX)(BX*1), (R12)(BX*1), Z1, X25, Z6, Z17, X10, Z10, X14)
	ROWQ8(0(SI)(R8*2), (DX)(BX*2), (R12)(BX*2), Z2, X26, Z7, Z18, X11, Z11, X13)
	ROWQ8(0(SI)(R9*1), (DX)(R11*1), (R12)(R11*1), Z3, X27, Z8, Z19, X12, Z12, X14)
	ADDQ $64, SI
	ADDQ $64, DI
	ADDQ $8, DX
	ADDQ $8, R12
	ADDQ $8, R13
	SUBQ $2, CX
	JMP  q8x4vloop2

q8x4vtail:
	CMPQ CX, $1
	JLT  q8x4vdone
	VMOVDQU (DI), Y4
	VPXORD  Y31, Y4, Y4
	VMOVSS  (R13), X21
	ROWQ8TAIL(0(SI), (DX), (R12), Z0, X24, Y5, Z5, X9, X13)
	ROWQ8TAIL(0(SI)(R8*1), (DX)(BX*1), (R12)(BX*1), Z1, X25, Y6, Z6, X10, X14)
	ROWQ8TAIL(0(SI)(R8*2), (DX)(BX*2), (R12)(BX*2), Z2, X26, Y7, Z7, X11, X13)
	ROWQ8TAIL(0(SI)(R9*1), (DX)(R11*1), (R12)(R11*1), Z3, X27, Y8, Z8, X12, X14)

q8x4vdone:
	MOVL  $0x43000000, AX              // 128.0
	VMOVD AX, X14
	ROWSUMQ8(Z0, Y0, X0, X24)
	ROWSUMQ8(Z1, Y1, X1, X25)
	ROWSUMQ8(Z2, Y2, X2, X26)
	ROWSUMQ8(Z3, Y3, X3, X27)
	MOVQ out+56(FP), BX
	VZEROUPPER
	MOVSS X0, 0(BX)
	MOVSS X1, 4(BX)
	MOVSS X2, 8(BX)
	MOVSS X3, 12(BX)
	RET
