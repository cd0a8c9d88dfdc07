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

// func dotF16AVX2Asm(x *float32, w *uint32, n int) float32
// n (halves) is a multiple of 8; VCVTPH2PS widens eight halves at a time.
TEXT ·dotF16AVX2Asm(SB), NOSPLIT, $0-28
	MOVQ x+0(FP), SI
	MOVQ w+8(FP), DI
	MOVQ n+16(FP), CX
	ZERO4

f16loop32:
	CMPQ        CX, $32
	JLT         f16loop8
	VCVTPH2PS   0(DI), Y4
	VCVTPH2PS   16(DI), Y5
	VCVTPH2PS   32(DI), Y6
	VCVTPH2PS   48(DI), Y7
	VFMADD231PS 0(SI), Y4, Y0
	VFMADD231PS 32(SI), Y5, Y1
	VFMADD231PS 64(SI), Y6, Y2
	VFMADD231PS 96(SI), Y7, Y3
	ADDQ        $128, SI
	ADDQ        $64, DI
	SUBQ        $32, CX
	JMP         f16loop32

f16loop8:
	CMPQ        CX, $8
	JLT         f16done
	VCVTPH2PS   0(DI), Y4
	VFMADD231PS 0(SI), Y4, Y0
	ADDQ        $32, SI
	ADDQ        $16, DI
	SUBQ        $8, CX
	JMP         f16loop8

f16done:
	REDUCE
	VZEROUPPER
	MOVSS X0, ret+24(FP)
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
