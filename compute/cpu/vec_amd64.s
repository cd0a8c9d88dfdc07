//go:build amd64 && !purego

// AVX2 + FMA + F16C dot products of one x row (float32) with one weight
// row, for the fused matrix–vector path of Linear (see vec.go).
//
// Register plan, shared by the four kernels:
//   SI  x (float32 activations), advanced as the loop goes
//   DI  w (weights: float32, packed halves, int8 or nibbles)
//   DX  block scales (Q8, Q4)
//   CX  elements (F32, F16) or blocks (Q8, Q4) left
//   Y0–Y3   running sums (four independent FMA chains hide FMA latency:
//           two loads per FMA make one FMA a cycle the ceiling)
//   Y4–Y11  widened weights and per-block sums
//   X14, X15  Q4 constants: bytes of 8 and of 0x0f
// Each kernel adds Y0–Y3 lane-wise, then the eight lanes pairwise, so the
// result is one float32 sum in X0. VZEROUPPER before returning avoids the
// AVX–SSE transition penalty in the Go code that follows.

#include "textflag.h"

// PFD is how far ahead of the weights being read the kernels prefetch
// them (PREFETCHT0, once per 64 bytes read): about one 4096-wide F16 row.
// The hardware prefetcher alone left the matrix–vector product at half the
// bandwidth the cache gives (BenchmarkCPULinearVec f16: 4.6 ms without,
// 3.1 ms at 4 KiB ahead, 2.2 ms at 8 KiB, 2.8 ms at 16 KiB).
#define PFD 8192

// REDUCE leaves Y0+Y1+Y2+Y3, summed over its eight lanes, in X0.
#define REDUCE \
	VADDPS       Y1, Y0, Y0 \
	VADDPS       Y3, Y2, Y2 \
	VADDPS       Y2, Y0, Y0 \
	VEXTRACTF128 $1, Y0, X1 \
	VADDPS       X1, X0, X0 \
	VPERMILPS    $0x4e, X0, X1 \
	VADDPS       X1, X0, X0 \
	VPERMILPS    $0xb1, X0, X1 \
	VADDPS       X1, X0, X0

#define ZERO4 \
	VXORPS Y0, Y0, Y0 \
	VXORPS Y1, Y1, Y1 \
	VXORPS Y2, Y2, Y2 \
	VXORPS Y3, Y3, Y3

// func dotF32AVX2Asm(x, w *float32, n int) float32
// n is a multiple of 8.
TEXT ·dotF32AVX2Asm(SB), NOSPLIT, $0-28
	MOVQ x+0(FP), SI
	MOVQ w+8(FP), DI
	MOVQ n+16(FP), CX
	ZERO4

f32loop32:
	CMPQ        CX, $32
	JLT         f32loop8
	PREFETCHT0 PFD(DI)
	PREFETCHT0 (PFD+64)(DI)
	VMOVUPS     0(SI), Y4
	VMOVUPS     32(SI), Y5
	VMOVUPS     64(SI), Y6
	VMOVUPS     96(SI), Y7
	VFMADD231PS 0(DI), Y4, Y0
	VFMADD231PS 32(DI), Y5, Y1
	VFMADD231PS 64(DI), Y6, Y2
	VFMADD231PS 96(DI), Y7, Y3
	ADDQ        $128, SI
	ADDQ        $128, DI
	SUBQ        $32, CX
	JMP         f32loop32

f32loop8:
	CMPQ        CX, $8
	JLT         f32done
	VMOVUPS     0(SI), Y4
	VFMADD231PS 0(DI), Y4, Y0
	ADDQ        $32, SI
	ADDQ        $32, DI
	SUBQ        $8, CX
	JMP         f32loop8

f32done:
	REDUCE
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// F16DOT is dotF16AVX2Asm's loop: x at SI, halves at DI, CX halves (a
// multiple of 8), the sum left in X0; the labels are the caller's.
#define F16DOT(l32, l8, done) \
	ZERO4 \
