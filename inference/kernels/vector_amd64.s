//go:build amd64

#include "textflag.h"

// Vector operations of a transformer layer, AVX2 + FMA: weighted sums of
// value rows, and the bandwidth probe.

// func wsum4AVX2(out *float32, a *float32, v *float32, vs int, np int)
TEXT ·wsum4AVX2(SB), NOSPLIT, $0-40
	MOVQ    out+0(FP), DI
	MOVQ    a+8(FP), DX
	MOVQ    v+16(FP), SI
	MOVQ    vs+24(FP), R8
	MOVQ    np+32(FP), CX
	VMOVUPS (DI), Y0
	VMOVUPS 32(DI), Y1
	VMOVUPS 64(DI), Y2
	VMOVUPS 96(DI), Y3
	TESTQ   CX, CX
	JZ      ws4done

ws4loop:
	VBROADCASTSS (DX), Y4
	VFMADD231PS  (SI), Y4, Y0
	VFMADD231PS  32(SI), Y4, Y1
	VFMADD231PS  64(SI), Y4, Y2
	VFMADD231PS  96(SI), Y4, Y3
	ADDQ         $4, DX
	ADDQ         R8, SI
	DECQ         CX
	JNZ          ws4loop

ws4done:
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	VZEROUPPER
	RET

// func wsum1AVX2(out *float32, a *float32, v *float32, vs int, np int)
TEXT ·wsum1AVX2(SB), NOSPLIT, $0-40
	MOVQ    out+0(FP), DI
	MOVQ    a+8(FP), DX
	MOVQ    v+16(FP), SI
	MOVQ    vs+24(FP), R8
	MOVQ    np+32(FP), CX
	VMOVUPS (DI), Y0
	TESTQ   CX, CX
	JZ      ws1done

ws1loop:
	VBROADCASTSS (DX), Y4
	VFMADD231PS  (SI), Y4, Y0
	ADDQ         $4, DX
	ADDQ         R8, SI
	DECQ         CX
	JNZ          ws1loop

ws1done:
	VMOVUPS Y0, (DI)
	VZEROUPPER
	RET

// func streamSumAVX2(p *byte, n int) uint64
// Reads n bytes (a multiple of 128) as fast as the core can; used to
// measure memory bandwidth.
TEXT ·streamSumAVX2(SB), NOSPLIT, $0-24
	MOVQ  p+0(FP), SI
	MOVQ  n+8(FP), CX
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	VPXOR Y2, Y2, Y2
	VPXOR Y3, Y3, Y3
	TESTQ CX, CX
	JZ    ssdone

ssloop:
	VPADDQ (SI), Y0, Y0
	VPADDQ 32(SI), Y1, Y1
	VPADDQ 64(SI), Y2, Y2
	VPADDQ 96(SI), Y3, Y3
	ADDQ   $128, SI
	SUBQ   $128, CX
	JNZ    ssloop

ssdone:
	VPADDQ       Y1, Y0, Y0
	VPADDQ       Y3, Y2, Y2
	VPADDQ       Y2, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPADDQ       X1, X0, X0
	VPSHUFD      $0x4e, X0, X1
	VPADDQ       X1, X0, X0
	VMOVQ        X0, AX
	VZEROUPPER
	MOVQ         AX, ret+16(FP)
	RET

// The AVX-512 weighted sums: 64 (wsum4) or 16 (wsum1) outputs per pass,
// with wsum4AVX2's arithmetic per output.

// func wsum4AVX512(out *float32, a *float32, v *float32, vs int, np int)
TEXT ·wsum4AVX512(SB), NOSPLIT, $0-40
	MOVQ      out+0(FP), DI
	MOVQ      a+8(FP), DX
	MOVQ      v+16(FP), SI
	MOVQ      vs+24(FP), R8
	MOVQ      np+32(FP), CX
	VMOVUPS   (DI), Z0
	VMOVUPS   64(DI), Z1
	VMOVUPS   128(DI), Z2
	VMOVUPS   192(DI), Z3
	TESTQ     CX, CX
	JZ        ws4zdone

ws4zloop:
	VBROADCASTSS (DX), Z4
	VFMADD231PS  (SI), Z4, Z0
	VFMADD231PS  64(SI), Z4, Z1
	VFMADD231PS  128(SI), Z4, Z2
	VFMADD231PS  192(SI), Z4, Z3
	ADDQ         $4, DX
	ADDQ         R8, SI
	DECQ         CX
	JNZ          ws4zloop

ws4zdone:
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)
	VZEROUPPER
	RET

// func wsum1AVX512(out *float32, a *float32, v *float32, vs int, np int)
TEXT ·wsum1AVX512(SB), NOSPLIT, $0-40
	MOVQ    out+0(FP), DI
	MOVQ    a+8(FP), DX
	MOVQ    v+16(FP), SI
	MOVQ    vs+24(FP), R8
	MOVQ    np+32(FP), CX
	VMOVUPS (DI), Z0
	TESTQ   CX, CX
	JZ      ws1zdone

ws1zloop:
	VBROADCASTSS (DX), Z4
	VFMADD231PS  (SI), Z4, Z0
	ADDQ         $4, DX
	ADDQ         R8, SI
	DECQ         CX
	JNZ          ws1zloop

ws1zdone:
	VMOVUPS Z0, (DI)
	VZEROUPPER
	RET
