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

// func rows4x4qH16AVX512(w *uint16, rb int, x *float32, xs int, n int, out *float32, os int, rows int)
// rowsH16AVX512 for four queries xs bytes apart (n a multiple of 16):
// each key vector is converted once and multiplied with the four queries;
// query g, row j accumulates in Z(8+4g+j), with rowsH16AVX512's lanes,
// order and reduction, and its results go to out + g·os bytes.
TEXT ·rows4x4qH16AVX512(SB), NOSPLIT, $0-64
	MOVQ   w+0(FP), SI
	MOVQ   rb+8(FP), R9
	MOVQ   xs+24(FP), R12
	MOVQ   out+40(FP), AX
	MOVQ   os+48(FP), R14
	MOVQ   rows+56(FP), BX
	SHRQ   $2, BX
	JZ     mqend
	LEAQ   (R9)(R9*2), R10
	LEAQ   (R12)(R12*2), R13
	LEAQ   (R14)(R14*2), R15

mqrow:
	MOVQ   x+16(FP), DI
	MOVQ   n+32(FP), CX
	LEAQ   (SI)(R9*4), R11
	MOVQ   R11, DX
	VXORPS Z8, Z8, Z8
	VXORPS Z9, Z9, Z9
	VXORPS Z10, Z10, Z10
	VXORPS Z11, Z11, Z11
	VXORPS Z12, Z12, Z12
	VXORPS Z13, Z13, Z13
	VXORPS Z14, Z14, Z14
	VXORPS Z15, Z15, Z15
	VXORPS Z16, Z16, Z16
	VXORPS Z17, Z17, Z17
	VXORPS Z18, Z18, Z18
	VXORPS Z19, Z19, Z19
	VXORPS Z20, Z20, Z20
	VXORPS Z21, Z21, Z21
	VXORPS Z22, Z22, Z22
	VXORPS Z23, Z23, Z23

mq16:
	CMPQ        CX, $16
	JLT         mqdone
	PREFETCHT0  (R11)
	PREFETCHT0  64(R11)
	ADDQ        $128, R11
	VCVTPH2PS   (SI), Z24
	VCVTPH2PS   (SI)(R9*1), Z25
	VCVTPH2PS   (SI)(R9*2), Z26
	VCVTPH2PS   (SI)(R10*1), Z27
	VMOVUPS     (DI), Z28
	VFMADD231PS Z28, Z24, Z8
	VFMADD231PS Z28, Z25, Z9
	VFMADD231PS Z28, Z26, Z10
	VFMADD231PS Z28, Z27, Z11
	VMOVUPS     (DI)(R12*1), Z28
	VFMADD231PS Z28, Z24, Z12
	VFMADD231PS Z28, Z25, Z13
	VFMADD231PS Z28, Z26, Z14
	VFMADD231PS Z28, Z27, Z15
	VMOVUPS     (DI)(R12*2), Z28
	VFMADD231PS Z28, Z24, Z16
	VFMADD231PS Z28, Z25, Z17
	VFMADD231PS Z28, Z26, Z18
	VFMADD231PS Z28, Z27, Z19
	VMOVUPS     (DI)(R13*1), Z28
	VFMADD231PS Z28, Z24, Z20
	VFMADD231PS Z28, Z25, Z21
	VFMADD231PS Z28, Z26, Z22
	VFMADD231PS Z28, Z27, Z23
	ADDQ        $32, SI
	ADDQ        $64, DI
	SUBQ        $16, CX
	JMP         mq16

mqdone:
	VMOVAPS Z8, Z0
	VMOVAPS Z9, Z1
	VMOVAPS Z10, Z2
	VMOVAPS Z11, Z3
	FOLD(Z0, Y0, Y4)
	FOLD(Z1, Y1, Y5)
	FOLD(Z2, Y2, Y6)
	FOLD(Z3, Y3, Y7)
	HSUM4
	VMOVUPS X0, (AX)
	VMOVAPS Z12, Z0
	VMOVAPS Z13, Z1
	VMOVAPS Z14, Z2
	VMOVAPS Z15, Z3
	FOLD(Z0, Y0, Y4)
	FOLD(Z1, Y1, Y5)
	FOLD(Z2, Y2, Y6)
	FOLD(Z3, Y3, Y7)
	HSUM4
	VMOVUPS X0, (AX)(R14*1)
	VMOVAPS Z16, Z0
	VMOVAPS Z17, Z1
	VMOVAPS Z18, Z2
	VMOVAPS Z19, Z3
	FOLD(Z0, Y0, Y4)
	FOLD(Z1, Y1, Y5)
	FOLD(Z2, Y2, Y6)
	FOLD(Z3, Y3, Y7)
	HSUM4
	VMOVUPS X0, (AX)(R14*2)
	VMOVAPS Z20, Z0
	VMOVAPS Z21, Z1
	VMOVAPS Z22, Z2
	VMOVAPS Z23, Z3
	FOLD(Z0, Y0, Y4)
	FOLD(Z1, Y1, Y5)
	FOLD(Z2, Y2, Y6)
	FOLD(Z3, Y3, Y7)
	HSUM4
	VMOVUPS X0, (AX)(R15*1)
	ADDQ    $16, AX
	MOVQ    DX, SI
	DECQ    BX
	JNZ     mqrow

