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

// Exp, AVX2: Exp's arithmetic (ops.go) four float64 lanes at a time, with
// the same operations in the same order and no fused multiply-adds, so
// every lane gets Exp's bits. 32-byte constants: float64 unless named *32.
DATA expLog2e<>+0(SB)/8, $0x3ff71547652b82fe
DATA expLog2e<>+8(SB)/8, $0x3ff71547652b82fe
DATA expLog2e<>+16(SB)/8, $0x3ff71547652b82fe
DATA expLog2e<>+24(SB)/8, $0x3ff71547652b82fe
GLOBL expLog2e<>(SB), RODATA|NOPTR, $32
DATA expHalf<>+0(SB)/8, $0x3fe0000000000000
DATA expHalf<>+8(SB)/8, $0x3fe0000000000000
DATA expHalf<>+16(SB)/8, $0x3fe0000000000000
DATA expHalf<>+24(SB)/8, $0x3fe0000000000000
GLOBL expHalf<>(SB), RODATA|NOPTR, $32
DATA expLn2<>+0(SB)/8, $0x3fe62e42fefa39ef
DATA expLn2<>+8(SB)/8, $0x3fe62e42fefa39ef
DATA expLn2<>+16(SB)/8, $0x3fe62e42fefa39ef
DATA expLn2<>+24(SB)/8, $0x3fe62e42fefa39ef
GLOBL expLn2<>(SB), RODATA|NOPTR, $32
DATA expOne<>+0(SB)/8, $0x3ff0000000000000
DATA expOne<>+8(SB)/8, $0x3ff0000000000000
DATA expOne<>+16(SB)/8, $0x3ff0000000000000
DATA expOne<>+24(SB)/8, $0x3ff0000000000000
GLOBL expOne<>(SB), RODATA|NOPTR, $32
DATA expC6<>+0(SB)/8, $0x3fc5555555555555
DATA expC6<>+8(SB)/8, $0x3fc5555555555555
DATA expC6<>+16(SB)/8, $0x3fc5555555555555
DATA expC6<>+24(SB)/8, $0x3fc5555555555555
GLOBL expC6<>(SB), RODATA|NOPTR, $32
DATA expC24<>+0(SB)/8, $0x3fa5555555555555
DATA expC24<>+8(SB)/8, $0x3fa5555555555555
DATA expC24<>+16(SB)/8, $0x3fa5555555555555
DATA expC24<>+24(SB)/8, $0x3fa5555555555555
GLOBL expC24<>(SB), RODATA|NOPTR, $32
DATA expC120<>+0(SB)/8, $0x3f81111111111111
DATA expC120<>+8(SB)/8, $0x3f81111111111111
DATA expC120<>+16(SB)/8, $0x3f81111111111111
DATA expC120<>+24(SB)/8, $0x3f81111111111111
GLOBL expC120<>(SB), RODATA|NOPTR, $32
DATA expC720<>+0(SB)/8, $0x3f56c16c16c16c17
DATA expC720<>+8(SB)/8, $0x3f56c16c16c16c17
DATA expC720<>+16(SB)/8, $0x3f56c16c16c16c17
DATA expC720<>+24(SB)/8, $0x3f56c16c16c16c17
GLOBL expC720<>(SB), RODATA|NOPTR, $32
DATA expLo32<>+0(SB)/8, $0xc2ae0000c2ae0000
DATA expLo32<>+8(SB)/8, $0xc2ae0000c2ae0000
DATA expLo32<>+16(SB)/8, $0xc2ae0000c2ae0000
DATA expLo32<>+24(SB)/8, $0xc2ae0000c2ae0000
GLOBL expLo32<>(SB), RODATA|NOPTR, $32
DATA expHi32<>+0(SB)/8, $0x42b0000042b00000
DATA expHi32<>+8(SB)/8, $0x42b0000042b00000
DATA expHi32<>+16(SB)/8, $0x42b0000042b00000
DATA expHi32<>+24(SB)/8, $0x42b0000042b00000
GLOBL expHi32<>(SB), RODATA|NOPTR, $32
DATA expInf32<>+0(SB)/8, $0x7f8000007f800000
DATA expInf32<>+8(SB)/8, $0x7f8000007f800000
DATA expInf32<>+16(SB)/8, $0x7f8000007f800000
DATA expInf32<>+24(SB)/8, $0x7f8000007f800000
GLOBL expInf32<>(SB), RODATA|NOPTR, $32
DATA expOne32<>+0(SB)/8, $0x3f8000003f800000
DATA expOne32<>+8(SB)/8, $0x3f8000003f800000
DATA expOne32<>+16(SB)/8, $0x3f8000003f800000
DATA expOne32<>+24(SB)/8, $0x3f8000003f800000
GLOBL expOne32<>(SB), RODATA|NOPTR, $32
DATA expBias32<>+0(SB)/8, $0x0000007f0000007f
DATA expBias32<>+8(SB)/8, $0x0000007f0000007f
DATA expBias32<>+16(SB)/8, $0x0000007f0000007f
DATA expBias32<>+24(SB)/8, $0x0000007f0000007f
GLOBL expBias32<>(SB), RODATA|NOPTR, $32
DATA expSign32<>+0(SB)/8, $0x8000000080000000
DATA expSign32<>+8(SB)/8, $0x8000000080000000
DATA expSign32<>+16(SB)/8, $0x8000000080000000
DATA expSign32<>+24(SB)/8, $0x8000000080000000
GLOBL expSign32<>(SB), RODATA|NOPTR, $32

