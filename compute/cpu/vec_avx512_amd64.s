//go:build amd64 && !purego

// An AVX-512 variant of the Q8 one-row kernel of vec_amd64.s: sixteen
// lanes halve the widening work per weight, which bounds Q8 once the
// weights come from cache (BenchmarkCPUVecKernels: 0.045 against 0.050
// ns/weight, best of five). A Q4 variant gained 1 %, within the noise, and
// was dropped; F32 and F16 variants were not written, their AVX2 kernels
// (0.032 and 0.038 ns/weight in cache) being far faster than memory feeds
// them. So the AVX-512 set keeps the AVX2 versions of all but Q8. Every
// instruction here is AVX-512 F (VEXTRACTF64X4, not the DQ VEXTRACTF32X8).
//
// Register plan:
//   SI  x;  DI  w;  DX  block scales;  CX  blocks left
//   Z0, Z1  running sums (even and odd blocks, so that the scale FMA of
//           one block need not wait for the previous one's)
//   Z4, Z5  a block's 32 weights widened to floats (elements 0–15, 16–31)
//   Z8, Z9  the block's products;  Z10  its scale, broadcast
// The sums are added to one 8-lane Y0 and reduced as the AVX2 kernels do.

#include "textflag.h"

// ZREDUCE leaves Z0+Z1, summed over its sixteen lanes, in X0.
#define ZREDUCE \
	VADDPS        Z1, Z0, Z0 \
	VEXTRACTF64X4 $1, Z0, Y1 \
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
	PREFETCHT0 8192(DI)
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