l32: \
	CMPQ        CX, $32 \
	JLT         l8 \
	PREFETCHT0  PFD(DI) \
	VCVTPH2PS   0(DI), Y4 \
	VCVTPH2PS   16(DI), Y5 \
	VCVTPH2PS   32(DI), Y6 \
	VCVTPH2PS   48(DI), Y7 \
	VFMADD231PS 0(SI), Y4, Y0 \
	VFMADD231PS 32(SI), Y5, Y1 \
	VFMADD231PS 64(SI), Y6, Y2 \
	VFMADD231PS 96(SI), Y7, Y3 \
	ADDQ        $128, SI \
	ADDQ        $64, DI \
	SUBQ        $32, CX \
	JMP         l32 \
l8: \
	CMPQ        CX, $8 \
	JLT         done \
	VCVTPH2PS   0(DI), Y4 \
	VFMADD231PS 0(SI), Y4, Y0 \
	ADDQ        $32, SI \
	ADDQ        $16, DI \
	SUBQ        $8, CX \
	JMP         l8 \
done: \
	REDUCE

// func dotF16AVX2Asm(x *float32, w *uint32, n int) float32
// n (halves) is a multiple of 8; VCVTPH2PS widens eight halves at a time.
TEXT ·dotF16AVX2Asm(SB), NOSPLIT, $0-28
	MOVQ x+0(FP), SI
	MOVQ w+8(FP), DI
	MOVQ n+16(FP), CX
	F16DOT(f16loop32, f16loop8, f16done)
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// func dotF16HeadsAVX2Asm(q *float32, k *uint32, d, heads int, scale float32, out *float32, stride int)
// Attention's scores for a block of heads at one cached position (as
// dotF16HeadsAVX512Asm): out[h·stride] = scale · (q_h · k_h), stride in
// bytes, each head's sum dotF16AVX2Asm's; d is a multiple of 8.
TEXT ·dotF16HeadsAVX2Asm(SB), NOSPLIT, $0-56
	MOVQ   q+0(FP), SI
	MOVQ   k+8(FP), DI
	MOVQ   d+16(FP), R11
	MOVQ   heads+24(FP), BX
	VMOVSS scale+32(FP), X10
	MOVQ   out+40(FP), R12
	MOVQ   stride+48(FP), R13

f16hloop:
	MOVQ   R11, CX
	F16DOT(f16hl32, f16hl8, f16hsum)
	VMULSS X10, X0, X0
	VMOVSS X0, (R12)
	ADDQ   R13, R12
	DECQ   BX
	JNZ    f16hloop
	VZEROUPPER
	RET

// Q8BLOCK adds scale·Σ x·q over one 32-element block at offset xo (bytes
// of x), wo (bytes of w), so (bytes of scales) to acc. The block's sum is
// formed first and scaled once, as dotQ8 does.
#define Q8BLOCK(xo, wo, so, acc) \
	VPMOVSXBD    wo+0(DI), Y4 \
	VPMOVSXBD    wo+8(DI), Y5 \
	VPMOVSXBD    wo+16(DI), Y6 \
	VPMOVSXBD    wo+24(DI), Y7 \
	VCVTDQ2PS    Y4, Y4 \
	VCVTDQ2PS    Y5, Y5 \
	VCVTDQ2PS    Y6, Y6 \
	VCVTDQ2PS    Y7, Y7 \
	VMULPS       xo+0(SI), Y4, Y8 \
	VMULPS       xo+32(SI), Y5, Y9 \
	VFMADD231PS  xo+64(SI), Y6, Y8 \
	VFMADD231PS  xo+96(SI), Y7, Y9 \
	VADDPS       Y9, Y8, Y8 \
	VBROADCASTSS so(DX), Y10 \
	VFMADD231PS  Y10, Y8, acc

