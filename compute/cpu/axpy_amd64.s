//go:build amd64 && !purego

// dst += a·v, the accumulation of attention's weighted values (each query
// adds every key's value row, scaled by its probability): with F32 values
// for the encoders, F16 for a decoder's cache. n is a multiple of 8.
// Register plan: DI dst, SI v, CX elements left, Y15 a broadcast.

#include "textflag.h"

// func axpyF32AVX2Asm(dst *float32, a float32, v *float32, n int)
TEXT ·axpyF32AVX2Asm(SB), NOSPLIT, $0-32
	MOVQ         dst+0(FP), DI
	VBROADCASTSS a+8(FP), Y15
	MOVQ         v+16(FP), SI
	MOVQ         n+24(FP), CX

axf32loop32:
	CMPQ        CX, $32
	JLT         axf32loop8
	VMOVUPS     0(DI), Y0
	VMOVUPS     32(DI), Y1
	VMOVUPS     64(DI), Y2
	VMOVUPS     96(DI), Y3
	VFMADD231PS 0(SI), Y15, Y0
	VFMADD231PS 32(SI), Y15, Y1
	VFMADD231PS 64(SI), Y15, Y2
	VFMADD231PS 96(SI), Y15, Y3
	VMOVUPS     Y0, 0(DI)
	VMOVUPS     Y1, 32(DI)
	VMOVUPS     Y2, 64(DI)
	VMOVUPS     Y3, 96(DI)
	ADDQ        $128, DI
	ADDQ        $128, SI
	SUBQ        $32, CX
	JMP         axf32loop32

axf32loop8:
	CMPQ        CX, $8
	JLT         axf32done
	VMOVUPS     0(DI), Y0
	VFMADD231PS 0(SI), Y15, Y0
	VMOVUPS     Y0, 0(DI)
	ADDQ        $32, DI
	ADDQ        $32, SI
	SUBQ        $8, CX
	JMP         axf32loop8

axf32done:
	VZEROUPPER
	RET

// AXF16 is axpyF16AVX2Asm's loop: dst at DI, CX halves (a multiple of
// 8) at SI, a in Y15; the labels are the caller's. It prefetches the
// halves 8 KB ahead, where a Vicuna-7B cache holds the same head's values
// at the next position (attention walks positions).
#define AXF16(l32, l8, done) \
l32: \
	CMPQ        CX, $32 \
	JLT         l8 \
	PREFETCHT0  8192(SI) \
	VCVTPH2PS   0(SI), Y4 \
	VCVTPH2PS   16(SI), Y5 \
	VCVTPH2PS   32(SI), Y6 \
	VCVTPH2PS   48(SI), Y7 \
	VMOVUPS     0(DI), Y0 \
	VMOVUPS     32(DI), Y1 \
	VMOVUPS     64(DI), Y2 \
	VMOVUPS     96(DI), Y3 \
	VFMADD231PS Y4, Y15, Y0 \
	VFMADD231PS Y5, Y15, Y1 \
	VFMADD231PS Y6, Y15, Y2 \
	VFMADD231PS Y7, Y15, Y3 \
	VMOVUPS     Y0, 0(DI) \
	VMOVUPS     Y1, 32(DI) \
	VMOVUPS     Y2, 64(DI) \
	VMOVUPS     Y3, 96(DI) \
	ADDQ        $128, DI \
	ADDQ        $64, SI \
	SUBQ        $32, CX \
	JMP         l32 \
l8: \
	CMPQ        CX, $8 \
	JLT         done \
	VCVTPH2PS   0(SI), Y4 \
	VMOVUPS     0(DI), Y0 \
	VFMADD231PS Y4, Y15, Y0 \
	VMOVUPS     Y0, 0(DI) \
	ADDQ        $32, DI \
	ADDQ        $16, SI \
	SUBQ        $8, CX \
	JMP         l8 \
done:

// func axpyF16AVX2Asm(dst *float32, a float32, v *uint32, n int)
// v holds n halves.
TEXT ·axpyF16AVX2Asm(SB), NOSPLIT, $0-32
	MOVQ         dst+0(FP), DI
	VBROADCASTSS a+8(FP), Y15
	MOVQ         v+16(FP), SI
	MOVQ         n+24(FP), CX
	AXF16(axf16loop32, axf16loop8, axf16done)
	VZEROUPPER
	RET

// func axpyF16HeadsAVX2Asm(dst *float32, p *float32, stride int, v *uint32, d, heads int)
// dst_h += p[h·stride] · v_h for a block of heads at one cached position
// (stride in bytes), each head as axpyF16AVX2Asm; d is a multiple of 8.
TEXT ·axpyF16HeadsAVX2Asm(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ p+8(FP), R12
	MOVQ stride+16(FP), R13
	MOVQ v+24(FP), SI
	MOVQ d+32(FP), R11
	MOVQ heads+40(FP), BX

axhloop:
	VBROADCASTSS (R12), Y15
	MOVQ         R11, CX
	AXF16(axhloop32, axhloop8, axhnext)
	ADDQ R13, R12
	DECQ BX
	JNZ  axhloop
	VZEROUPPER
	RET
