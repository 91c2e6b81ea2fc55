//go:build amd64

#include "textflag.h"
#include "reduce_amd64.h"

// Attention over half-float rows. Each kernel is one of float512_amd64.s
// (dotF32AVX512, rows4F32AVX512) or vector_amd64.s (the weighted sums)
// with every load of a key or value a VCVTPH2PS, which is exact: the same
// lanes, multiply-adds in the same order and the same reduction, so the
// same bits as the float32 kernel over the converted rows. Lengths n are
// multiples of 8.

#define FOLD(zz, yy, yt) \
	VEXTRACTF64X4 $1, zz, yt \
	VADDPS        yt, yy, yy

#define MASK8 \
	MOVL  $0xff, AX \
	KMOVW AX, K1

// func dotH16AVX512(w *uint16, x *float32, n int) float32
TEXT ·dotH16AVX512(SB), NOSPLIT, $0-28
	MOVQ   w+0(FP), SI
	MOVQ   x+8(FP), DI
	MOVQ   n+16(FP), CX
	MASK8
	VXORPS Z0, Z0, Z0

hd16:
	CMPQ        CX, $16
	JLT         hdtail
	VCVTPH2PS   (SI), Z4
	VFMADD231PS (DI), Z4, Z0
	ADDQ        $32, SI
	ADDQ        $64, DI
	SUBQ        $16, CX
	JMP         hd16

hdtail:
	TESTQ       CX, CX
	JZ          hddone
	VCVTPH2PS   (SI), Y4
	VMOVUPS     (DI), Y5
	VFMADD231PS Z5, Z4, K1, Z0

hddone:
	FOLD(Z0, Y0, Y1)
	HSUM1
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// func rowsH16AVX512(w *uint16, rb int, x *float32, n int, out *float32, rows int)
// rows rows (a multiple of 4) rb bytes apart times one vector, four rows at
// a time as rows4F32AVX512 does, out[r] for row r; R11 prefetches the
// next four rows.
TEXT ·rowsH16AVX512(SB), NOSPLIT, $0-48
	MASK8
	MOVQ   w+0(FP), SI
	MOVQ   rb+8(FP), R9
	MOVQ   out+32(FP), AX
	MOVQ   rows+40(FP), BX
	SHRQ   $2, BX
	JZ     hrend
	LEAQ   (R9)(R9*2), R10

hrrow:
	MOVQ   x+16(FP), DI
	MOVQ   n+24(FP), CX
	LEAQ   (SI)(R9*4), R11
	MOVQ   R11, DX
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3

hr16:
	CMPQ        CX, $16
	JLT         hrtail
	PREFETCHT0  (R11)
	PREFETCHT0  64(R11)
	ADDQ        $128, R11
	VMOVUPS     (DI), Z4
	VCVTPH2PS   (SI), Z5
	VCVTPH2PS   (SI)(R9*1), Z6
	VCVTPH2PS   (SI)(R9*2), Z7
	VCVTPH2PS   (SI)(R10*1), Z8
	VFMADD231PS Z4, Z5, Z0
	VFMADD231PS Z4, Z6, Z1
	VFMADD231PS Z4, Z7, Z2
	VFMADD231PS Z4, Z8, Z3
	ADDQ        $32, SI
	ADDQ        $64, DI
	SUBQ        $16, CX
	JMP         hr16

hrtail:
	TESTQ       CX, CX
	JZ          hrdone
	VMOVUPS     (DI), Y4
	VCVTPH2PS   (SI), Y5
	VCVTPH2PS   (SI)(R9*1), Y6
	VCVTPH2PS   (SI)(R9*2), Y7
	VCVTPH2PS   (SI)(R10*1), Y8
	VFMADD231PS Z4, Z5, K1, Z0
	VFMADD231PS Z4, Z6, K1, Z1
	VFMADD231PS Z4, Z7, K1, Z2
	VFMADD231PS Z4, Z8, K1, Z3

hrdone:
	FOLD(Z0, Y0, Y4)
	FOLD(Z1, Y1, Y5)
	FOLD(Z2, Y2, Y6)
	FOLD(Z3, Y3, Y7)
	HSUM4
	VMOVUPS X0, (AX)
	ADDQ    $16, AX
	MOVQ    DX, SI
	DECQ    BX
	JNZ     hrrow