// func dotQ8AVX2Asm(x *float32, w *uint32, scales *float32, nb int) float32
// nb > 0 blocks of 32 int8 weights and one float32 scale each.
TEXT ·dotQ8AVX2Asm(SB), NOSPLIT, $0-36
	MOVQ x+0(FP), SI
	MOVQ w+8(FP), DI
	MOVQ scales+16(FP), DX
	MOVQ nb+24(FP), CX
	ZERO4

	// Two blocks an iteration, into two sums: the scale FMA of one block
	// need not wait for the previous block's.
q8loop2:
	CMPQ CX, $2
	JLT  q8loop1
	PREFETCHT0 PFD(DI)
	Q8BLOCK(0, 0, 0, Y0)
	Q8BLOCK(128, 32, 4, Y1)
	ADDQ $256, SI
	ADDQ $64, DI
	ADDQ $8, DX
	SUBQ $2, CX
	JMP  q8loop2

q8loop1:
	CMPQ CX, $1
	JLT  q8done
	Q8BLOCK(0, 0, 0, Y0)

q8done:
	REDUCE
	VZEROUPPER
	MOVSS X0, ret+32(FP)
	RET

// Q4BLOCK is Q8BLOCK for one block of 32 nibbles (16 bytes): byte i holds
// elements 2i (low nibble) and 2i+1 (high); a stored nibble q means q−8.
// The nibbles are split, interleaved back into element order as bytes,
// offset by −8 and sign-extended to int32 eight at a time.
#define Q4BLOCK(xo, wo, so, acc) \
	VMOVDQU      wo(DI), X4 \
	VPSRLW       $4, X4, X5 \
	VPAND        X15, X4, X4 \
	VPAND        X15, X5, X5 \
	VPUNPCKLBW   X5, X4, X6 \
	VPUNPCKHBW   X5, X4, X7 \
	VPSUBB       X14, X6, X6 \
	VPSUBB       X14, X7, X7 \
	VPMOVSXBD    X6, Y4 \
	VPSHUFD      $0x4e, X6, X6 \
	VPMOVSXBD    X6, Y5 \
	VPMOVSXBD    X7, Y6 \
	VPSHUFD      $0x4e, X7, X7 \
	VPMOVSXBD    X7, Y7 \
	VCVTDQ2PS    Y4, Y4 \
	VCVTDQ2PS    Y5, Y5 \
	VCVTDQ2PS    Y6, Y6 \
	VCVTDQ2PS    Y7, Y7 \
	VMULPS       xo+0(SI), Y4, Y8 \
	VMULPS       xo+32(SI), Y5, Y9 \
	VFMADD231PS  xo+64(SI), Y6, Y8 \
	VFMADD231PS  xo+96(SI), Y7, Y9 \
	VADDPS       Y9, Y8, Y8 \
	VBROADCASTSS so(DX), Y10 \
	VFMADD231PS  Y10, Y8, acc

// func dotQ4AVX2Asm(x *float32, w *uint32, scales *float32, nb int) float32
// nb > 0 blocks of 32 nibbles and one float32 scale each.
TEXT ·dotQ4AVX2Asm(SB), NOSPLIT, $0-36
	MOVQ x+0(FP), SI
	MOVQ w+8(FP), DI
	MOVQ scales+16(FP), DX
	MOVQ nb+24(FP), CX
	ZERO4
	MOVL         $0x0f0f0f0f, AX
	VMOVD        AX, X15
	VPBROADCASTD X15, X15
	MOVL         $0x08080808, AX
	VMOVD        AX, X14
	VPBROADCASTD X14, X14

q4loop2:
	CMPQ CX, $2
	JLT  q4loop1
	PREFETCHT0 PFD(DI)
	Q4BLOCK(0, 0, 0, Y0)
	Q4BLOCK(128, 16, 4, Y1)
	ADDQ $256, SI
	ADDQ $32, DI
	ADDQ $8, DX
	SUBQ $2, CX
	JMP  q4loop2

