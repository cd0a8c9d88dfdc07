//go:build amd64 && !purego

// AVX-512 (F, BW) variants of the Q8 and Q4 one-row kernels of
// vec_amd64.s: sixteen lanes halve the widening work per weight, which is
// what bounds these two formats once the weights stream from memory
// (BenchmarkCPUVecKernels). The other kernels gain nothing measurable from
// 512-bit vectors, so the AVX-512 set keeps their AVX2 versions.
//
// Register plan:
//   SI  x;  DI  w;  DX  block scales;  CX  blocks left
//   Z0, Z1  running sums (even and odd blocks, so that the scale FMA of
//           one block need not wait for the previous one's)
//   Z4, Z5  a block's 32 weights widened to floats (elements 0–15, 16–31)
//   Z8, Z9  the block's products;  Z10  its scale, broadcast
//   X4–X7   Q4 nibbles being unpacked;  X14, X15  bytes of 8 and 0x0f
// The sums are added to one 8-lane Y0 and reduced as the AVX2 kernels do.

#include "textflag.h"

// ZREDUCE leaves Z0+Z1, summed over its sixteen lanes, in X0.
#define ZREDUCE \
	VADDPS        Z1, Z0, Z0 \
	VEXTRACTF32X8 $1, Z0, Y1 \
	VADDPS        Y1, Y0, Y0 \
	VEXTRACTF128  $1, Y0, X1 \
	VADDPS        X1, X0, X0 \
	VPERMILPS     $0x4e, X0, X1 \
	VADDPS        X1, X0, X0 \
	VPERMILPS     $0xb1, X0, X1 \
	VADDPS        X1, X0, X0

// ZBLOCK adds scale·Σ x·q for the widened block in Z4, Z5 to acc (x at
// xo(SI), the scale at so(DX)).
#define ZBLOCK(xo, so, acc) \
	VCVTDQ2PS    Z4, Z4 \
	VCVTDQ2PS    Z5, Z5 \
	VMULPS       xo+0(SI), Z4, Z8 \
	VMULPS       xo+64(SI), Z5, Z9 \
	VADDPS       Z9, Z8, Z8 \
	VBROADCASTSS so(DX), Z10 \
	VFMADD231PS  Z10, Z8, acc

#define Q8Z(xo, wo, so, acc) \
	VPMOVSXBD wo+0(DI), Z4 \
	VPMOVSXBD wo+16(DI), Z5 \
	ZBLOCK(xo, so, acc)

// func dotQ8AVX512Asm(x *float32, w *uint32, scales *float32, nb int) float32
// nb > 0 blocks.
TEXT ·dotQ8AVX512Asm(SB), NOSPLIT, $0-36
	MOVQ   x+0(FP), SI
	MOVQ   w+8(FP), DI
	MOVQ   scales+16(FP), DX
	MOVQ   nb+24(FP), CX
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1

q8zloop2:
	CMPQ CX, $2
	JLT  q8zloop1
	Q8Z(0, 0, 0, Z0)
	Q8Z(128, 32, 4, Z1)
	ADDQ $256, SI
	ADDQ $64, DI
	ADDQ $8, DX
	SUBQ $2, CX
	JMP  q8zloop2

q8zloop1:
	CMPQ CX, $1
	JLT  q8zdone
	Q8Z(0, 0, 0, Z0)

q8zdone:
	ZREDUCE
	VZEROUPPER
	MOVSS X0, ret+32(FP)
	RET

// Q4Z splits a block's 16 bytes of nibbles into its 32 elements in order
// (as Q4BLOCK does), offset by −8, then widens them sixteen at a time.
#define Q4Z(xo, wo, so, acc) \
	VMOVDQU    wo(DI), X4 \
	VPSRLW     $4, X4, X5 \
	VPAND      X15, X4, X4 \
	VPAND      X15, X5, X5 \
	VPUNPCKLBW X5, X4, X6 \
	VPUNPCKHBW X5, X4, X7 \
	VPSUBB     X14, X6, X6 \
	VPSUBB     X14, X7, X7 \
	VPMOVSXBD  X6, Z4 \
	VPMOVSXBD  X7, Z5 \
	ZBLOCK(xo, so, acc)

// func dotQ4AVX512Asm(x *float32, w *uint32, scales *float32, nb int) float32
// nb > 0 blocks.
TEXT ·dotQ4AVX512Asm(SB), NOSPLIT, $0-36
	MOVQ         x+0(FP), SI
	MOVQ         w+8(FP), DI
	MOVQ         scales+16(FP), DX
	MOVQ         nb+24(FP), CX
	VXORPS       Z0, Z0, Z0
	VXORPS       Z1, Z1, Z1
	MOVL         $0x0f0f0f0f, AX
	VMOVD        AX, X15
	VPBROADCASTD X15, X15
	MOVL         $0x08080808, AX
	VMOVD        AX, X14
	VPBROADCASTD X14, X14

q4zloop2:
	CMPQ CX, $2
	JLT  q4zloop1
	Q4Z(0, 0, 0, Z0)
	Q4Z(128, 16, 4, Z1)
	ADDQ $256, SI
	ADDQ $32, DI
	ADDQ $8, DX
	SUBQ $2, CX
	JMP  q4zloop2

q4zloop1:
	CMPQ CX, $1
	JLT  q4zdone
	Q4Z(0, 0, 0, Z0)

q4zdone:
	ZREDUCE
	VZEROUPPER
	MOVSS X0, ret+32(FP)
	RET