// EXPH is the float64 part of Exp for four lanes: t in Yt (x·log2e),
// n returned in Yn, 2^f's polynomial p in Yq; Yg is scratch.
#define EXPH(yt, yn, yg, yq) \
	VADDPD   expHalf<>(SB), yt, yn \
	VROUNDPD $1, yn, yn \
	VSUBPD   yn, yt, yg \
	VMULPD   expLn2<>(SB), yg, yg \
	VMULPD   expC720<>(SB), yg, yq \
	VADDPD   expC120<>(SB), yq, yq \
	VMULPD   yg, yq, yq \
	VADDPD   expC24<>(SB), yq, yq \
	VMULPD   yg, yq, yq \
	VADDPD   expC6<>(SB), yq, yq \
	VMULPD   yg, yq, yq \
	VADDPD   expHalf<>(SB), yq, yq \
	VMULPD   yg, yq, yq \
	VADDPD   expOne<>(SB), yq, yq \
	VMULPD   yg, yq, yq \
	VADDPD   expOne<>(SB), yq, yq

// EXP8 sets Y0 = Exp(Y0) for eight float32 lanes; it uses Y1-Y9.
#define EXP8 \
	VCVTPS2PD    X0, Y1 \
	VEXTRACTF128 $1, Y0, X2 \
	VCVTPS2PD    X2, Y2 \
	VMULPD       expLog2e<>(SB), Y1, Y1 \
	VMULPD       expLog2e<>(SB), Y2, Y2 \
	EXPH(Y1, Y3, Y5, Y7) \
	EXPH(Y2, Y4, Y6, Y8) \
	VCVTPD2PSY   Y7, X7 \
	VCVTPD2PSY   Y8, X8 \
	VINSERTF128  $1, X8, Y7, Y7 \
	VCVTTPD2DQY  Y3, X3 \
	VCVTTPD2DQY  Y4, X4 \
	VINSERTI128  $1, X4, Y3, Y3 \
	VPADDD       expBias32<>(SB), Y3, Y3 \
	VPSLLD       $23, Y3, Y3 \
	VMULPS       Y3, Y7, Y7 \
	VCMPPS       $0x11, expLo32<>(SB), Y0, Y9 \
	VANDNPS      Y7, Y9, Y7 \
	VCMPPS       $0x1e, expHi32<>(SB), Y0, Y9 \
	VBLENDVPS    Y9, expInf32<>(SB), Y7, Y7 \
	VCMPPS       $3, Y0, Y0, Y9 \
	VBLENDVPS    Y9, Y0, Y7, Y0