hrend:
	VZEROUPPER
	RET

// func wsum4H16AVX2(out *float32, a *float32, v *uint16, vs int, np int)
// 32 outputs: out += a[p]·v[p] for p < np, rows vs bytes apart.
TEXT ·wsum4H16AVX2(SB), NOSPLIT, $0-40
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
	JZ      w4done

w4loop:
	VBROADCASTSS (DX), Y4
	VCVTPH2PS    (SI), Y5
	VCVTPH2PS    16(SI), Y6
	VCVTPH2PS    32(SI), Y7
	VCVTPH2PS    48(SI), Y8
	VFMADD231PS  Y5, Y4, Y0
	VFMADD231PS  Y6, Y4, Y1
	VFMADD231PS  Y7, Y4, Y2
	VFMADD231PS  Y8, Y4, Y3
	ADDQ         $4, DX
	ADDQ         R8, SI
	DECQ         CX
	JNZ          w4loop

w4done:
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	VZEROUPPER
	RET

// func wsum1H16AVX2(out *float32, a *float32, v *uint16, vs int, np int)
TEXT ·wsum1H16AVX2(SB), NOSPLIT, $0-40
	MOVQ    out+0(FP), DI
	MOVQ    a+8(FP), DX
	MOVQ    v+16(FP), SI
	MOVQ    vs+24(FP), R8
	MOVQ    np+32(FP), CX
	VMOVUPS (DI), Y0
	TESTQ   CX, CX
	JZ      w1done

w1loop:
	VBROADCASTSS (DX), Y4
	VCVTPH2PS    (SI), Y5
	VFMADD231PS  Y5, Y4, Y0
	ADDQ         $4, DX
	ADDQ         R8, SI
	DECQ         CX
	JNZ          w1loop

w1done:
	VMOVUPS Y0, (DI)
	VZEROUPPER
	RET

// func wsum4H16AVX512(out *float32, a *float32, v *uint16, vs int, np int)
// 64 outputs.
TEXT ·wsum4H16AVX512(SB), NOSPLIT, $0-40
	MOVQ    out+0(FP), DI
	MOVQ    a+8(FP), DX
	MOVQ    v+16(FP), SI
	MOVQ    vs+24(FP), R8
	MOVQ    np+32(FP), CX
	VMOVUPS (DI), Z0
	VMOVUPS 64(DI), Z1
	VMOVUPS 128(DI), Z2
	VMOVUPS 192(DI), Z3
	TESTQ   CX, CX
	JZ      z4done

z4loop:
	VBROADCASTSS (DX), Z4
	VCVTPH2PS    (SI), Z5
	VCVTPH2PS    32(SI), Z6
	VCVTPH2PS    64(SI), Z7
	VCVTPH2PS    96(SI), Z8
	VFMADD231PS  Z5, Z4, Z0
	VFMADD231PS  Z6, Z4, Z1
	VFMADD231PS  Z7, Z4, Z2
	VFMADD231PS  Z8, Z4, Z3
	ADDQ         $4, DX
	ADDQ         R8, SI
	DECQ         CX
	JNZ          z4loop

z4done:
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)
	VZEROUPPER
	RET

// func wsum1H16AVX512(out *float32, a *float32, v *uint16, vs int, np int)
// 16 outputs.
TEXT ·wsum1H16AVX512(SB), NOSPLIT, $0-40
	MOVQ    out+0(FP), DI
	MOVQ    a+8(FP), DX
	MOVQ    v+16(FP), SI
	MOVQ    vs+24(FP), R8
	MOVQ    np+32(FP), CX
	VMOVUPS (DI), Z0
	TESTQ   CX, CX
	JZ      z1done

z1loop:
	VBROADCASTSS (DX), Z4
	VCVTPH2PS    (SI), Z5
	VFMADD231PS  Z5, Z4, Z0
	ADDQ         $4, DX
	ADDQ         R8, SI
	DECQ         CX
	JNZ          z1loop

z1done:
	VMOVUPS Z0, (DI)
	VZEROUPPER
	RET