q4loop1:
	CMPQ CX, $1
	JLT  q4done
	Q4BLOCK(0, 0, 0, Y0)

q4done:
	REDUCE
	VZEROUPPER
	MOVSS X0, ret+32(FP)
	RET

// The x4 kernels below take one weight row against four x rows (beams, or
// the rows of a short prompt), so that each weight is loaded and widened
// once for four products. Their register plan differs from the kernels
// above:
//   SI, R8, R9, R10  the four x rows (R8 = SI + ldx·4 bytes, and so on)
//   DI  w;  DX  block scales;  CX  elements or blocks left;  BX  out
//   Y0–Y3   the four rows' running sums (Y4–Y7 a second set for F32, F16)
//   Y8–Y11  widened weights;  Y12, Y13  a block's sums;  Y14  its scale
// HSUM leaves each sum's eight lanes added in the low lane of its X.

#define HSUM(y, x) \
	VEXTRACTF128 $1, y, X15 \
	VADDPS       X15, x, x \
	VPERMILPS    $0x4e, x, X15 \
	VADDPS       X15, x, x \
	VPERMILPS    $0xb1, x, X15 \
	VADDPS       X15, x, x

#define ROWPTRS \
	SHLQ $2, AX \
	LEAQ (SI)(AX*1), R8 \
	LEAQ (R8)(AX*1), R9 \
	LEAQ (R9)(AX*1), R10

#define STORE4 \
	HSUM(Y0, X0) \
	HSUM(Y1, X1) \
	HSUM(Y2, X2) \
	HSUM(Y3, X3) \
	VZEROUPPER \
	MOVSS X0, 0(BX) \
	MOVSS X1, 4(BX) \
	MOVSS X2, 8(BX) \
	MOVSS X3, 12(BX)

#define ZERO8 \
	ZERO4 \
	VXORPS Y4, Y4, Y4 \
	VXORPS Y5, Y5, Y5 \
	VXORPS Y6, Y6, Y6 \
	VXORPS Y7, Y7, Y7

// FMA4(off, wreg, a0, a1, a2, a3) adds wreg times the eight x at byte
// offset off of each row to that row's sum.
#define FMA4(off, wreg, a0, a1, a2, a3) \
	VFMADD231PS off(SI), wreg, a0 \
	VFMADD231PS off(R8), wreg, a1 \
	VFMADD231PS off(R9), wreg, a2 \
	VFMADD231PS off(R10), wreg, a3

#define ADVANCEX(bytes) \
	ADDQ $bytes, SI \
	ADDQ $bytes, R8 \
	ADDQ $bytes, R9 \
	ADDQ $bytes, R10

#define FOLD8 \
	VADDPS Y4, Y0, Y0 \
	VADDPS Y5, Y1, Y1 \
	VADDPS Y6, Y2, Y2 \
	VADDPS Y7, Y3, Y3

// func dotF32x4AVX2Asm(x *float32, ldx int, w *float32, n int, out *[4]float32)
// n is a multiple of 8.
TEXT ·dotF32x4AVX2Asm(SB), NOSPLIT, $0-40
	MOVQ x+0(FP), SI
	MOVQ ldx+8(FP), AX
	MOVQ w+16(FP), DI
	MOVQ n+24(FP), CX
	MOVQ out+32(FP), BX
	ROWPTRS
	ZERO8

f32x4loop16:
	CMPQ    CX, $16
	JLT     f32x4loop8
	PREFETCHT0 PFD(DI)
	VMOVUPS 0(DI), Y8
	VMOVUPS 32(DI), Y9
	FMA4(0, Y8, Y0, Y1, Y2, Y3)
	FMA4(32, Y9, Y4, Y5, Y6, Y7)
	ADVANCEX(64)
	ADDQ    $64, DI
	SUBQ    $16, CX
	JMP     f32x4loop16