// func expSubAVX2(x *float32, n int, m float32)
// x[i] = Exp(x[i] - m), n a multiple of 8.
TEXT ·expSubAVX2(SB), NOSPLIT, $0-20
	MOVQ         x+0(FP), DI
	MOVQ         n+8(FP), CX
	VBROADCASTSS m+16(FP), Y10
	TESTQ        CX, CX
	JZ           esdone

esloop:
	VMOVUPS (DI), Y0
	VSUBPS  Y10, Y0, Y0
	EXP8
	VMOVUPS Y0, (DI)
	ADDQ    $32, DI
	SUBQ    $8, CX
	JNZ     esloop

esdone:
	VZEROUPPER
	RET

// func siluMulAVX2(gate *float32, up *float32, n int)
// g[i] = g[i] / (1 + Exp(-g[i])) · u[i], n a multiple of 8.
TEXT ·siluMulAVX2(SB), NOSPLIT, $0-24
	MOVQ  gate+0(FP), DI
	MOVQ  up+8(FP), SI
	MOVQ  n+16(FP), CX
	TESTQ CX, CX
	JZ    smdone

smloop:
	VMOVUPS (DI), Y11
	VXORPS  expSign32<>(SB), Y11, Y0
	EXP8
	VADDPS  expOne32<>(SB), Y0, Y0
	VDIVPS  Y0, Y11, Y0
	VMULPS  (SI), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, DI
	ADDQ    $32, SI
	SUBQ    $8, CX
	JNZ     smloop

smdone:
	VZEROUPPER
	RET

// func maxAVX2(x *float32, n int) (m float32, nan bool)
// The largest of x[0:n], n a positive multiple of 8, and whether any value
// is a NaN (m is then meaningless). Which zero it returns when the largest
// is a zero is unspecified; Softmax subtracts it, where the sign of a zero
// changes no exponential.
TEXT ·maxAVX2(SB), NOSPLIT, $0-21
	MOVQ    x+0(FP), DI
	MOVQ    n+8(FP), CX
	VMOVUPS (DI), Y0
	VCMPPS  $3, Y0, Y0, Y2
	ADDQ    $32, DI
	SUBQ    $8, CX
	JZ      mxdone

mxloop:
	VMOVUPS (DI), Y1
	VCMPPS  $3, Y1, Y1, Y3
	VORPS   Y3, Y2, Y2
	VMAXPS  Y1, Y0, Y0
	ADDQ    $32, DI
	SUBQ    $8, CX
	JNZ     mxloop

mxdone:
	VEXTRACTF128 $1, Y0, X1
	VMAXPS       X1, X0, X0
	VPERMILPS    $0x4e, X0, X1
	VMAXPS       X1, X0, X0
	VPERMILPS    $0xb1, X0, X1
	VMAXPS       X1, X0, X0
	MOVSS        X0, m+16(FP)
	VMOVMSKPS    Y2, AX
	TESTL        AX, AX
	SETNE        nan+20(FP)
	VZEROUPPER
	RET

// func scaleAVX2(x *float32, n int, s float32)
// x[i] *= s, n a multiple of 8.
TEXT ·scaleAVX2(SB), NOSPLIT, $0-20
	MOVQ         x+0(FP), DI
	MOVQ         n+8(FP), CX
	VBROADCASTSS s+16(FP), Y1
	TESTQ        CX, CX
	JZ           scdone

scloop:
	VMULPS  (DI), Y1, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, DI
	SUBQ    $8, CX
	JNZ     scloop

scdone:
	VZEROUPPER
	RET

// EXPZ is EXPH for eight float64 lanes (AVX-512).
#define EXPZ(zt, zn, zg, zq) \
	VADDPD.BCST  expHalf<>(SB), zt, zn \
	VRNDSCALEPD  $1, zn, zn \
	VSUBPD       zn, zt, zg \
	VMULPD.BCST  expLn2<>(SB), zg, zg \
	VMULPD.BCST  expC720<>(SB), zg, zq \
	VADDPD.BCST  expC120<>(SB), zq, zq \
	VMULPD       zg, zq, zq \
	VADDPD.BCST  expC24<>(SB), zq, zq \
	VMULPD       zg, zq, zq \
	VADDPD.BCST  expC6<>(SB), zq, zq \
	VMULPD       zg, zq, zq \
	VADDPD.BCST  expHalf<>(SB), zq, zq \
	VMULPD       zg, zq, zq \
	VADDPD.BCST  expOne<>(SB), zq, zq \
	VMULPD       zg, zq, zq \
	VADDPD.BCST  expOne<>(SB), zq, zq