mqend:
	VZEROUPPER
	RET

// func wsum4x4qH16AVX512(out *float32, os int, a *float32, as int, v *uint16, vs int, np int)
// wsum4H16AVX512 for four heads: 64 outputs per head, head g's at out +
// g·os bytes with its weights at a + g·as bytes; each value row is
// converted once for the four heads, and head g's column block j
// accumulates in Z(4g+j), the single-head kernel's chain.
TEXT ·wsum4x4qH16AVX512(SB), NOSPLIT, $0-56
	MOVQ    out+0(FP), DI
	MOVQ    os+8(FP), R9
	MOVQ    a+16(FP), DX
	MOVQ    as+24(FP), R11
	MOVQ    v+32(FP), SI
	MOVQ    vs+40(FP), R8
	MOVQ    np+48(FP), CX
	LEAQ    (R9)(R9*2), R10
	LEAQ    (R11)(R11*2), R12
	VMOVUPS (DI), Z0
	VMOVUPS 64(DI), Z1
	VMOVUPS 128(DI), Z2
	VMOVUPS 192(DI), Z3
	VMOVUPS (DI)(R9*1), Z4
	VMOVUPS 64(DI)(R9*1), Z5
	VMOVUPS 128(DI)(R9*1), Z6
	VMOVUPS 192(DI)(R9*1), Z7
	VMOVUPS (DI)(R9*2), Z8
	VMOVUPS 64(DI)(R9*2), Z9
	VMOVUPS 128(DI)(R9*2), Z10
	VMOVUPS 192(DI)(R9*2), Z11
	VMOVUPS (DI)(R10*1), Z12
	VMOVUPS 64(DI)(R10*1), Z13
	VMOVUPS 128(DI)(R10*1), Z14
	VMOVUPS 192(DI)(R10*1), Z15
	TESTQ   CX, CX
	JZ      w4qdone

w4qloop:
	VCVTPH2PS    (SI), Z16
	VCVTPH2PS    32(SI), Z17
	VCVTPH2PS    64(SI), Z18
	VCVTPH2PS    96(SI), Z19
	VBROADCASTSS (DX), Z20
	VBROADCASTSS (DX)(R11*1), Z21
	VBROADCASTSS (DX)(R11*2), Z22
	VBROADCASTSS (DX)(R12*1), Z23
	VFMADD231PS  Z16, Z20, Z0
	VFMADD231PS  Z17, Z20, Z1
	VFMADD231PS  Z18, Z20, Z2
	VFMADD231PS  Z19, Z20, Z3
	VFMADD231PS  Z16, Z21, Z4
	VFMADD231PS  Z17, Z21, Z5
	VFMADD231PS  Z18, Z21, Z6
	VFMADD231PS  Z19, Z21, Z7
	VFMADD231PS  Z16, Z22, Z8
	VFMADD231PS  Z17, Z22, Z9
	VFMADD231PS  Z18, Z22, Z10
	VFMADD231PS  Z19, Z22, Z11
	VFMADD231PS  Z16, Z23, Z12
	VFMADD231PS  Z17, Z23, Z13
	VFMADD231PS  Z18, Z23, Z14
	VFMADD231PS  Z19, Z23, Z15
	ADDQ         $4, DX
	ADDQ         R8, SI
	DECQ         CX
	JNZ          w4qloop

w4qdone:
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)
	VMOVUPS Z4, (DI)(R9*1)
	VMOVUPS Z5, 64(DI)(R9*1)
	VMOVUPS Z6, 128(DI)(R9*1)
	VMOVUPS Z7, 192(DI)(R9*1)
	VMOVUPS Z8, (DI)(R9*2)
	VMOVUPS Z9, 64(DI)(R9*2)
	VMOVUPS Z10, 128(DI)(R9*2)
	VMOVUPS Z11, 192(DI)(R9*2)
	VMOVUPS Z12, (DI)(R10*1)
	VMOVUPS Z13, 64(DI)(R10*1)
	VMOVUPS Z14, 128(DI)(R10*1)
	VMOVUPS Z15, 192(DI)(R10*1)
	VZEROUPPER
	RET