f32x4loop8:
	CMPQ    CX, $8
	JLT     f32x4done
	VMOVUPS 0(DI), Y8
	FMA4(0, Y8, Y0, Y1, Y2, Y3)

f32x4done:
	FOLD8
	STORE4
	RET

// func dotF16x4AVX2Asm(x *float32, ldx int, w *uint32, n int, out *[4]float32)
// n (halves) is a multiple of 8.
TEXT ·dotF16x4AVX2Asm(SB), NOSPLIT, $0-40
	MOVQ x+0(FP), SI
	MOVQ ldx+8(FP), AX
	MOVQ w+16(FP), DI
	MOVQ n+24(FP), CX
	MOVQ out+32(FP), BX
	ROWPTRS
	ZERO8

f16x4loop16:
	CMPQ      CX, $16
	JLT       f16x4loop8
	PREFETCHT0 PFD(DI)
	VCVTPH2PS 0(DI), Y8
	VCVTPH2PS 16(DI), Y9
	FMA4(0, Y8, Y0, Y1, Y2, Y3)
	FMA4(32, Y9, Y4, Y5, Y6, Y7)
	ADVANCEX(64)
	ADDQ      $32, DI
	SUBQ      $16, CX
	JMP       f16x4loop16

f16x4loop8:
	CMPQ      CX, $8
	JLT       f16x4done
	VCVTPH2PS 0(DI), Y8
	FMA4(0, Y8, Y0, Y1, Y2, Y3)

f16x4done:
	FOLD8
	STORE4
	RET

// QROW adds the scaled sum of one widened block (Y8–Y11) times the 32 x at
// ptr to acc, as Q8BLOCK does for one row.
#define QROW(ptr, acc) \
	VMULPS      0(ptr), Y8, Y12 \
	VMULPS      32(ptr), Y9, Y13 \
	VFMADD231PS 64(ptr), Y10, Y12 \
	VFMADD231PS 96(ptr), Y11, Y13 \
	VADDPS      Y13, Y12, Y12 \
	VFMADD231PS Y14, Y12, acc

#define QROWS4 \
	VBROADCASTSS (DX), Y14 \
	QROW(SI, Y0) \
	QROW(R8, Y1) \
	QROW(R9, Y2) \
	QROW(R10, Y3) \
	ADVANCEX(128) \
	ADDQ $4, DX

// func dotQ8x4AVX2Asm(x *float32, ldx int, w *uint32, scales *float32, nb int, out *[4]float32)
// nb > 0 blocks.
TEXT ·dotQ8x4AVX2Asm(SB), NOSPLIT, $0-48
	MOVQ x+0(FP), SI
	MOVQ ldx+8(FP), AX
	MOVQ w+16(FP), DI
	MOVQ scales+24(FP), DX
	MOVQ nb+32(FP), CX
	MOVQ out+40(FP), BX
	ROWPTRS
	ZERO4

q8x4loop:
	PREFETCHT0 PFD(DI)
	VPMOVSXBD 0(DI), Y8
	VPMOVSXBD 8(DI), Y9
	VPMOVSXBD 16(DI), Y10
	VPMOVSXBD 24(DI), Y11
	VCVTDQ2PS Y8, Y8
	VCVTDQ2PS Y9, Y9
	VCVTDQ2PS Y10, Y10
	VCVTDQ2PS Y11, Y11
	QROWS4
	ADDQ      $32, DI
	DECQ      CX
	JNE       q8x4loop

	STORE4
	RET

// func dotQ4x4AVX2Asm(x *float32, ldx int, w *uint32, scales *float32, nb int, out *[4]float32)
// nb > 0 blocks; the nibbles are widened as in Q4BLOCK.
TEXT ·dotQ4x4AVX2Asm(SB), NOSPLIT, $0-48
	MOVQ         x+0(FP), SI
	MOVQ         ldx+8(FP), AX
	MOVQ         w+16(FP), DI
	MOVQ         scales+24(FP), DX
	MOVQ         nb+32(FP), CX
	MOVQ         out+40(FP), BX
	ROWPTRS
	ZERO4
	MOVL         $0x0f0f0f0f, AX
	VMOVD        AX, X15
	VPBROADCASTD X15, X15
	MOVL         $0x08080808, AX
	VMOVD        AX, X7
	VPBROADCASTD X7, X7