// EXP16 sets Z0 = Exp(Z0) for sixteen float32 lanes; it uses Z1-Z8 and
// K1-K3.
#define EXP16 \
	VCVTPS2PD     Y0, Z1 \
	VEXTRACTF64X4 $1, Z0, Y2 \
	VCVTPS2PD     Y2, Z2 \
	VMULPD.BCST   expLog2e<>(SB), Z1, Z1 \
	VMULPD.BCST   expLog2e<>(SB), Z2, Z2 \
	EXPZ(Z1, Z3, Z5, Z7) \
	EXPZ(Z2, Z4, Z6, Z8) \
	VCVTPD2PS     Z7, Y7 \
	VCVTPD2PS     Z8, Y8 \
	VINSERTF64X4  $1, Y8, Z7, Z7 \
	VCVTTPD2DQ    Z3, Y3 \
	VCVTTPD2DQ    Z4, Y4 \
	VINSERTI64X4  $1, Y4, Z3, Z3 \
	VPADDD.BCST   expBias32<>(SB), Z3, Z3 \
	VPSLLD        $23, Z3, Z3 \
	VMULPS        Z3, Z7, Z7 \
	VCMPPS.BCST   $0x11, expLo32<>(SB), Z0, K1 \
	VXORPS        Z7, Z7, K1, Z7 \
	VCMPPS.BCST   $0x1e, expHi32<>(SB), Z0, K2 \
	VBROADCASTSS  expInf32<>(SB), K2, Z7 \
	VCMPPS        $3, Z0, Z0, K3 \
	VMOVAPS       Z0, K3, Z7 \
	VMOVAPS       Z7, Z0

// func expSubAVX512(x *float32, n int, m float32)
// x[i] = Exp(x[i] - m), n a multiple of 16.
TEXT ·expSubAVX512(SB), NOSPLIT, $0-20
	MOVQ         x+0(FP), DI
	MOVQ         n+8(FP), CX
	VBROADCASTSS m+16(FP), Z10
	TESTQ        CX, CX
	JZ           zesdone

zesloop:
	VMOVUPS (DI), Z0
	VSUBPS  Z10, Z0, Z0
	EXP16
	VMOVUPS Z0, (DI)
	ADDQ    $64, DI
	SUBQ    $16, CX
	JNZ     zesloop

zesdone:
	VZEROUPPER
	RET

// func siluMulAVX512(gate *float32, up *float32, n int)
// gate[i] = gate[i] / (1 + Exp(-gate[i])) · up[i], n a multiple of 16.
TEXT ·siluMulAVX512(SB), NOSPLIT, $0-24
	MOVQ  gate+0(FP), DI
	MOVQ  up+8(FP), SI
	MOVQ  n+16(FP), CX
	TESTQ CX, CX
	JZ    zsmdone

zsmloop:
	VMOVUPS          (DI), Z11
	VXORPS.BCST      expSign32<>(SB), Z11, Z0
	EXP16
	VADDPS.BCST      expOne32<>(SB), Z0, Z0
	VDIVPS           Z0, Z11, Z0
	VMULPS           (SI), Z0, Z0
	VMOVUPS          Z0, (DI)
	ADDQ             $64, DI
	ADDQ             $64, SI
	SUBQ             $16, CX
	JNZ              zsmloop

zsmdone:
	VZEROUPPER
	RET

// Weighted sums of several output rows over the same value rows: each value
// row is loaded once for all of them, and the rows' accumulators make
// enough independent multiply-add chains to keep both FMA pipes busy. Each
// output is still one multiply-add chain in row order, wsum4's operations:
// the same bits. Strides are in bytes.

