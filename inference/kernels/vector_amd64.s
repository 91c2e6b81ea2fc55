//go:build amd64

#include "textflag.h"

// Vector operations of a transformer layer, AVX2 + FMA: exp-based
// activations, weighted sums of value rows, and the bandwidth probe.

DATA expSign<>+0(SB)/8, $0x8000000080000000
DATA expSign<>+8(SB)/8, $0x8000000080000000
DATA expSign<>+16(SB)/8, $0x8000000080000000
DATA expSign<>+24(SB)/8, $0x8000000080000000
GLOBL expSign<>(SB), RODATA|NOPTR, $32

DATA expHi<>+0(SB)/8, $0x42b0000042b00000
DATA expHi<>+8(SB)/8, $0x42b0000042b00000
DATA expHi<>+16(SB)/8, $0x42b0000042b00000
DATA expHi<>+24(SB)/8, $0x42b0000042b00000
GLOBL expHi<>(SB), RODATA|NOPTR, $32

DATA expLo<>+0(SB)/8, $0xc2b00000c2b00000
DATA expLo<>+8(SB)/8, $0xc2b00000c2b00000
DATA expLo<>+16(SB)/8, $0xc2b00000c2b00000
DATA expLo<>+24(SB)/8, $0xc2b00000c2b00000
GLOBL expLo<>(SB), RODATA|NOPTR, $32

DATA expLog2e<>+0(SB)/8, $0x3fb8aa3b3fb8aa3b
DATA expLog2e<>+8(SB)/8, $0x3fb8aa3b3fb8aa3b
DATA expLog2e<>+16(SB)/8, $0x3fb8aa3b3fb8aa3b
DATA expLog2e<>+24(SB)/8, $0x3fb8aa3b3fb8aa3b
GLOBL expLog2e<>(SB), RODATA|NOPTR, $32

DATA expC1<>+0(SB)/8, $0x3f3180003f318000
DATA expC1<>+8(SB)/8, $0x3f3180003f318000
DATA expC1<>+16(SB)/8, $0x3f3180003f318000
DATA expC1<>+24(SB)/8, $0x3f3180003f318000
GLOBL expC1<>(SB), RODATA|NOPTR, $32

DATA expC2<>+0(SB)/8, $0xb95e8083b95e8083
DATA expC2<>+8(SB)/8, $0xb95e8083b95e8083
DATA expC2<>+16(SB)/8, $0xb95e8083b95e8083
DATA expC2<>+24(SB)/8, $0xb95e8083b95e8083
GLOBL expC2<>(SB), RODATA|NOPTR, $32

DATA expP0<>+0(SB)/8, $0x3950696739506967
DATA expP0<>+8(SB)/8, $0x3950696739506967
DATA expP0<>+16(SB)/8, $0x3950696739506967
DATA expP0<>+24(SB)/8, $0x3950696739506967
GLOBL expP0<>(SB), RODATA|NOPTR, $32

DATA expP1<>+0(SB)/8, $0x3ab743ce3ab743ce
DATA expP1<>+8(SB)/8, $0x3ab743ce3ab743ce
DATA expP1<>+16(SB)/8, $0x3ab743ce3ab743ce
DATA expP1<>+24(SB)/8, $0x3ab743ce3ab743ce
GLOBL expP1<>(SB), RODATA|NOPTR, $32

DATA expP2<>+0(SB)/8, $0x3c0889083c088908
DATA expP2<>+8(SB)/8, $0x3c0889083c088908
DATA expP2<>+16(SB)/8, $0x3c0889083c088908
DATA expP2<>+24(SB)/8, $0x3c0889083c088908
GLOBL expP2<>(SB), RODATA|NOPTR, $32

DATA expP3<>+0(SB)/8, $0x3d2aa9c13d2aa9c1
DATA expP3<>+8(SB)/8, $0x3d2aa9c13d2aa9c1
DATA expP3<>+16(SB)/8, $0x3d2aa9c13d2aa9c1
DATA expP3<>+24(SB)/8, $0x3d2aa9c13d2aa9c1
GLOBL expP3<>(SB), RODATA|NOPTR, $32

DATA expP4<>+0(SB)/8, $0x3e2aaaaa3e2aaaaa
DATA expP4<>+8(SB)/8, $0x3e2aaaaa3e2aaaaa
DATA expP4<>+16(SB)/8, $0x3e2aaaaa3e2aaaaa
DATA expP4<>+24(SB)/8, $0x3e2aaaaa3e2aaaaa
GLOBL expP4<>(SB), RODATA|NOPTR, $32

DATA expP5<>+0(SB)/8, $0x3f0000003f000000
DATA expP5<>+8(SB)/8, $0x3f0000003f000000
DATA expP5<>+16(SB)/8, $0x3f0000003f000000
DATA expP5<>+24(SB)/8, $0x3f0000003f000000
GLOBL expP5<>(SB), RODATA|NOPTR, $32