q4x4loop:
	PREFETCHT0 PFD(DI)
	VMOVDQU    0(DI), X4
	VPSRLW     $4, X4, X5
	VPAND      X15, X4, X4
	VPAND      X15, X5, X5
	VPUNPCKLBW X5, X4, X6
	VPUNPCKHBW X5, X4, X4
	VPSUBB     X7, X6, X6
	VPSUBB     X7, X4, X4
	VPMOVSXBD  X6, Y8
	VPSHUFD    $0x4e, X6, X6
	VPMOVSXBD  X6, Y9
	VPMOVSXBD  X4, Y10
	VPSHUFD    $0x4e, X4, X4
	VPMOVSXBD  X4, Y11
	VCVTDQ2PS  Y8, Y8
	VCVTDQ2PS  Y9, Y9
	VCVTDQ2PS  Y10, Y10
	VCVTDQ2PS  Y11, Y11
	QROWS4
	ADDQ       $16, DI
	DECQ       CX
	JNE        q4x4loop

	STORE4
	RET

// The Q4K kernel decodes the scales and mins of each super-block in Go
// (sm: eight scales, then eight mins) and forms each weight's value,
// scale·q − min, with one fused multiply-subtract, then multiplies it by x
// (as the x4 kernel below does; the fused rounding is within the error
// bound of dotQ4K's scaling of whole sums, optest's Q4K bound). Each
// 64-element chunk of a super-block is 32 bytes: byte i holds element i of
// the even sub-block in its low nibble and of the odd one in its high
// nibble, so widening eight bytes to dwords gives eight consecutive
// elements of both.
// Register plan:
//   SI  x;  DI  the super-block (its nibbles start at byte 16);  DX  sm
//   CX  super-blocks left
//   Y0, Y1  running sums of even and odd sub-blocks (Y2, Y3 for the odd
//           eighths of each chunk, so that four FMA chains run at once)
//   Y4, Y5  eight weights of the even and odd sub-block;  Y6  dwords of 15
//   Y8, Y9  the even and odd sub-blocks' scales;  Y10, Y11  their mins

// Q4KPART adds eight elements of both sub-blocks of a chunk: nibble bytes
// at qo(DI), x at xl(SI) and xh(SI), to a (even) and b (odd).
#define Q4KPART(qo, xl, xh, a, b) \
	VPMOVZXBD   qo(DI), Y4 \
	VPSRLD      $4, Y4, Y5 \
	VPAND       Y6, Y4, Y4 \
	VCVTDQ2PS   Y4, Y4 \
	VCVTDQ2PS   Y5, Y5 \
	VFMSUB213PS Y10, Y8, Y4 \
	VFMSUB213PS Y11, Y9, Y5 \
	VFMADD231PS xl(SI), Y4, a \
	VFMADD231PS xh(SI), Y5, b

// Q4KCHUNK adds one 64-element chunk: nibbles at qo, x at xl (even
// sub-block) and xh (odd), scales at sl, sh and mins at ml, mh (bytes of
// sm).
#define Q4KCHUNK(qo, xl, xh, sl, sh, ml, mh) \
	VBROADCASTSS sl(DX), Y8 \
	VBROADCASTSS sh(DX), Y9 \
	VBROADCASTSS ml(DX), Y10 \
	VBROADCASTSS mh(DX), Y11 \
	Q4KPART(qo, xl, xh, Y0, Y1) \
	Q4KPART(qo+8, xl+32, xh+32, Y2, Y3) \
	Q4KPART(qo+16, xl+64, xh+64, Y0, Y1) \
	Q4KPART(qo+24, xl+96, xh+96, Y2, Y3)