// func wsumRows4x64AVX512(out *float32, os int, a *float32, as int, v *float32, vs int, np int)
TEXT ·wsumRows4x64AVX512(SB), NOSPLIT, $0-56
	MOVQ    out+0(FP), DI
	MOVQ    os+8(FP), R9
	MOVQ    a+16(FP), DX
	MOVQ    as+24(FP), R10
	MOVQ    v+32(FP), SI
	MOVQ    vs+40(FP), R8
	MOVQ    np+48(FP), CX
	LEAQ    (R10)(R10*2), R11
	LEAQ    (R9)(R9*2), R12
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
	VMOVUPS (DI)(R12*1), Z12
	VMOVUPS 64(DI)(R12*1), Z13
	VMOVUPS 128(DI)(R12*1), Z14
	VMOVUPS 192(DI)(R12*1), Z15
	TESTQ   CX, CX
	JZ      wr4done

wr4loop:
	VMOVUPS      (SI), Z16
	VMOVUPS      64(SI), Z17
	VMOVUPS      128(SI), Z18
	VMOVUPS      192(SI), Z19
	VBROADCASTSS (DX), Z20
	VBROADCASTSS (DX)(R10*1), Z21
	VBROADCASTSS (DX)(R10*2), Z22
	VBROADCASTSS (DX)(R11*1), Z23
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
	JNZ          wr4loop

wr4done:
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
	VMOVUPS Z12, (DI)(R12*1)
	VMOVUPS Z13, 64(DI)(R12*1)
	VMOVUPS Z14, 128(DI)(R12*1)
	VMOVUPS Z15, 192(DI)(R12*1)
	VZEROUPPER
	RET

// func wsumRows2x32AVX2(out *float32, os int, a *float32, as int, v *float32, vs int, np int)
TEXT ·wsumRows2x32AVX2(SB), NOSPLIT, $0-56
	MOVQ    out+0(FP), DI
	MOVQ    os+8(FP), R9
	MOVQ    a+16(FP), DX
	MOVQ    as+24(FP), R10
	MOVQ    v+32(FP), SI
	MOVQ    vs+40(FP), R8
	MOVQ    np+48(FP), CX
	VMOVUPS (DI), Y0
	VMOVUPS 32(DI), Y1
	VMOVUPS 64(DI), Y2
	VMOVUPS 96(DI), Y3
	VMOVUPS (DI)(R9*1), Y4
	VMOVUPS 32(DI)(R9*1), Y5
	VMOVUPS 64(DI)(R9*1), Y6
	VMOVUPS 96(DI)(R9*1), Y7
	TESTQ   CX, CX
	JZ      wr2done

wr2loop:
	VMOVUPS      (SI), Y8
	VMOVUPS      32(SI), Y9
	VMOVUPS      64(SI), Y10
	VMOVUPS      96(SI), Y11
	VBROADCASTSS (DX), Y12
	VBROADCASTSS (DX)(R10*1), Y13
	VFMADD231PS  Y8, Y12, Y0
	VFMADD231PS  Y9, Y12, Y1
	VFMADD231PS  Y10, Y12, Y2
	VFMADD231PS  Y11, Y12, Y3
	VFMADD231PS  Y8, Y13, Y4
	VFMADD231PS  Y9, Y13, Y5
	VFMADD231PS  Y10, Y13, Y6
	VFMADD231PS  Y11, Y13, Y7
	ADDQ         $4, DX
	ADDQ         R8, SI
	DECQ         CX
	JNZ          wr2loop

wr2done:
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	VMOVUPS Y4, (DI)(R9*1)
	VMOVUPS Y5, 32(DI)(R9*1)
	VMOVUPS Y6, 64(DI)(R9*1)
	VMOVUPS Y7, 96(DI)(R9*1)
	VZEROUPPER
	RET

// func prefetchT0(p *byte, n int)
// Asks for the n bytes at p (a cache line at a time) to be brought into
// the cache; a prefetch never faults.
TEXT ·prefetchT0(SB), NOSPLIT, $0-16
	MOVQ p+0(FP), SI
	MOVQ n+8(FP), CX

pfloop:
	PREFETCHT0 (SI)
	ADDQ       $64, SI
	SUBQ       $64, CX
	JGT        pfloop
	RET
