//go:build amd64 && !purego

// Float32 to F16, two halves per word, low half first: a decoder's keys and
// values on their way into an F16 cache (SplitQKV), 8 values per
// VCVTPS2PH. Immediate 0 rounds to nearest even whatever MXCSR says, as
// compute.Float32ToHalf does; Go never sets MXCSR's DAZ or FTZ, so
// subnormals convert exactly as there, and a NaN keeps its payload's top
// bits and gains the quiet bit, also as there. n is a multiple of 8.
// Register plan: DI dst, SI src, CX values left.

#include "textflag.h"

// func halvesAVX2Asm(dst *uint32, src *float32, n int)
TEXT ·halvesAVX2Asm(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX

hvloop32:
	CMPQ      CX, $32
	JLT       hvloop8
	VMOVUPS   0(SI), Y0
	VMOVUPS   32(SI), Y1
	VMOVUPS   64(SI), Y2
	VMOVUPS   96(SI), Y3
	VCVTPS2PH $0, Y0, 0(DI)
	VCVTPS2PH $0, Y1, 16(DI)
	VCVTPS2PH $0, Y2, 32(DI)
	VCVTPS2PH $0, Y3, 48(DI)
	ADDQ      $128, SI
	ADDQ      $64, DI
	SUBQ      $32, CX
	JMP       hvloop32

hvloop8:
	CMPQ      CX, $8
	JLT       hvdone
	VMOVUPS   0(SI), Y0
	VCVTPS2PH $0, Y0, 0(DI)
	ADDQ      $32, SI
	ADDQ      $16, DI
	SUBQ      $8, CX
	JMP       hvloop8

hvdone:
	VZEROUPPER
	RET