// func dotQ4KAVX2Asm(x *float32, w *uint32, sm *float32, nsb int) float32
// nsb > 0 super-blocks of 256 elements (36 words each).
TEXT ·dotQ4KAVX2Asm(SB), NOSPLIT, $0-36
	MOVQ         x+0(FP), SI
	MOVQ         w+8(FP), DI
	MOVQ         sm+16(FP), DX
	MOVQ         nsb+24(FP), CX
	ZERO4
	MOVL         $15, AX
	VMOVD        AX, X6
	VPBROADCASTD X6, Y6

q4kloop:
	PREFETCHT0 PFD(DI)
	PREFETCHT0 (PFD+64)(DI)
	PREFETCHT0 (PFD+128)(DI)
	Q4KCHUNK(16, 0, 128, 0, 4, 32, 36)
	Q4KCHUNK(48, 256, 384, 8, 12, 40, 44)
	Q4KCHUNK(80, 512, 640, 16, 20, 48, 52)
	Q4KCHUNK(112, 768, 896, 24, 28, 56, 60)
	ADDQ $1024, SI
	ADDQ $144, DI
	ADDQ $64, DX
	DECQ CX
	JNE  q4kloop

	REDUCE
	VZEROUPPER
	MOVSS X0, ret+32(FP)
	RET

// The Q4K x4 kernel widens each weight once for four x rows: its value,
// scale·q − min, formed as in the one-row kernel, is shared by the four.
// Register plan:
//   SI, R8, R9, R10  the four x rows;  DI  the super-block;  DX  sm
//   CX  super-blocks left;  BX  out
//   Y0–Y3   the rows' sums over even sub-blocks;  Y12–Y15  over odd ones
//   Y4, Y5  eight weights of the even and odd sub-block;  Y6  dwords of 15
//   Y8, Y9  the even and odd sub-blocks' scales;  Y10, Y11  their mins

#define Q4KX4PART(qo, xl, xh) \
	VPMOVZXBD   qo(DI), Y4 \
	VPSRLD      $4, Y4, Y5 \
	VPAND       Y6, Y4, Y4 \
	VCVTDQ2PS   Y4, Y4 \
	VCVTDQ2PS   Y5, Y5 \
	VFMSUB213PS Y10, Y8, Y4 \
	VFMSUB213PS Y11, Y9, Y5 \
	FMA4(xl, Y4, Y0, Y1, Y2, Y3) \
	FMA4(xh, Y5, Y12, Y13, Y14, Y15)

#define Q4KX4CHUNK(qo, xl, xh, sl, sh, ml, mh) \
	VBROADCASTSS sl(DX), Y8 \
	VBROADCASTSS sh(DX), Y9 \
	VBROADCASTSS ml(DX), Y10 \
	VBROADCASTSS mh(DX), Y11 \
	Q4KX4PART(qo, xl, xh) \
	Q4KX4PART(qo+8, xl+32, xh+32) \
	Q4KX4PART(qo+16, xl+64, xh+64) \
	Q4KX4PART(qo+24, xl+96, xh+96)

// func dotQ4Kx4AVX2Asm(x *float32, ldx int, w *uint32, sm *float32, nsb int, out *[4]float32)
// nsb > 0 super-blocks.
TEXT ·dotQ4Kx4AVX2Asm(SB), NOSPLIT, $0-48
	MOVQ         x+0(FP), SI
	MOVQ         ldx+8(FP), AX
	MOVQ         w+16(FP), DI
	MOVQ         sm+24(FP), DX
	MOVQ         nsb+32(FP), CX
	MOVQ         out+40(FP), BX
	ROWPTRS
	ZERO4
	VXORPS       Y12, Y12, Y12
	VXORPS       Y13, Y13, Y13
	VXORPS       Y14, Y14, Y14
	VXORPS       Y15, Y15, Y15
	MOVL         $15, AX
	VMOVD        AX, X6
	VPBROADCASTD X6, Y6