DATA expOne<>+0(SB)/8, $0x3f8000003f800000
DATA expOne<>+8(SB)/8, $0x3f8000003f800000
DATA expOne<>+16(SB)/8, $0x3f8000003f800000
DATA expOne<>+24(SB)/8, $0x3f8000003f800000
GLOBL expOne<>(SB), RODATA|NOPTR, $32

DATA expBias<>+0(SB)/8, $0x0000007f0000007f
DATA expBias<>+8(SB)/8, $0x0000007f0000007f
DATA expBias<>+16(SB)/8, $0x0000007f0000007f
DATA expBias<>+24(SB)/8, $0x0000007f0000007f
GLOBL expBias<>(SB), RODATA|NOPTR, $32

// Horizontal sum of the 8 floats in Y0 into X0 (used where no 4-token
// kernel has to agree).
#define HSUM0 \
	VEXTRACTF128 $1, Y0, X1 \
	VADDPS       X1, X0, X0 \
	VHADDPS      X0, X0, X0 \
	VHADDPS      X0, X0, X0

// exp of the 8 floats in Y1 into Y3 (Y1, Y2, Y4 clobbered): the argument
// is clamped to ±88, split as n·ln2 + r with n = round(x·log2 e) (ln2 in two
// parts for accuracy), e^r from a degree-7 polynomial, and 2^n put in the
// exponent bits.
#define EXP8 \
	VMINPS       expHi<>(SB), Y1, Y1 \
	VMAXPS       expLo<>(SB), Y1, Y1 \
	VMULPS       expLog2e<>(SB), Y1, Y2 \
	VROUNDPS     $0, Y2, Y2 \
	VFNMADD231PS expC1<>(SB), Y2, Y1 \
	VFNMADD231PS expC2<>(SB), Y2, Y1 \
	VMOVUPS      expP0<>(SB), Y3 \
	VFMADD213PS  expP1<>(SB), Y1, Y3 \
	VFMADD213PS  expP2<>(SB), Y1, Y3 \
	VFMADD213PS  expP3<>(SB), Y1, Y3 \
	VFMADD213PS  expP4<>(SB), Y1, Y3 \
	VFMADD213PS  expP5<>(SB), Y1, Y3 \
	VMULPS       Y1, Y1, Y4 \
	VFMADD213PS  Y1, Y4, Y3 \
	VADDPS       expOne<>(SB), Y3, Y3 \
	VCVTTPS2DQ   Y2, Y2 \
	VPADDD       expBias<>(SB), Y2, Y2 \
	VPSLLD       $23, Y2, Y2 \
	VMULPS       Y2, Y3, Y3

// func siluMulAVX2(gate *float32, u *float32, n int)
// g[i] = g[i]·u[i] / (1 + e^-g[i]); n is a multiple of 8.
TEXT ·siluMulAVX2(SB), NOSPLIT, $0-24
	MOVQ  gate+0(FP), SI
	MOVQ  u+8(FP), DI
	MOVQ  n+16(FP), CX
	TESTQ CX, CX
	JZ    silutail

siluloop:
	VMOVUPS (SI), Y0
	VXORPS  expSign<>(SB), Y0, Y1
	EXP8
	VADDPS  expOne<>(SB), Y3, Y3
	VMULPS  (DI), Y0, Y0
	VDIVPS  Y3, Y0, Y0
	VMOVUPS Y0, (SI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	SUBQ    $8, CX
	JNZ     siluloop

silutail:
	VZEROUPPER
	RET

// func expSubAVX2(x *float32, m float32, n int) float32
// x[i] = e^(x[i]-m); returns the sum. n is a multiple of 8.
TEXT ·expSubAVX2(SB), NOSPLIT, $0-28
	MOVQ         x+0(FP), SI
	VBROADCASTSS m+8(FP), Y5
	MOVQ         n+16(FP), CX
	VXORPS       Y0, Y0, Y0
	TESTQ        CX, CX
	JZ           expsubdone

expsubloop:
	VMOVUPS (SI), Y1
	VSUBPS  Y5, Y1, Y1
	EXP8
	VMOVUPS Y3, (SI)
	VADDPS  Y3, Y0, Y0
	ADDQ    $32, SI
	SUBQ    $8, CX
	JNZ     expsubloop

expsubdone:
	HSUM0
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// Weighted sums of rows: out[0:8·nv] += Σ_p a[p]·v[p·vs : p·vs+8·nv] for
// p = 0..np-1, nv = 1 or 4 vectors. The sums stay in registers across all
// rows; each lane is one multiply-add chain in row order, the arithmetic of
// adding one weighted row after another.

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