q4kx4loop:
	PREFETCHT0 PFD(DI)
	PREFETCHT0 (PFD+64)(DI)
	PREFETCHT0 (PFD+128)(DI)
	Q4KX4CHUNK(16, 0, 128, 0, 4, 32, 36)
	Q4KX4CHUNK(48, 256, 384, 8, 12, 40, 44)
	Q4KX4CHUNK(80, 512, 640, 16, 20, 48, 52)
	Q4KX4CHUNK(112, 768, 896, 24, 28, 56, 60)
	ADVANCEX(1024)
	ADDQ $144, DI
	ADDQ $64, DX
	DECQ CX
	JNE  q4kx4loop

	VADDPS Y12, Y0, Y0
	VADDPS Y13, Y1, Y1
	VADDPS Y14, Y2, Y2
	VADDPS Y15, Y3, Y3
	STORE4
	RET

// BF16LOAD widens eight bfloat16 at off(DI) into reg: zero-extended to 32
// bits and shifted into a float32's high half, which is what a bfloat16 is.
#define BF16LOAD(off, reg) \
	VPMOVZXWD off(DI), reg \
	VPSLLD    $16, reg, reg

// func dotBF16AVX2Asm(x *float32, w *uint32, n int) float32
// n (bfloat16 values) is a multiple of 8; the layout of dotF16AVX2Asm.
TEXT ·dotBF16AVX2Asm(SB), NOSPLIT, $0-28
	MOVQ x+0(FP), SI
	MOVQ w+8(FP), DI
	MOVQ n+16(FP), CX
	ZERO4

bf16loop32:
	CMPQ        CX, $32
	JLT         bf16loop8
	PREFETCHT0 PFD(DI)
	BF16LOAD(0, Y4)
	BF16LOAD(16, Y5)
	BF16LOAD(32, Y6)
	BF16LOAD(48, Y7)
	VFMADD231PS 0(SI), Y4, Y0
	VFMADD231PS 32(SI), Y5, Y1
	VFMADD231PS 64(SI), Y6, Y2
	VFMADD231PS 96(SI), Y7, Y3
	ADDQ        $128, SI
	ADDQ        $64, DI
	SUBQ        $32, CX
	JMP         bf16loop32

bf16loop8:
	CMPQ        CX, $8
	JLT         bf16done
	BF16LOAD(0, Y4)
	VFMADD231PS 0(SI), Y4, Y0
	ADDQ        $32, SI
	ADDQ        $16, DI
	SUBQ        $8, CX
	JMP         bf16loop8

bf16done:
	REDUCE
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// func dotBF16x4AVX2Asm(x *float32, ldx int, w *uint32, n int, out *[4]float32)
// n (bfloat16 values) is a multiple of 8; the layout of dotF16x4AVX2Asm.
TEXT ·dotBF16x4AVX2Asm(SB), NOSPLIT, $0-40
	MOVQ x+0(FP), SI
	MOVQ ldx+8(FP), AX
	MOVQ w+16(FP), DI
	MOVQ n+24(FP), CX
	MOVQ out+32(FP), BX
	ROWPTRS
	ZERO8

bf16x4loop16:
	CMPQ      CX, $16
	JLT       bf16x4loop8
	BF16LOAD(0, Y8)
	BF16LOAD(16, Y9)
	FMA4(0, Y8, Y0, Y1, Y2, Y3)
	FMA4(32, Y9, Y4, Y5, Y6, Y7)
	ADVANCEX(64)
	ADDQ      $32, DI
	SUBQ      $16, CX
	JMP       bf16x4loop16

bf16x4loop8:
	CMPQ      CX, $8
	JLT       bf16x4done
	BF16LOAD(0, Y8)
	FMA4(0, Y8, Y0, Y1, Y2, Y3)

bf16x4done:
	FOLD8
	STORE4
	RET
