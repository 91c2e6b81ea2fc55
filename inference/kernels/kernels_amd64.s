//go:build amd64

#include "textflag.h"

// Constant tables (bytes, little-endian qwords).
DATA nib<>+0(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA nib<>+8(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA nib<>+16(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA nib<>+24(SB)/8, $0x0f0f0f0f0f0f0f0f
GLOBL nib<>(SB), RODATA|NOPTR, $32

DATA eight<>+0(SB)/8, $0x0808080808080808
DATA eight<>+8(SB)/8, $0x0808080808080808
DATA eight<>+16(SB)/8, $0x0808080808080808
DATA eight<>+24(SB)/8, $0x0808080808080808
GLOBL eight<>(SB), RODATA|NOPTR, $32

DATA m30<>+0(SB)/8, $0x3030303030303030
DATA m30<>+8(SB)/8, $0x3030303030303030
DATA m30<>+16(SB)/8, $0x3030303030303030
DATA m30<>+24(SB)/8, $0x3030303030303030
GLOBL m30<>(SB), RODATA|NOPTR, $32

DATA m10<>+0(SB)/8, $0x1010101010101010
DATA m10<>+8(SB)/8, $0x1010101010101010
DATA m10<>+16(SB)/8, $0x1010101010101010
DATA m10<>+24(SB)/8, $0x1010101010101010
GLOBL m10<>(SB), RODATA|NOPTR, $32

DATA absf<>+0(SB)/8, $0x7fffffff7fffffff
DATA absf<>+8(SB)/8, $0x7fffffff7fffffff
DATA absf<>+16(SB)/8, $0x7fffffff7fffffff
DATA absf<>+24(SB)/8, $0x7fffffff7fffffff
GLOBL absf<>(SB), RODATA|NOPTR, $32

DATA q4kShuf<>+0(SB)/8, $0x0100010001000100
DATA q4kShuf<>+8(SB)/8, $0x0100010001000100
DATA q4kShuf<>+16(SB)/8, $0x0100010001000100
DATA q4kShuf<>+24(SB)/8, $0x0100010001000100
DATA q4kShuf<>+32(SB)/8, $0x0302030203020302
DATA q4kShuf<>+40(SB)/8, $0x0302030203020302
DATA q4kShuf<>+48(SB)/8, $0x0302030203020302
DATA q4kShuf<>+56(SB)/8, $0x0302030203020302
DATA q4kShuf<>+64(SB)/8, $0x0504050405040504
DATA q4kShuf<>+72(SB)/8, $0x0504050405040504
DATA q4kShuf<>+80(SB)/8, $0x0504050405040504
DATA q4kShuf<>+88(SB)/8, $0x0504050405040504
DATA q4kShuf<>+96(SB)/8, $0x0706070607060706
DATA q4kShuf<>+104(SB)/8, $0x0706070607060706
DATA q4kShuf<>+112(SB)/8, $0x0706070607060706
DATA q4kShuf<>+120(SB)/8, $0x0706070607060706
DATA q4kShuf<>+128(SB)/8, $0x0908090809080908
DATA q4kShuf<>+136(SB)/8, $0x0908090809080908
DATA q4kShuf<>+144(SB)/8, $0x0908090809080908
DATA q4kShuf<>+152(SB)/8, $0x0908090809080908
DATA q4kShuf<>+160(SB)/8, $0x0b0a0b0a0b0a0b0a
DATA q4kShuf<>+168(SB)/8, $0x0b0a0b0a0b0a0b0a
DATA q4kShuf<>+176(SB)/8, $0x0b0a0b0a0b0a0b0a
DATA q4kShuf<>+184(SB)/8, $0x0b0a0b0a0b0a0b0a
DATA q4kShuf<>+192(SB)/8, $0x0d0c0d0c0d0c0d0c
DATA q4kShuf<>+200(SB)/8, $0x0d0c0d0c0d0c0d0c
DATA q4kShuf<>+208(SB)/8, $0x0d0c0d0c0d0c0d0c
DATA q4kShuf<>+216(SB)/8, $0x0d0c0d0c0d0c0d0c
DATA q4kShuf<>+224(SB)/8, $0x0f0e0f0e0f0e0f0e
DATA q4kShuf<>+232(SB)/8, $0x0f0e0f0e0f0e0f0e
DATA q4kShuf<>+240(SB)/8, $0x0f0e0f0e0f0e0f0e
DATA q4kShuf<>+248(SB)/8, $0x0f0e0f0e0f0e0f0e
GLOBL q4kShuf<>(SB), RODATA|NOPTR, $256

DATA q6kShuf<>+0(SB)/8, $0x0000000000000000
DATA q6kShuf<>+8(SB)/8, $0x0101010101010101
DATA q6kShuf<>+16(SB)/8, $0x0202020202020202
DATA q6kShuf<>+24(SB)/8, $0x0303030303030303
DATA q6kShuf<>+32(SB)/8, $0x0404040404040404
DATA q6kShuf<>+40(SB)/8, $0x0505050505050505
DATA q6kShuf<>+48(SB)/8, $0x0606060606060606
DATA q6kShuf<>+56(SB)/8, $0x0707070707070707
DATA q6kShuf<>+64(SB)/8, $0x0808080808080808
DATA q6kShuf<>+72(SB)/8, $0x0909090909090909
DATA q6kShuf<>+80(SB)/8, $0x0a0a0a0a0a0a0a0a
DATA q6kShuf<>+88(SB)/8, $0x0b0b0b0b0b0b0b0b
DATA q6kShuf<>+96(SB)/8, $0x0c0c0c0c0c0c0c0c
DATA q6kShuf<>+104(SB)/8, $0x0d0d0d0d0d0d0d0d
DATA q6kShuf<>+112(SB)/8, $0x0e0e0e0e0e0e0e0e
DATA q6kShuf<>+120(SB)/8, $0x0f0f0f0f0f0f0f0f
GLOBL q6kShuf<>(SB), RODATA|NOPTR, $128

DATA packPerm<>+0(SB)/8, $0x0000000400000000
DATA packPerm<>+8(SB)/8, $0x0000000500000001
DATA packPerm<>+16(SB)/8, $0x0000000600000002
DATA packPerm<>+24(SB)/8, $0x0000000700000003
GLOBL packPerm<>(SB), RODATA|NOPTR, $32

DATA kmask1<>+0(SB)/8, $0x0f0f0f0f3f3f3f3f
DATA kmask1<>+8(SB)/8, $0x0f0f0f0f3f3f3f3f
GLOBL kmask1<>(SB), RODATA|NOPTR, $16

DATA kshift1<>+0(SB)/8, $0x0000000000000000
DATA kshift1<>+8(SB)/8, $0x0000000400000000
GLOBL kshift1<>(SB), RODATA|NOPTR, $16

DATA kmask2<>+0(SB)/8, $0x0303030300000000
DATA kmask2<>+8(SB)/8, $0x0303030300000000
GLOBL kmask2<>(SB), RODATA|NOPTR, $16

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

// Batch invariance: every product kernel reduces each token's eight lanes
// l0..l7 with the same tree, ((l0+l1)+(l2+l3))+((l4+l5)+(l6+l7)), so the
// 1-token, 4-token and tile kernels give identical bits. HSUM1, HSUM4 and
// HSUM3 (below) all compute that tree.

// Sum of the 8 floats in Y0 into X0.
#define HSUM1 \
	VHADDPS      Y0, Y0, Y0 \
	VHADDPS      Y0, Y0, Y0 \
	VEXTRACTF128 $1, Y0, X1 \
	VADDPS       X1, X0, X0

// Sums of Y0..Y3 into the four lanes of X0.
#define HSUM4 \
	VHADDPS      Y1, Y0, Y0 \
	VHADDPS      Y3, Y2, Y2 \
	VHADDPS      Y2, Y0, Y0 \
	VEXTRACTF128 $1, Y0, X1 \
	VADDPS       X1, X0, X0

// The 1-token float kernels keep one accumulator, so that each of its
// lanes adds the products in the same order as the 4-token and tile
// kernels (batch invariance); the loops are unrolled only to save
// branches.

// func dotF32AVX2(w *byte, x *float32, n int) float32
// n is a multiple of 8.
TEXT ·dotF32AVX2(SB), NOSPLIT, $0-28
	MOVQ   w+0(FP), SI
	MOVQ   x+8(FP), DI
	MOVQ   n+16(FP), CX
	VXORPS Y0, Y0, Y0

f32loop32:
	CMPQ        CX, $32
	JLT         f32loop8
	VMOVUPS     (SI), Y4
	VMOVUPS     32(SI), Y5
	VMOVUPS     64(SI), Y6
	VMOVUPS     96(SI), Y7
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS 32(DI), Y5, Y0
	VFMADD231PS 64(DI), Y6, Y0
	VFMADD231PS 96(DI), Y7, Y0
	ADDQ        $128, SI
	ADDQ        $128, DI
	SUBQ        $32, CX
	JMP         f32loop32

f32loop8:
	CMPQ        CX, $8
	JLT         f32done
	VMOVUPS     (SI), Y4
	VFMADD231PS (DI), Y4, Y0
	ADDQ        $32, SI
	ADDQ        $32, DI
	SUBQ        $8, CX
	JMP         f32loop8

f32done:
	HSUM1
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// func dotF16AVX2(w *byte, x *float32, n int) float32
// n is a multiple of 8.
TEXT ·dotF16AVX2(SB), NOSPLIT, $0-28
	MOVQ   w+0(FP), SI
	MOVQ   x+8(FP), DI
	MOVQ   n+16(FP), CX
	VXORPS Y0, Y0, Y0

f16loop32:
	CMPQ        CX, $32
	JLT         f16loop8
	VCVTPH2PS   (SI), Y4
	VCVTPH2PS   16(SI), Y5
	VCVTPH2PS   32(SI), Y6
	VCVTPH2PS   48(SI), Y7
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS 32(DI), Y5, Y0
	VFMADD231PS 64(DI), Y6, Y0
	VFMADD231PS 96(DI), Y7, Y0
	ADDQ        $64, SI
	ADDQ        $128, DI
	SUBQ        $32, CX
	JMP         f16loop32

f16loop8:
	CMPQ        CX, $8
	JLT         f16done
	VCVTPH2PS   (SI), Y4
	VFMADD231PS (DI), Y4, Y0
	ADDQ        $16, SI
	ADDQ        $32, DI
	SUBQ        $8, CX
	JMP         f16loop8

f16done:
	HSUM1
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// func dotBF16AVX2(w *byte, x *float32, n int) float32
// n is a multiple of 8.
TEXT ·dotBF16AVX2(SB), NOSPLIT, $0-28
	MOVQ   w+0(FP), SI
	MOVQ   x+8(FP), DI
	MOVQ   n+16(FP), CX
	VXORPS Y0, Y0, Y0

bf16loop16:
	CMPQ        CX, $16
	JLT         bf16loop8
	VPMOVZXWD   (SI), Y4
	VPMOVZXWD   16(SI), Y5
	VPSLLD      $16, Y4, Y4
	VPSLLD      $16, Y5, Y5
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS 32(DI), Y5, Y0
	ADDQ        $32, SI
	ADDQ        $64, DI
	SUBQ        $16, CX
	JMP         bf16loop16

bf16loop8:
	CMPQ        CX, $8
	JLT         bf16done
	VPMOVZXWD   (SI), Y4
	VPSLLD      $16, Y4, Y4
	VFMADD231PS (DI), Y4, Y0
	ADDQ        $16, SI
	ADDQ        $32, DI
	SUBQ        $8, CX
	JMP         bf16loop8

bf16done:
	HSUM1
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// The 4-token float kernels multiply one weight row with four activation
// rows xs bytes apart, converting each weight vector once.
// func dot4F32AVX2(w *byte, x *float32, xs int, n int, out *[4]float32)
// n is a multiple of 8.
TEXT ·dot4F32AVX2(SB), NOSPLIT, $0-40
	MOVQ   w+0(FP), SI
	MOVQ   x+8(FP), DI
	MOVQ   xs+16(FP), R8
	MOVQ   n+24(FP), CX
	LEAQ   (R8)(R8*2), R10
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

d4f32loop16:
	CMPQ        CX, $16
	JLT         d4f32loop8
	VMOVUPS     (SI), Y4
	VMOVUPS     32(SI), Y9
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS (DI)(R8*1), Y4, Y1
	VFMADD231PS (DI)(R8*2), Y4, Y2
	VFMADD231PS (DI)(R10*1), Y4, Y3
	VFMADD231PS 32(DI), Y9, Y0
	VFMADD231PS 32(DI)(R8*1), Y9, Y1
	VFMADD231PS 32(DI)(R8*2), Y9, Y2
	VFMADD231PS 32(DI)(R10*1), Y9, Y3
	ADDQ        $64, SI
	ADDQ        $64, DI
	SUBQ        $16, CX
	JMP         d4f32loop16

d4f32loop8:
	CMPQ        CX, $8
	JLT         d4f32done
	VMOVUPS     (SI), Y4
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS (DI)(R8*1), Y4, Y1
	VFMADD231PS (DI)(R8*2), Y4, Y2
	VFMADD231PS (DI)(R10*1), Y4, Y3
	ADDQ        $32, SI
	ADDQ        $32, DI
	SUBQ        $8, CX
	JMP         d4f32loop8

d4f32done:
	HSUM4
	MOVQ    out+32(FP), AX
	VMOVUPS X0, (AX)
	VZEROUPPER
	RET

// func dot4F16AVX2(w *byte, x *float32, xs int, n int, out *[4]float32)
TEXT ·dot4F16AVX2(SB), NOSPLIT, $0-40
	MOVQ   w+0(FP), SI
	MOVQ   x+8(FP), DI
	MOVQ   xs+16(FP), R8
	MOVQ   n+24(FP), CX
	LEAQ   (R8)(R8*2), R10
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

d4f16loop16:
	CMPQ        CX, $16
	JLT         d4f16loop8
	VCVTPH2PS   (SI), Y4
	VCVTPH2PS   16(SI), Y9
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS (DI)(R8*1), Y4, Y1
	VFMADD231PS (DI)(R8*2), Y4, Y2
	VFMADD231PS (DI)(R10*1), Y4, Y3
	VFMADD231PS 32(DI), Y9, Y0
	VFMADD231PS 32(DI)(R8*1), Y9, Y1
	VFMADD231PS 32(DI)(R8*2), Y9, Y2
	VFMADD231PS 32(DI)(R10*1), Y9, Y3
	ADDQ        $32, SI
	ADDQ        $64, DI
	SUBQ        $16, CX
	JMP         d4f16loop16

d4f16loop8:
	CMPQ        CX, $8
	JLT         d4f16done
	VCVTPH2PS   (SI), Y4
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS (DI)(R8*1), Y4, Y1
	VFMADD231PS (DI)(R8*2), Y4, Y2
	VFMADD231PS (DI)(R10*1), Y4, Y3
	ADDQ        $16, SI
	ADDQ        $32, DI
	SUBQ        $8, CX
	JMP         d4f16loop8

d4f16done:
	HSUM4
	MOVQ    out+32(FP), AX
	VMOVUPS X0, (AX)
	VZEROUPPER
	RET

// func dot4BF16AVX2(w *byte, x *float32, xs int, n int, out *[4]float32)
TEXT ·dot4BF16AVX2(SB), NOSPLIT, $0-40
	MOVQ   w+0(FP), SI
	MOVQ   x+8(FP), DI
	MOVQ   xs+16(FP), R8
	MOVQ   n+24(FP), CX
	LEAQ   (R8)(R8*2), R10
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

d4bf16loop8:
	CMPQ        CX, $8
	JLT         d4bf16done
	VPMOVZXWD   (SI), Y4
	VPSLLD      $16, Y4, Y4
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS (DI)(R8*1), Y4, Y1
	VFMADD231PS (DI)(R8*2), Y4, Y2
	VFMADD231PS (DI)(R10*1), Y4, Y3
	ADDQ        $16, SI
	ADDQ        $32, DI
	SUBQ        $8, CX
	JMP         d4bf16loop8

d4bf16done:
	HSUM4
	MOVQ    out+32(FP), AX
	VMOVUPS X0, (AX)
	VZEROUPPER
	RET

// One Q8_0 block (w at wo(SI), activations at xo(DI), scale at dof(DX))
// accumulated into acc. |w| times x·sign(w) keeps vpmaddubsw's unsigned
// operand non-negative; int8 activations never hold -128.
#define Q80BLOCK(wo, xo, dof, acc) \
	VMOVDQU      2+wo(SI), Y2 \
	VMOVDQU      xo(DI), Y3 \
	VPSIGNB      Y2, Y3, Y3 \
	VPABSB       Y2, Y2 \
	VPMADDUBSW   Y3, Y2, Y2 \
	VPMADDWD     Y15, Y2, Y2 \
	VCVTDQ2PS    Y2, Y2 \
	VPBROADCASTW wo(SI), X4 \
	VCVTPH2PS    X4, Y4 \
	VBROADCASTSS dof(DX), Y5 \
	VMULPS       Y5, Y4, Y4 \
	VFMADD231PS  Y4, Y2, acc

// func dotQ8_0AVX2(w *byte, x *int8, d *float32, nb int) float32
TEXT ·dotQ8_0AVX2(SB), NOSPLIT, $0-36
	MOVQ     w+0(FP), SI
	MOVQ     x+8(FP), DI
	MOVQ     d+16(FP), DX
	MOVQ     nb+24(FP), CX
	VXORPS   Y0, Y0, Y0
	VPCMPEQW Y15, Y15, Y15
	VPSRLW   $15, Y15, Y15

q80loop2:
	CMPQ CX, $2
	JLT  q80tail
	Q80BLOCK(0, 0, 0, Y0)
	Q80BLOCK(34, 32, 4, Y0)
	ADDQ $68, SI
	ADDQ $64, DI
	ADDQ $8, DX
	SUBQ $2, CX
	JMP  q80loop2

q80tail:
	TESTQ CX, CX
	JZ    q80done
	Q80BLOCK(0, 0, 0, Y0)

q80done:
	HSUM1
	VZEROUPPER
	MOVSS  X0, ret+32(FP)
	RET

// One Q4_0 block: nibbles to bytes (low nibbles are values 0-15, high
// nibbles 16-31), minus 8, then as Q8_0.
#define Q40BLOCK(wo, xo, dof, acc) \
	VMOVDQU      2+wo(SI), X2 \
	VPSRLW       $4, X2, X3 \
	VINSERTI128  $1, X3, Y2, Y2 \
	VPAND        Y14, Y2, Y2 \
	VPSUBB       Y13, Y2, Y2 \
	VMOVDQU      xo(DI), Y3 \
	VPSIGNB      Y2, Y3, Y3 \
	VPABSB       Y2, Y2 \
	VPMADDUBSW   Y3, Y2, Y2 \
	VPMADDWD     Y15, Y2, Y2 \
	VCVTDQ2PS    Y2, Y2 \
	VPBROADCASTW wo(SI), X4 \
	VCVTPH2PS    X4, Y4 \
	VBROADCASTSS dof(DX), Y5 \
	VMULPS       Y5, Y4, Y4 \
	VFMADD231PS  Y4, Y2, acc

// func dotQ4_0AVX2(w *byte, x *int8, d *float32, nb int) float32
TEXT ·dotQ4_0AVX2(SB), NOSPLIT, $0-36
	MOVQ     w+0(FP), SI
	MOVQ     x+8(FP), DI
	MOVQ     d+16(FP), DX
	MOVQ     nb+24(FP), CX
	VXORPS   Y0, Y0, Y0
	VPCMPEQW Y15, Y15, Y15
	VPSRLW   $15, Y15, Y15
	VMOVDQU  nib<>(SB), Y14
	VMOVDQU  eight<>(SB), Y13

q40loop2:
	CMPQ CX, $2
	JLT  q40tail
	Q40BLOCK(0, 0, 0, Y0)
	Q40BLOCK(18, 32, 4, Y0)
	ADDQ $36, SI
	ADDQ $64, DI
	ADDQ $8, DX
	SUBQ $2, CX
	JMP  q40loop2

q40tail:
	TESTQ CX, CX
	JZ    q40done
	Q40BLOCK(0, 0, 0, Y0)

q40done:
	HSUM1
	VZEROUPPER
	MOVSS  X0, ret+32(FP)
	RET

// One token of the 4-token integer kernels: Y4 holds signed weights, Y5
// their magnitudes, Y6 the weight scale.
#define TOK8(xa, da, acc, t1, t2) \
	VMOVDQU      xa, t1 \
	VPSIGNB      Y4, t1, t1 \
	VPMADDUBSW   t1, Y5, t1 \
	VPMADDWD     Y15, t1, t1 \
	VCVTDQ2PS    t1, t1 \
	VBROADCASTSS da, t2 \
	VMULPS       Y6, t2, t2 \
	VFMADD231PS  t2, t1, acc

#define TOKENS4 \
	TOK8((DI), (DX), Y0, Y7, Y8) \
	TOK8((DI)(R8*1), (DX)(R9*1), Y1, Y9, Y10) \
	TOK8((DI)(R8*2), (DX)(R9*2), Y2, Y11, Y12) \
	TOK8((DI)(R10*1), (DX)(R11*1), Y3, Y7, Y8)

// The 4-token kernels take activation rows xs bytes apart and their scale
// rows ds bytes apart.
// func dot4Q8_0AVX2(w *byte, x *int8, xs int, d *float32, ds int, nb int, out *[4]float32)
TEXT ·dot4Q8_0AVX2(SB), NOSPLIT, $0-56
	MOVQ     w+0(FP), SI
	MOVQ     x+8(FP), DI
	MOVQ     xs+16(FP), R8
	MOVQ     d+24(FP), DX
	MOVQ     ds+32(FP), R9
	MOVQ     nb+40(FP), CX
	LEAQ     (R8)(R8*2), R10
	LEAQ     (R9)(R9*2), R11
	VXORPS   Y0, Y0, Y0
	VXORPS   Y1, Y1, Y1
	VXORPS   Y2, Y2, Y2
	VXORPS   Y3, Y3, Y3
	VPCMPEQW Y15, Y15, Y15
	VPSRLW   $15, Y15, Y15
	TESTQ    CX, CX
	JZ       d4q80done

d4q80loop:
	VMOVDQU      2(SI), Y4
	VPABSB       Y4, Y5
	VPBROADCASTW (SI), X6
	VCVTPH2PS    X6, Y6
	TOKENS4
	ADDQ         $34, SI
	ADDQ         $32, DI
	ADDQ         $4, DX
	DECQ         CX
	JNZ          d4q80loop

d4q80done:
	HSUM4
	MOVQ    out+48(FP), AX
	VMOVUPS X0, (AX)
	VZEROUPPER
	RET

// func dot4Q4_0AVX2(w *byte, x *int8, xs int, d *float32, ds int, nb int, out *[4]float32)
TEXT ·dot4Q4_0AVX2(SB), NOSPLIT, $0-56
	MOVQ     w+0(FP), SI
	MOVQ     x+8(FP), DI
	MOVQ     xs+16(FP), R8
	MOVQ     d+24(FP), DX
	MOVQ     ds+32(FP), R9
	MOVQ     nb+40(FP), CX
	LEAQ     (R8)(R8*2), R10
	LEAQ     (R9)(R9*2), R11
	VXORPS   Y0, Y0, Y0
	VXORPS   Y1, Y1, Y1
	VXORPS   Y2, Y2, Y2
	VXORPS   Y3, Y3, Y3
	VPCMPEQW Y15, Y15, Y15
	VPSRLW   $15, Y15, Y15
	VMOVDQU  nib<>(SB), Y14
	VMOVDQU  eight<>(SB), Y13
	TESTQ    CX, CX
	JZ       d4q40done

d4q40loop:
	VMOVDQU      2(SI), X4
	VPSRLW       $4, X4, X5
	VINSERTI128  $1, X5, Y4, Y4
	VPAND        Y14, Y4, Y4
	VPSUBB       Y13, Y4, Y4
	VPABSB       Y4, Y5
	VPBROADCASTW (SI), X6
	VCVTPH2PS    X6, Y6
	TOKENS4
	ADDQ         $18, SI
	ADDQ         $32, DI
	ADDQ         $4, DX
	DECQ         CX
	JNZ          d4q40loop

d4q40done:
	HSUM4
	MOVQ    out+48(FP), AX
	VMOVUPS X0, (AX)
	VZEROUPPER
	RET

// func quantQ8AVX2(q *int8, d *float32, m *float32, x *float32, nb int)
// Each block of 32 floats becomes 32 int8 (rounded to nearest even), the
// scale max|x|/127 and m = Σq·scale·8: the same arithmetic as quantActQ8Go.
TEXT ·quantQ8AVX2(SB), NOSPLIT, $0-40
	MOVQ    q+0(FP), DI
	MOVQ    d+8(FP), DX
	MOVQ    m+16(FP), BX
	MOVQ    x+24(FP), SI
	MOVQ    nb+32(FP), CX
	VPCMPEQW Y10, Y10, Y10
	VPSRLW   $15, Y10, Y10
	VPCMPEQB Y11, Y11, Y11
	VPABSB   Y11, Y11
	MOVL     $0x41000000, AX
	VMOVD    AX, X9
	VMOVUPS absf<>(SB), Y15
	VMOVDQU packPerm<>(SB), Y14
	MOVL    $0x42fe0000, AX
	VMOVD   AX, X13
	MOVL    $0x3f800000, AX
	VMOVD   AX, X12
	TESTQ   CX, CX
	JZ      qq8done

qq8loop:
	VMOVUPS      (SI), Y0
	VMOVUPS      32(SI), Y1
	VMOVUPS      64(SI), Y2
	VMOVUPS      96(SI), Y3
	VANDPS       Y15, Y0, Y4
	VANDPS       Y15, Y1, Y5
	VANDPS       Y15, Y2, Y6
	VANDPS       Y15, Y3, Y7
	VMAXPS       Y5, Y4, Y4
	VMAXPS       Y7, Y6, Y6
	VMAXPS       Y6, Y4, Y4
	VEXTRACTF128 $1, Y4, X5
	VMAXPS       X5, X4, X4
	VPERMILPS    $0x4e, X4, X5
	VMAXPS       X5, X4, X4
	VPERMILPS    $0xb1, X4, X5
	VMAXPS       X5, X4, X4
	VDIVSS       X13, X4, X5
	VMOVSS       X5, (DX)
	VXORPS       X6, X6, X6
	VCMPSS       $4, X6, X5, X7
	VDIVSS       X5, X12, X8
	VANDPS       X7, X8, X8
	VBROADCASTSS X8, Y8
	VMULPS       Y8, Y0, Y0
	VMULPS       Y8, Y1, Y1
	VMULPS       Y8, Y2, Y2
	VMULPS       Y8, Y3, Y3
	VCVTPS2DQ    Y0, Y0
	VCVTPS2DQ    Y1, Y1
	VCVTPS2DQ    Y2, Y2
	VCVTPS2DQ    Y3, Y3
	VPACKSSDW    Y1, Y0, Y0
	VPACKSSDW    Y3, Y2, Y2
	VPACKSSWB    Y2, Y0, Y0
	VPERMD       Y0, Y14, Y0
	VMOVDQU      Y0, (DI)
	VPMADDUBSW   Y0, Y11, Y1
	VPMADDWD     Y10, Y1, Y1
	VEXTRACTI128 $1, Y1, X2
	VPADDD       X2, X1, X1
	VPSHUFD      $0x4e, X1, X2
	VPADDD       X2, X1, X1
	VPSHUFD      $0xb1, X1, X2
	VPADDD       X2, X1, X1
	VCVTDQ2PS    X1, X1
	VMULSS       X5, X1, X1
	VMULSS       X9, X1, X1
	VMOVSS       X1, (BX)
	ADDQ         $128, SI
	ADDQ         $32, DI
	ADDQ         $4, DX
	ADDQ         $4, BX
	DECQ         CX
	JNZ          qq8loop

qq8done:
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

// Unpacks the 12 scale bytes at 4(SI) of a Q4_K/Q5_K super-block into Y8
// (the eight scales as int16, repeated in both lanes) and Y9 (the eight
// mins as int32).
#define KSCALES \
	MOVL        4(SI), AX \
	MOVL        8(SI), R8 \
	MOVL        12(SI), R9 \
	MOVL        AX, R10 \
	SHRL        $6, R10 \
	ANDL        $0x03030303, R10 \
	SHLL        $4, R10 \
	MOVL        R9, R11 \
	ANDL        $0x0f0f0f0f, R11 \
	ORL         R11, R10 \
	ANDL        $0x3f3f3f3f, AX \
	MOVL        R8, R11 \
	SHRL        $6, R11 \
	ANDL        $0x03030303, R11 \
	SHLL        $4, R11 \
	SHRL        $4, R9 \
	ANDL        $0x0f0f0f0f, R9 \
	ORL         R9, R11 \
	ANDL        $0x3f3f3f3f, R8 \
	SHLQ        $32, R10 \
	ORQ         R10, AX \
	SHLQ        $32, R11 \
	ORQ         R11, R8 \
	VMOVQ       AX, X8 \
	VPMOVZXBW   X8, X8 \
	VINSERTI128 $1, X8, Y8, Y8 \
	VMOVQ       R8, X9 \
	VPMOVZXBD   X9, Y9

// Mins and scales of a Q4_K/Q5_K super-block: subtracts dmin·dx·Σ m_j·(sum
// of sub-block j of x) from Y0 and leaves d·dx in Y11. Subtracting here,
// before the block's scaled sum is added, is the order dot4Q4KAVX2 uses.
#define KMINS \
	VPMADDWD     (BX), Y15, Y10 \
	VPMULLD      Y9, Y10, Y10 \
	VCVTDQ2PS    Y10, Y10 \
	VBROADCASTSS (DX), Y12 \
	VPBROADCASTW 2(SI), X11 \
	VCVTPH2PS    X11, Y11 \
	VMULPS       Y12, Y11, Y11 \
	VFNMADD231PS Y11, Y10, Y0 \
	VPBROADCASTW (SI), X11 \
	VCVTPH2PS    X11, Y11 \
	VMULPS       Y12, Y11, Y11

// Y3, Y4 hold the quants of sub-blocks 2c and 2c+1 (as bytes); multiply by
// the activations at xo(DI), xo+32(DI), scale and add to the int32 sums Y2.
#define KSUB(xo, so) \
	VPMADDUBSW xo(DI), Y3, Y3 \
	VPMADDUBSW xo+32(DI), Y4, Y4 \
	VPSHUFB    q4kShuf<>+so(SB), Y8, Y5 \
	VPSHUFB    q4kShuf<>+so+32(SB), Y8, Y6 \
	VPMADDWD   Y5, Y3, Y3 \
	VPMADDWD   Y6, Y4, Y4 \
	VPADDD     Y3, Y2, Y2 \
	VPADDD     Y4, Y2, Y2

#define Q4KCHUNK(qo, xo, so) \
	VMOVDQU qo(SI), Y3 \
	VPSRLW  $4, Y3, Y4 \
	VPAND   Y14, Y3, Y3 \
	VPAND   Y14, Y4, Y4 \
	KSUB(xo, so)

// func dotQ4KAVX2(w *byte, x *int8, d *float32, s *int16, nb int) float32
TEXT ·dotQ4KAVX2(SB), NOSPLIT, $0-44
	MOVQ     w+0(FP), SI
	MOVQ     x+8(FP), DI
	MOVQ     d+16(FP), DX
	MOVQ     s+24(FP), BX
	MOVQ     nb+32(FP), CX
	VXORPS   Y0, Y0, Y0
	VMOVDQU  nib<>(SB), Y14
	VPCMPEQW Y15, Y15, Y15
	VPSRLW   $15, Y15, Y15
	TESTQ    CX, CX
	JZ       q4kdone

q4kloop:
	KSCALES
	KMINS
	VPXOR       Y2, Y2, Y2
	Q4KCHUNK(16, 0, 0)
	Q4KCHUNK(48, 64, 64)
	Q4KCHUNK(80, 128, 128)
	Q4KCHUNK(112, 192, 192)
	VCVTDQ2PS   Y2, Y2
	VFMADD231PS Y11, Y2, Y0
	ADDQ        $144, SI
	ADDQ        $256, DI
	ADDQ        $4, DX
	ADDQ        $32, BX
	DECQ        CX
	JNZ         q4kloop

q4kdone:
	HSUM1
	VZEROUPPER
	MOVSS  X0, ret+40(FP)
	RET

// Q5_K: the fifth bits for chunk c sit in bits 2c and 2c+1 of qh (Y7);
// shift them to bit 4 (shl/shr chosen per chunk) and or them in.
#define Q5KCHUNK(qo, xo, so, op1, n1, op2, n2) \
	VMOVDQU qo(SI), Y3 \
	VPSRLW  $4, Y3, Y4 \
	VPAND   Y14, Y3, Y3 \
	VPAND   Y14, Y4, Y4 \
	op1     $n1, Y7, Y5 \
	op2     $n2, Y7, Y6 \
	VPAND   Y13, Y5, Y5 \
	VPAND   Y13, Y6, Y6 \
	VPOR    Y5, Y3, Y3 \
	VPOR    Y6, Y4, Y4 \
	KSUB(xo, so)

// func dotQ5KAVX2(w *byte, x *int8, d *float32, s *int16, nb int) float32
TEXT ·dotQ5KAVX2(SB), NOSPLIT, $0-44
	MOVQ     w+0(FP), SI
	MOVQ     x+8(FP), DI
	MOVQ     d+16(FP), DX
	MOVQ     s+24(FP), BX
	MOVQ     nb+32(FP), CX
	VXORPS   Y0, Y0, Y0
	VMOVDQU  nib<>(SB), Y14
	VMOVDQU  m10<>(SB), Y13
	VPCMPEQW Y15, Y15, Y15
	VPSRLW   $15, Y15, Y15
	TESTQ    CX, CX
	JZ       q5kdone

q5kloop:
	KSCALES
	KMINS
	VPXOR       Y2, Y2, Y2
	VMOVDQU     16(SI), Y7
	Q5KCHUNK(48, 0, 0, VPSLLW, 4, VPSLLW, 3)
	Q5KCHUNK(80, 64, 64, VPSLLW, 2, VPSLLW, 1)
	Q5KCHUNK(112, 128, 128, VPSRLW, 0, VPSRLW, 1)
	Q5KCHUNK(144, 192, 192, VPSRLW, 2, VPSRLW, 3)
	VCVTDQ2PS   Y2, Y2
	VFMADD231PS Y11, Y2, Y0
	ADDQ        $176, SI
	ADDQ        $256, DI
	ADDQ        $4, DX
	ADDQ        $32, BX
	DECQ        CX
	JNZ         q5kloop

q5kdone:
	HSUM1
	VZEROUPPER
	MOVSS  X0, ret+40(FP)
	RET

// One 32-value chunk of Q6_K: the 6-bit quant (0-63) is built in Y5 by the
// caller; multiply by activations at xo(DI), scale by the two group scales
// (shuffle g) and add to Y2.
#define Q6KSUM(xo, so) \
	VPMADDUBSW xo(DI), Y5, Y5 \
	VPSHUFB    q6kShuf<>+so(SB), X8, X7 \
	VPMOVSXBW  X7, Y7 \
	VPMADDWD   Y7, Y5, Y5 \
	VPADDD     Y5, Y2, Y2

// One half (128 values) of a Q6_K super-block: ql at qo, qo+32, qh at ho.
#define Q6KHALF(qo, ho, xo, so) \
	VMOVDQU qo(SI), Y3 \
	VMOVDQU qo+32(SI), Y4 \
	VMOVDQU ho(SI), Y6 \
	VPAND   Y14, Y3, Y5 \
	VPSLLW  $4, Y6, Y7 \
	VPAND   Y13, Y7, Y7 \
	VPOR    Y7, Y5, Y5 \
	Q6KSUM(xo, so) \
	VPAND   Y14, Y4, Y5 \
	VPSLLW  $2, Y6, Y7 \
	VPAND   Y13, Y7, Y7 \
	VPOR    Y7, Y5, Y5 \
	Q6KSUM(xo+32, so+16) \
	VPSRLW  $4, Y3, Y5 \
	VPAND   Y14, Y5, Y5 \
	VPAND   Y13, Y6, Y7 \
	VPOR    Y7, Y5, Y5 \
	Q6KSUM(xo+64, so+32) \
	VPSRLW  $4, Y4, Y5 \
	VPAND   Y14, Y5, Y5 \
	VPSRLW  $2, Y6, Y7 \
	VPAND   Y13, Y7, Y7 \
	VPOR    Y7, Y5, Y5 \
	Q6KSUM(xo+96, so+48)

// func dotQ6KAVX2(w *byte, x *int8, d *float32, s *int16, nb int) float32
// The quants are used unsigned (0-63); the offset of 32 is taken off with
// the activation group sums: Σ sc·(q-32)·x = Σ sc·q·x - 32·Σ sc·sum(x).
TEXT ·dotQ6KAVX2(SB), NOSPLIT, $0-44
	MOVQ    w+0(FP), SI
	MOVQ    x+8(FP), DI
	MOVQ    d+16(FP), DX
	MOVQ    s+24(FP), BX
	MOVQ    nb+32(FP), CX
	VXORPS  Y0, Y0, Y0
	VMOVDQU nib<>(SB), Y14
	VMOVDQU m30<>(SB), Y13
	TESTQ   CX, CX
	JZ      q6kdone

q6kloop:
	VBROADCASTSS (DX), Y12
	VPBROADCASTW 208(SI), X11
	VCVTPH2PS    X11, Y11
	VMULPS       Y12, Y11, Y11
	VMOVDQU      192(SI), X8
	VPMOVSXBW    X8, Y9
	VPMADDWD     (BX), Y9, Y10
	VPSLLD       $5, Y10, Y10
	VPXOR        Y2, Y2, Y2
	VPSUBD       Y10, Y2, Y2
	Q6KHALF(0, 128, 0, 0)
	Q6KHALF(64, 160, 128, 64)
	VCVTDQ2PS    Y2, Y2
	VFMADD231PS  Y11, Y2, Y0
	ADDQ         $210, SI
	ADDQ         $256, DI
	ADDQ         $4, DX
	ADDQ         $32, BX
	DECQ         CX
	JNZ          q6kloop

q6kdone:
	HSUM1
	VZEROUPPER
	MOVSS X0, ret+40(FP)
	RET

// Interleaved kernels. A group of eight rows stores, per block of 32
// values, the eight f16 scales and then the quants in 4-byte pieces: piece
// c of row j at 16+32c+4j. One 32-byte load thus holds the same four
// columns of all eight rows, which multiply one broadcast 4-byte piece of
// the activations; lane j of the result belongs to row j, so no horizontal
// sums are needed and one conversion serves eight rows.

// Q4_0 pieces: low nibbles are columns 4c..4c+3, high nibbles 16+4c..;
// quants are used as 0..15 and 8·Σx is subtracted through m. Sums of
// eight vpmaddubsw results (each at most 2·15·127) fit in int16.
#define G40PIECE(wo, xo) \
	VMOVDQU      wo(SI), Y1 \
	VPSRLW       $4, Y1, Y2 \
	VPAND        Y14, Y1, Y1 \
	VPAND        Y14, Y2, Y2 \
	VPBROADCASTD xo(DI), Y3 \
	VPMADDUBSW   Y3, Y1, Y3 \
	VPADDW       Y3, Y4, Y4 \
	VPBROADCASTD xo+16(DI), Y3 \
	VPMADDUBSW   Y3, Y2, Y3 \
	VPADDW       Y3, Y4, Y4

// func q40x8AVX2(w *byte, x *int8, d *float32, m *float32, nb int, out *float32)
TEXT ·q40x8AVX2(SB), NOSPLIT, $0-48
	MOVQ     w+0(FP), SI
	MOVQ     x+8(FP), DI
	MOVQ     d+16(FP), DX
	MOVQ     m+24(FP), BX
	MOVQ     nb+32(FP), CX
	VXORPS   Y0, Y0, Y0
	VMOVDQU  nib<>(SB), Y14
	VPCMPEQW Y15, Y15, Y15
	VPSRLW   $15, Y15, Y15
	TESTQ    CX, CX
	JZ       g40done

g40loop:
	VPXOR        Y4, Y4, Y4
	G40PIECE(16, 0)
	G40PIECE(48, 4)
	G40PIECE(80, 8)
	G40PIECE(112, 12)
	VPMADDWD     Y15, Y4, Y4
	VCVTDQ2PS    Y4, Y4
	VBROADCASTSS (DX), Y6
	VBROADCASTSS (BX), Y7
	VFMSUB213PS  Y7, Y6, Y4
	VCVTPH2PS    (SI), Y8
	VFMADD231PS  Y8, Y4, Y0
	ADDQ         $144, SI
	ADDQ         $32, DI
	ADDQ         $4, DX
	ADDQ         $4, BX
	DECQ         CX
	JNZ          g40loop

g40done:
	MOVQ    out+40(FP), AX
	VMOVUPS Y0, (AX)
	VZEROUPPER
	RET

// Four tokens: int16 sums in Y4..Y7, float sums in Y0..Y3; activation
// rows xs bytes apart (R8, R10 = 3·xs), scale rows ds apart (R9, R11).
#define G40TOK(xa, xb, acc) \
	VPBROADCASTD xa, Y10 \
	VPMADDUBSW   Y10, Y8, Y10 \
	VPADDW       Y10, acc, acc \
	VPBROADCASTD xb, Y11 \
	VPMADDUBSW   Y11, Y9, Y11 \
	VPADDW       Y11, acc, acc

#define G40PIECE4(wo, xo) \
	VMOVDQU wo(SI), Y8 \
	VPSRLW  $4, Y8, Y9 \
	VPAND   Y14, Y8, Y8 \
	VPAND   Y14, Y9, Y9 \
	G40TOK(xo(DI), xo+16(DI), Y4) \
	G40TOK(xo(DI)(R8*1), xo+16(DI)(R8*1), Y5) \
	G40TOK(xo(DI)(R8*2), xo+16(DI)(R8*2), Y6) \
	G40TOK(xo(DI)(R10*1), xo+16(DI)(R10*1), Y7)

#define G40END(da, ma, iacc, acc) \
	VPMADDWD     Y15, iacc, iacc \
	VCVTDQ2PS    iacc, iacc \
	VBROADCASTSS da, Y10 \
	VBROADCASTSS ma, Y11 \
	VFMSUB213PS  Y11, Y10, iacc \
	VFMADD231PS  Y12, iacc, acc

// func q40x8x4AVX2(w *byte, x *int8, xs int, d *float32, m *float32, ds int, nb int, out *float32, os int)
TEXT ·q40x8x4AVX2(SB), NOSPLIT, $0-72
	MOVQ     w+0(FP), SI
	MOVQ     x+8(FP), DI
	MOVQ     xs+16(FP), R8
	MOVQ     d+24(FP), DX
	MOVQ     m+32(FP), BX
	MOVQ     ds+40(FP), R9
	MOVQ     nb+48(FP), CX
	LEAQ     (R8)(R8*2), R10
	LEAQ     (R9)(R9*2), R11
	VXORPS   Y0, Y0, Y0
	VXORPS   Y1, Y1, Y1
	VXORPS   Y2, Y2, Y2
	VXORPS   Y3, Y3, Y3
	VMOVDQU  nib<>(SB), Y14
	VPCMPEQW Y15, Y15, Y15
	VPSRLW   $15, Y15, Y15
	TESTQ    CX, CX
	JZ       g40x4done

g40x4loop:
	VPXOR     Y4, Y4, Y4
	VPXOR     Y5, Y5, Y5
	VPXOR     Y6, Y6, Y6
	VPXOR     Y7, Y7, Y7
	G40PIECE4(16, 0)
	G40PIECE4(48, 4)
	G40PIECE4(80, 8)
	G40PIECE4(112, 12)
	VCVTPH2PS (SI), Y12
	G40END((DX), (BX), Y4, Y0)
	G40END((DX)(R9*1), (BX)(R9*1), Y5, Y1)
	G40END((DX)(R9*2), (BX)(R9*2), Y6, Y2)
	G40END((DX)(R11*1), (BX)(R11*1), Y7, Y3)
	ADDQ      $144, SI
	ADDQ      $32, DI
	ADDQ      $4, DX
	ADDQ      $4, BX
	DECQ      CX
	JNZ       g40x4loop

g40x4done:
	MOVQ    out+56(FP), AX
	MOVQ    os+64(FP), R12
	LEAQ    (R12)(R12*2), R13
	VMOVUPS Y0, (AX)
	VMOVUPS Y1, (AX)(R12*1)
	VMOVUPS Y2, (AX)(R12*2)
	VMOVUPS Y3, (AX)(R13*1)
	VZEROUPPER
	RET

// Q8_0 pieces: signed quants, so |w| times x·sign(w) as in dotQ8_0AVX2;
// the int16 pair sums can reach 2·128·127 and are widened at once.
#define G80PIECE(wo, xo) \
	VMOVDQU      wo(SI), Y1 \
	VPABSB       Y1, Y2 \
	VPBROADCASTD xo(DI), Y3 \
	VPSIGNB      Y1, Y3, Y3 \
	VPMADDUBSW   Y3, Y2, Y3 \
	VPMADDWD     Y15, Y3, Y3 \
	VPADDD       Y3, Y4, Y4

// func q80x8AVX2(w *byte, x *int8, d *float32, nb int, out *float32)
TEXT ·q80x8AVX2(SB), NOSPLIT, $0-40
	MOVQ     w+0(FP), SI
	MOVQ     x+8(FP), DI
	MOVQ     d+16(FP), DX
	MOVQ     nb+24(FP), CX
	VXORPS   Y0, Y0, Y0
	VPCMPEQW Y15, Y15, Y15
	VPSRLW   $15, Y15, Y15
	TESTQ    CX, CX
	JZ       g80done

g80loop:
	VPXOR        Y4, Y4, Y4
	G80PIECE(16, 0)
	G80PIECE(48, 4)
	G80PIECE(80, 8)
	G80PIECE(112, 12)
	G80PIECE(144, 16)
	G80PIECE(176, 20)
	G80PIECE(208, 24)
	G80PIECE(240, 28)
	VCVTDQ2PS    Y4, Y4
	VBROADCASTSS (DX), Y6
	VCVTPH2PS    (SI), Y8
	VMULPS       Y6, Y8, Y8
	VFMADD231PS  Y8, Y4, Y0
	ADDQ         $272, SI
	ADDQ         $32, DI
	ADDQ         $4, DX
	DECQ         CX
	JNZ          g80loop

g80done:
	MOVQ    out+32(FP), AX
	VMOVUPS Y0, (AX)
	VZEROUPPER
	RET

#define G80TOK(xa, acc) \
	VPBROADCASTD xa, Y10 \
	VPSIGNB      Y8, Y10, Y10 \
	VPMADDUBSW   Y10, Y9, Y10 \
	VPMADDWD     Y15, Y10, Y10 \
	VPADDD       Y10, acc, acc

#define G80PIECE4(wo, xo) \
	VMOVDQU wo(SI), Y8 \
	VPABSB  Y8, Y9 \
	G80TOK(xo(DI), Y4) \
	G80TOK(xo(DI)(R8*1), Y5) \
	G80TOK(xo(DI)(R8*2), Y6) \
	G80TOK(xo(DI)(R10*1), Y7)

#define G80END(da, iacc, acc) \
	VCVTDQ2PS    iacc, iacc \
	VBROADCASTSS da, Y10 \
	VMULPS       Y12, Y10, Y10 \
	VFMADD231PS  Y10, iacc, acc

// func q80x8x4AVX2(w *byte, x *int8, xs int, d *float32, ds int, nb int, out *float32, os int)
TEXT ·q80x8x4AVX2(SB), NOSPLIT, $0-64
	MOVQ     w+0(FP), SI
	MOVQ     x+8(FP), DI
	MOVQ     xs+16(FP), R8
	MOVQ     d+24(FP), DX
	MOVQ     ds+32(FP), R9
	MOVQ     nb+40(FP), CX
	LEAQ     (R8)(R8*2), R10
	LEAQ     (R9)(R9*2), R11
	VXORPS   Y0, Y0, Y0
	VXORPS   Y1, Y1, Y1
	VXORPS   Y2, Y2, Y2
	VXORPS   Y3, Y3, Y3
	VPCMPEQW Y15, Y15, Y15
	VPSRLW   $15, Y15, Y15
	TESTQ    CX, CX
	JZ       g80x4done

g80x4loop:
	VPXOR     Y4, Y4, Y4
	VPXOR     Y5, Y5, Y5
	VPXOR     Y6, Y6, Y6
	VPXOR     Y7, Y7, Y7
	G80PIECE4(16, 0)
	G80PIECE4(48, 4)
	G80PIECE4(80, 8)
	G80PIECE4(112, 12)
	G80PIECE4(144, 16)
	G80PIECE4(176, 20)
	G80PIECE4(208, 24)
	G80PIECE4(240, 28)
	VCVTPH2PS (SI), Y12
	G80END((DX), Y4, Y0)
	G80END((DX)(R9*1), Y5, Y1)
	G80END((DX)(R9*2), Y6, Y2)
	G80END((DX)(R11*1), Y7, Y3)
	ADDQ      $272, SI
	ADDQ      $32, DI
	ADDQ      $4, DX
	DECQ      CX
	JNZ       g80x4loop

g80x4done:
	MOVQ    out+48(FP), AX
	MOVQ    os+56(FP), R12
	LEAQ    (R12)(R12*2), R13
	VMOVUPS Y0, (AX)
	VMOVUPS Y1, (AX)(R12*1)
	VMOVUPS Y2, (AX)(R12*2)
	VMOVUPS Y3, (AX)(R13*1)
	VZEROUPPER
	RET

// Float register tiles: three weight rows (rb bytes apart) times four
// activation rows (xs bytes apart), twelve accumulators. Each weight vector
// is converted once and meets four tokens; each activation vector is read
// from L1 by three multiply-adds. Results go to out[t·os + r], three floats
// per token, written one by one so neighbouring rows (another thread's)
// are never touched.

// Sums of a, b, c (8 lanes each) into lanes 0-2 of a's X register.
#define HSUM3(a, b, c, ax, tx) \
	VHADDPS      b, a, a \
	VHADDPS      c, c, c \
	VHADDPS      c, a, a \
	VEXTRACTF128 $1, a, tx \
	VADDPS       tx, ax, ax

#define STORE3(ax) \
	VMOVSS     ax, (AX) \
	VEXTRACTPS $1, ax, 4(AX) \
	VEXTRACTPS $2, ax, 8(AX)

// func tile34F32AVX2(w *byte, rb int, x *float32, xs int, n int, out *float32, os int)
// n is a multiple of 8.
TEXT ·tile34F32AVX2(SB), NOSPLIT, $0-56
	MOVQ w+0(FP), SI
	MOVQ rb+8(FP), R9
	MOVQ x+16(FP), DI
	MOVQ xs+24(FP), R8
	MOVQ n+32(FP), CX
	LEAQ (R8)(R8*2), R10
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	TESTQ CX, CX
	JZ t34f32done

t34f32loop:
	VMOVUPS (SI), Y12
	VMOVUPS (SI)(R9*1), Y13
	VMOVUPS (SI)(R9*2), Y14
	VFMADD231PS (DI), Y12, Y0
	VFMADD231PS (DI), Y13, Y1
	VFMADD231PS (DI), Y14, Y2
	VFMADD231PS (DI)(R8*1), Y12, Y3
	VFMADD231PS (DI)(R8*1), Y13, Y4
	VFMADD231PS (DI)(R8*1), Y14, Y5
	VFMADD231PS (DI)(R8*2), Y12, Y6
	VFMADD231PS (DI)(R8*2), Y13, Y7
	VFMADD231PS (DI)(R8*2), Y14, Y8
	VFMADD231PS (DI)(R10*1), Y12, Y9
	VFMADD231PS (DI)(R10*1), Y13, Y10
	VFMADD231PS (DI)(R10*1), Y14, Y11
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JNZ  t34f32loop

t34f32done:
	MOVQ out+40(FP), AX
	MOVQ os+48(FP), R11
	HSUM3(Y0, Y1, Y2, X0, X15)
	STORE3(X0)
	ADDQ R11, AX
	HSUM3(Y3, Y4, Y5, X3, X15)
	STORE3(X3)
	ADDQ R11, AX
	HSUM3(Y6, Y7, Y8, X6, X15)
	STORE3(X6)
	ADDQ R11, AX
	HSUM3(Y9, Y10, Y11, X9, X15)
	STORE3(X9)
	VZEROUPPER
	RET

// func tile34F16AVX2(w *byte, rb int, x *float32, xs int, n int, out *float32, os int)
// n is a multiple of 8.
TEXT ·tile34F16AVX2(SB), NOSPLIT, $0-56
	MOVQ w+0(FP), SI
	MOVQ rb+8(FP), R9
	MOVQ x+16(FP), DI
	MOVQ xs+24(FP), R8
	MOVQ n+32(FP), CX
	LEAQ (R8)(R8*2), R10
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	TESTQ CX, CX
	JZ t34f16done

t34f16loop:
	VCVTPH2PS (SI), Y12
	VCVTPH2PS (SI)(R9*1), Y13
	VCVTPH2PS (SI)(R9*2), Y14
	VFMADD231PS (DI), Y12, Y0
	VFMADD231PS (DI), Y13, Y1
	VFMADD231PS (DI), Y14, Y2
	VFMADD231PS (DI)(R8*1), Y12, Y3
	VFMADD231PS (DI)(R8*1), Y13, Y4
	VFMADD231PS (DI)(R8*1), Y14, Y5
	VFMADD231PS (DI)(R8*2), Y12, Y6
	VFMADD231PS (DI)(R8*2), Y13, Y7
	VFMADD231PS (DI)(R8*2), Y14, Y8
	VFMADD231PS (DI)(R10*1), Y12, Y9
	VFMADD231PS (DI)(R10*1), Y13, Y10
	VFMADD231PS (DI)(R10*1), Y14, Y11
	ADDQ $16, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JNZ  t34f16loop

t34f16done:
	MOVQ out+40(FP), AX
	MOVQ os+48(FP), R11
	HSUM3(Y0, Y1, Y2, X0, X15)
	STORE3(X0)
	ADDQ R11, AX
	HSUM3(Y3, Y4, Y5, X3, X15)
	STORE3(X3)
	ADDQ R11, AX
	HSUM3(Y6, Y7, Y8, X6, X15)
	STORE3(X6)
	ADDQ R11, AX
	HSUM3(Y9, Y10, Y11, X9, X15)
	STORE3(X9)
	VZEROUPPER
	RET

// func tile34BF16AVX2(w *byte, rb int, x *float32, xs int, n int, out *float32, os int)
// n is a multiple of 8.
TEXT ·tile34BF16AVX2(SB), NOSPLIT, $0-56
	MOVQ w+0(FP), SI
	MOVQ rb+8(FP), R9
	MOVQ x+16(FP), DI
	MOVQ xs+24(FP), R8
	MOVQ n+32(FP), CX
	LEAQ (R8)(R8*2), R10
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	TESTQ CX, CX
	JZ t34bf16done

t34bf16loop:
	VPMOVZXWD (SI), Y12
	VPMOVZXWD (SI)(R9*1), Y13
	VPMOVZXWD (SI)(R9*2), Y14
	VPSLLD $16, Y12, Y12
	VPSLLD $16, Y13, Y13
	VPSLLD $16, Y14, Y14
	VFMADD231PS (DI), Y12, Y0
	VFMADD231PS (DI), Y13, Y1
	VFMADD231PS (DI), Y14, Y2
	VFMADD231PS (DI)(R8*1), Y12, Y3
	VFMADD231PS (DI)(R8*1), Y13, Y4
	VFMADD231PS (DI)(R8*1), Y14, Y5
	VFMADD231PS (DI)(R8*2), Y12, Y6
	VFMADD231PS (DI)(R8*2), Y13, Y7
	VFMADD231PS (DI)(R8*2), Y14, Y8
	VFMADD231PS (DI)(R10*1), Y12, Y9
	VFMADD231PS (DI)(R10*1), Y13, Y10
	VFMADD231PS (DI)(R10*1), Y14, Y11
	ADDQ $16, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JNZ  t34bf16loop

t34bf16done:
	MOVQ out+40(FP), AX
	MOVQ os+48(FP), R11
	HSUM3(Y0, Y1, Y2, X0, X15)
	STORE3(X0)
	ADDQ R11, AX
	HSUM3(Y3, Y4, Y5, X3, X15)
	STORE3(X3)
	ADDQ R11, AX
	HSUM3(Y6, Y7, Y8, X6, X15)
	STORE3(X6)
	ADDQ R11, AX
	HSUM3(Y9, Y10, Y11, X9, X15)
	STORE3(X9)
	VZEROUPPER
	RET

// Vector form of the Q4_K/Q5_K scale unpacking: the three words u0..u2 at
// 4(SI) become sc0..3, sc4..7, m0..3, m4..7 in the four words of X10, then
// Y8 = scales as int16 in both lanes, Y9 = mins as int32. Uses X10-X13.
#define KSCALESV \
	VMOVDQU     4(SI), X10 \
	VPSHUFD     $0x98, X10, X11 \
	VPSRLVD     kshift1<>(SB), X11, X11 \
	VPAND       kmask1<>(SB), X11, X11 \
	VPSHUFD     $0x40, X10, X12 \
	VPSRLD      $6, X12, X12 \
	VPAND       kmask2<>(SB), X12, X12 \
	VPSLLD      $4, X12, X12 \
	VPOR        X12, X11, X11 \
	VPMOVZXBW   X11, X8 \
	VINSERTI128 $1, X8, Y8, Y8 \
	VPSRLDQ     $8, X11, X11 \
	VPMOVZXBD   X11, Y9

// Per token: subtract dmin·dx·Σ m_j·(sum of sub-block j) from acc. Y13
// holds dmin.
#define K4MIN(sa, da, acc) \
	VPMADDWD     sa, Y15, Y10 \
	VPMULLD      Y9, Y10, Y10 \
	VCVTDQ2PS    Y10, Y10 \
	VBROADCASTSS da, Y11 \
	VMULPS       Y13, Y11, Y11 \
	VFNMADD231PS Y11, Y10, acc

#define K4TOK(xa, xb, isum) \
	VPMADDUBSW xa, Y10, Y9 \
	VPMADDWD   Y12, Y9, Y9 \
	VPADDD     Y9, isum, isum \
	VPMADDUBSW xb, Y11, Y14 \
	VPMADDWD   Y13, Y14, Y14 \
	VPADDD     Y14, isum, isum

#define K4CHUNK(qo, xo, so) \
	VMOVDQU qo(SI), Y10 \
	VPSRLW  $4, Y10, Y11 \
	VPAND   nib<>(SB), Y10, Y10 \
	VPAND   nib<>(SB), Y11, Y11 \
	VPSHUFB q4kShuf<>+so(SB), Y8, Y12 \
	VPSHUFB q4kShuf<>+so+32(SB), Y8, Y13 \
	K4TOK(xo(DI), xo+32(DI), Y4) \
	K4TOK(xo(DI)(R8*1), xo+32(DI)(R8*1), Y5) \
	K4TOK(xo(DI)(R8*2), xo+32(DI)(R8*2), Y6) \
	K4TOK(xo(DI)(R10*1), xo+32(DI)(R10*1), Y7)

#define K4END(da, isum, acc) \
	VCVTDQ2PS    isum, isum \
	VBROADCASTSS da, Y11 \
	VMULPS       Y10, Y11, Y11 \
	VFMADD231PS  Y11, isum, acc

// func dot4Q4KAVX2(w *byte, x *int8, xs int, d *float32, ds int, s *int16, ss int, nb int, out *[4]float32)
// One Q4_K row times four Q8_K activation rows: quants, scales and mins are
// decoded once per super-block for all four.
TEXT ·dot4Q4KAVX2(SB), NOSPLIT, $0-72
	MOVQ     w+0(FP), SI
	MOVQ     x+8(FP), DI
	MOVQ     xs+16(FP), R8
	MOVQ     d+24(FP), DX
	MOVQ     ds+32(FP), R9
	MOVQ     s+40(FP), BX
	MOVQ     ss+48(FP), R12
	MOVQ     nb+56(FP), CX
	LEAQ     (R8)(R8*2), R10
	LEAQ     (R9)(R9*2), R11
	LEAQ     (R12)(R12*2), R13
	VXORPS   Y0, Y0, Y0
	VXORPS   Y1, Y1, Y1
	VXORPS   Y2, Y2, Y2
	VXORPS   Y3, Y3, Y3
	VPCMPEQW Y15, Y15, Y15
	VPSRLW   $15, Y15, Y15
	TESTQ    CX, CX
	JZ       d4q4kdone

d4q4kloop:
	KSCALESV
	VPBROADCASTW 2(SI), X13
	VCVTPH2PS    X13, Y13
	K4MIN((BX), (DX), Y0)
	K4MIN((BX)(R12*1), (DX)(R9*1), Y1)
	K4MIN((BX)(R12*2), (DX)(R9*2), Y2)
	K4MIN((BX)(R13*1), (DX)(R11*1), Y3)
	VPXOR        Y4, Y4, Y4
	VPXOR        Y5, Y5, Y5
	VPXOR        Y6, Y6, Y6
	VPXOR        Y7, Y7, Y7
	K4CHUNK(16, 0, 0)
	K4CHUNK(48, 64, 64)
	K4CHUNK(80, 128, 128)
	K4CHUNK(112, 192, 192)
	VPBROADCASTW (SI), X10
	VCVTPH2PS    X10, Y10
	K4END((DX), Y4, Y0)
	K4END((DX)(R9*1), Y5, Y1)
	K4END((DX)(R9*2), Y6, Y2)
	K4END((DX)(R11*1), Y7, Y3)
	ADDQ         $144, SI
	ADDQ         $256, DI
	ADDQ         $4, DX
	ADDQ         $32, BX
	DECQ         CX
	JNZ          d4q4kloop

d4q4kdone:
	HSUM4
	MOVQ    out+64(FP), AX
	VMOVUPS X0, (AX)
	VZEROUPPER
	RET

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

// func quantQ8KAVX2(q *int8, d *float32, s *int16, x *float32, nb int)
// Each block of 256 floats becomes 256 int8 against the scale max|x|/127
// (nearest even, as quantRowQ8K) plus the sums of each 16 quants.
TEXT ·quantQ8KAVX2(SB), NOSPLIT, $0-40
	MOVQ     q+0(FP), DI
	MOVQ     d+8(FP), DX
	MOVQ     s+16(FP), BX
	MOVQ     x+24(FP), SI
	MOVQ     nb+32(FP), CX
	VMOVUPS  absf<>(SB), Y15
	VMOVDQU  packPerm<>(SB), Y14
	VPCMPEQB Y11, Y11, Y11
	VPABSB   Y11, Y11
	MOVL     $0x42fe0000, AX
	VMOVD    AX, X13
	MOVL     $0x3f800000, AX
	VMOVD    AX, X12
	TESTQ    CX, CX
	JZ       qq8kdone

qq8kblock:
	// max |x| over the block
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	MOVQ   $0, AX

qq8kmax:
	VANDPS  (SI)(AX*1), Y15, Y0
	VANDPS  32(SI)(AX*1), Y15, Y1
	VMAXPS  Y0, Y4, Y4
	VMAXPS  Y1, Y5, Y5
	ADDQ    $64, AX
	CMPQ    AX, $1024
	JLT     qq8kmax
	VMAXPS       Y5, Y4, Y4
	VEXTRACTF128 $1, Y4, X5
	VMAXPS       X5, X4, X4
	VPERMILPS    $0x4e, X4, X5
	VMAXPS       X5, X4, X4
	VPERMILPS    $0xb1, X4, X5
	VMAXPS       X5, X4, X4
	VDIVSS       X13, X4, X5
	VMOVSS       X5, (DX)
	VXORPS       X6, X6, X6
	VCMPSS       $4, X6, X5, X7
	VDIVSS       X5, X12, X8
	VANDPS       X7, X8, X8
	VBROADCASTSS X8, Y8
	MOVQ         $8, R8

qq8kpack:
	VMULPS       (SI), Y8, Y0
	VMULPS       32(SI), Y8, Y1
	VMULPS       64(SI), Y8, Y2
	VMULPS       96(SI), Y8, Y3
	VCVTPS2DQ    Y0, Y0
	VCVTPS2DQ    Y1, Y1
	VCVTPS2DQ    Y2, Y2
	VCVTPS2DQ    Y3, Y3
	VPACKSSDW    Y1, Y0, Y0
	VPACKSSDW    Y3, Y2, Y2
	VPACKSSWB    Y2, Y0, Y0
	VPERMD       Y0, Y14, Y0
	VMOVDQU      Y0, (DI)
	VPMADDUBSW   Y0, Y11, Y1
	VEXTRACTI128 $1, Y1, X2
	VPHADDW      X2, X1, X1
	VPHADDW      X1, X1, X1
	VPHADDW      X1, X1, X1
	VMOVD        X1, (BX)
	ADDQ         $128, SI
	ADDQ         $32, DI
	ADDQ         $4, BX
	DECQ         R8
	JNZ          qq8kpack
	ADDQ         $4, DX
	DECQ         CX
	JNZ          qq8kblock

qq8kdone:
	VZEROUPPER
	RET

// Q6_K times four tokens: the 6-bit quants of each 32-value chunk and the
// scale vector are built once and used by all four; per token the offset of
// 32 is taken off through the activation group sums as in dotQ6KAVX2.
#define Q6K4TOK(xa, isum) \
	VPMADDUBSW xa, Y13, Y15 \
	VPMADDWD   Y14, Y15, Y15 \
	VPADDD     Y15, isum, isum

#define Q6K4SUM(xo, so) \
	VPSHUFB   q6kShuf<>+so(SB), X8, X14 \
	VPMOVSXBW X14, Y14 \
	Q6K4TOK(xo(DI), Y4) \
	Q6K4TOK(xo(DI)(R8*1), Y5) \
	Q6K4TOK(xo(DI)(R8*2), Y6) \
	Q6K4TOK(xo(DI)(R10*1), Y7)

#define Q6K4HALF(qo, ho, xo, so) \
	VMOVDQU qo(SI), Y10 \
	VMOVDQU qo+32(SI), Y11 \
	VMOVDQU ho(SI), Y12 \
	VPAND   nib<>(SB), Y10, Y13 \
	VPSLLW  $4, Y12, Y9 \
	VPAND   m30<>(SB), Y9, Y9 \
	VPOR    Y9, Y13, Y13 \
	Q6K4SUM(xo, so) \
	VPAND   nib<>(SB), Y11, Y13 \
	VPSLLW  $2, Y12, Y9 \
	VPAND   m30<>(SB), Y9, Y9 \
	VPOR    Y9, Y13, Y13 \
	Q6K4SUM(xo+32, so+16) \
	VPSRLW  $4, Y10, Y13 \
	VPAND   nib<>(SB), Y13, Y13 \
	VPAND   m30<>(SB), Y12, Y9 \
	VPOR    Y9, Y13, Y13 \
	Q6K4SUM(xo+64, so+32) \
	VPSRLW  $4, Y11, Y13 \
	VPAND   nib<>(SB), Y13, Y13 \
	VPSRLW  $2, Y12, Y9 \
	VPAND   m30<>(SB), Y9, Y9 \
	VPOR    Y9, Y13, Y13 \
	Q6K4SUM(xo+96, so+48)

#define Q6K4START(sa, isum) \
	VPMADDWD sa, Y9, isum \
	VPSLLD   $5, isum, isum \
	VPSUBD   isum, Y15, isum

#define Q6K4END(da, isum, acc) \
	VCVTDQ2PS    isum, isum \
	VBROADCASTSS da, Y15 \
	VMULPS       Y9, Y15, Y15 \
	VFMADD231PS  Y15, isum, acc

// func dot4Q6KAVX2(w *byte, x *int8, xs int, d *float32, ds int, s *int16, ss int, nb int, out *[4]float32)
TEXT ·dot4Q6KAVX2(SB), NOSPLIT, $0-72
	MOVQ   w+0(FP), SI
	MOVQ   x+8(FP), DI
	MOVQ   xs+16(FP), R8
	MOVQ   d+24(FP), DX
	MOVQ   ds+32(FP), R9
	MOVQ   s+40(FP), BX
	MOVQ   ss+48(FP), R12
	MOVQ   nb+56(FP), CX
	LEAQ   (R8)(R8*2), R10
	LEAQ   (R9)(R9*2), R11
	LEAQ   (R12)(R12*2), R13
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	TESTQ  CX, CX
	JZ     d4q6kdone

d4q6kloop:
	VMOVDQU      192(SI), X8
	VPMOVSXBW    X8, Y9
	VPXOR        Y15, Y15, Y15
	Q6K4START((BX), Y4)
	Q6K4START((BX)(R12*1), Y5)
	Q6K4START((BX)(R12*2), Y6)
	Q6K4START((BX)(R13*1), Y7)
	Q6K4HALF(0, 128, 0, 0)
	Q6K4HALF(64, 160, 128, 64)
	VPBROADCASTW 208(SI), X9
	VCVTPH2PS    X9, Y9
	Q6K4END((DX), Y4, Y0)
	Q6K4END((DX)(R9*1), Y5, Y1)
	Q6K4END((DX)(R9*2), Y6, Y2)
	Q6K4END((DX)(R11*1), Y7, Y3)
	ADDQ         $210, SI
	ADDQ         $256, DI
	ADDQ         $4, DX
	ADDQ         $32, BX
	DECQ         CX
	JNZ          d4q6kloop

d4q6kdone:
	HSUM4
	MOVQ    out+64(FP), AX
	VMOVUPS X0, (AX)
	VZEROUPPER
	RET

// Row kernels for a single token: four weight rows (rb bytes apart) times
// one activation row, one accumulator per row and the HSUM4 tree, so each
// result has the bits of dot*AVX2 and dot4*AVX2 while the four independent
// multiply-add chains keep the FMA units busy (a 1-token product has no
// other parallelism inside a row). out gets the four rows' results.
//
// Reading four rows side by side breaks the weights' one long sequential
// stream into short ones that the hardware prefetcher misses, so R11 walks
// the next four rows (from SI+4·rb) linearly, as fast as the loop consumes
// this group, prefetching them into the cache.

// func rows4F32AVX2(w *byte, rb int, x *float32, n int, out *[4]float32)
// n is a multiple of 8.
TEXT ·rows4F32AVX2(SB), NOSPLIT, $0-40
	MOVQ   w+0(FP), SI
	MOVQ   rb+8(FP), R9
	MOVQ   x+16(FP), DI
	MOVQ   n+24(FP), CX
	LEAQ   (R9)(R9*2), R10
	LEAQ   (SI)(R9*4), R11
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	TESTQ  CX, CX
	JZ     r4f32done

r4f32loop:
	PREFETCHT0   (R11)
	PREFETCHT0   64(R11)
	ADDQ         $128, R11
	VMOVUPS     (DI), Y4
	VFMADD231PS (SI), Y4, Y0
	VFMADD231PS (SI)(R9*1), Y4, Y1
	VFMADD231PS (SI)(R9*2), Y4, Y2
	VFMADD231PS (SI)(R10*1), Y4, Y3
	ADDQ        $32, SI
	ADDQ        $32, DI
	SUBQ        $8, CX
	JNZ         r4f32loop

r4f32done:
	HSUM4
	MOVQ    out+32(FP), AX
	VMOVUPS X0, (AX)
	VZEROUPPER
	RET

// func rows4F16AVX2(w *byte, rb int, x *float32, n int, out *[4]float32)
// n is a multiple of 8.
TEXT ·rows4F16AVX2(SB), NOSPLIT, $0-40
	MOVQ   w+0(FP), SI
	MOVQ   rb+8(FP), R9
	MOVQ   x+16(FP), DI
	MOVQ   n+24(FP), CX
	LEAQ   (R9)(R9*2), R10
	LEAQ   (SI)(R9*4), R11
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	TESTQ  CX, CX
	JZ     r4f16done

r4f16loop16:
	CMPQ        CX, $16
	JLT         r4f16loop
	PREFETCHT0  (R11)
	PREFETCHT0  64(R11)
	ADDQ        $128, R11
	VMOVUPS     (DI), Y4
	VMOVUPS     32(DI), Y9
	VCVTPH2PS   (SI), Y5
	VCVTPH2PS   (SI)(R9*1), Y6
	VCVTPH2PS   (SI)(R9*2), Y7
	VCVTPH2PS   (SI)(R10*1), Y8
	VFMADD231PS Y4, Y5, Y0
	VFMADD231PS Y4, Y6, Y1
	VFMADD231PS Y4, Y7, Y2
	VFMADD231PS Y4, Y8, Y3
	VCVTPH2PS   16(SI), Y5
	VCVTPH2PS   16(SI)(R9*1), Y6
	VCVTPH2PS   16(SI)(R9*2), Y7
	VCVTPH2PS   16(SI)(R10*1), Y8
	VFMADD231PS Y9, Y5, Y0
	VFMADD231PS Y9, Y6, Y1
	VFMADD231PS Y9, Y7, Y2
	VFMADD231PS Y9, Y8, Y3
	ADDQ        $32, SI
	ADDQ        $64, DI
	SUBQ        $16, CX
	JMP         r4f16loop16

r4f16loop:
	TESTQ       CX, CX
	JZ          r4f16done
	VMOVUPS     (DI), Y4
	VCVTPH2PS   (SI), Y5
	VCVTPH2PS   (SI)(R9*1), Y6
	VCVTPH2PS   (SI)(R9*2), Y7
	VCVTPH2PS   (SI)(R10*1), Y8
	VFMADD231PS Y4, Y5, Y0
	VFMADD231PS Y4, Y6, Y1
	VFMADD231PS Y4, Y7, Y2
	VFMADD231PS Y4, Y8, Y3

r4f16done:
	HSUM4
	MOVQ    out+32(FP), AX
	VMOVUPS X0, (AX)
	VZEROUPPER
	RET

// func rows4BF16AVX2(w *byte, rb int, x *float32, n int, out *[4]float32)
// n is a multiple of 8.
TEXT ·rows4BF16AVX2(SB), NOSPLIT, $0-40
	MOVQ   w+0(FP), SI
	MOVQ   rb+8(FP), R9
	MOVQ   x+16(FP), DI
	MOVQ   n+24(FP), CX
	LEAQ   (R9)(R9*2), R10
	LEAQ   (SI)(R9*4), R11
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	TESTQ  CX, CX
	JZ     r4bf16done

r4bf16loop:
	PREFETCHT0   (R11)
	ADDQ         $64, R11
	VMOVUPS     (DI), Y4
	VPMOVZXWD   (SI), Y5
	VPMOVZXWD   (SI)(R9*1), Y6
	VPMOVZXWD   (SI)(R9*2), Y7
	VPMOVZXWD   (SI)(R10*1), Y8
	VPSLLD      $16, Y5, Y5
	VPSLLD      $16, Y6, Y6
	VPSLLD      $16, Y7, Y7
	VPSLLD      $16, Y8, Y8
	VFMADD231PS Y4, Y5, Y0
	VFMADD231PS Y4, Y6, Y1
	VFMADD231PS Y4, Y7, Y2
	VFMADD231PS Y4, Y8, Y3
	ADDQ        $16, SI
	ADDQ        $32, DI
	SUBQ        $8, CX
	JNZ         r4bf16loop

r4bf16done:
	HSUM4
	MOVQ    out+32(FP), AX
	VMOVUPS X0, (AX)
	VZEROUPPER
	RET

// One row of the 4-row integer kernels: Y2 holds the row's signed weights
// (quants at wa, f16 scale at sa), Y8 the activations, Y9 their scale;
// the steps are Q80BLOCK's.
#define ROW8(sa, acc) \
	VPSIGNB      Y2, Y8, Y3 \
	VPABSB       Y2, Y2 \
	VPMADDUBSW   Y3, Y2, Y2 \
	VPMADDWD     Y15, Y2, Y2 \
	VCVTDQ2PS    Y2, Y2 \
	VPBROADCASTW sa, X4 \
	VCVTPH2PS    X4, Y4 \
	VMULPS       Y9, Y4, Y4 \
	VFMADD231PS  Y4, Y2, acc

#define ROWQ80(wa, sa, acc) \
	VMOVDQU wa, Y2 \
	ROW8(sa, acc)

#define ROWQ40(wa, sa, acc) \
	VMOVDQU     wa, X2 \
	VPSRLW      $4, X2, X3 \
	VINSERTI128 $1, X3, Y2, Y2 \
	VPAND       Y14, Y2, Y2 \
	VPSUBB      Y13, Y2, Y2 \
	ROW8(sa, acc)

// func rows4Q8_0AVX2(w *byte, rb int, x *int8, d *float32, nb int, out *[4]float32)
TEXT ·rows4Q8_0AVX2(SB), NOSPLIT, $0-48
	MOVQ     w+0(FP), SI
	MOVQ     rb+8(FP), R9
	MOVQ     x+16(FP), DI
	MOVQ     d+24(FP), DX
	MOVQ     nb+32(FP), CX
	LEAQ     (R9)(R9*2), R10
	LEAQ     (SI)(R9*4), R11
	VXORPS   Y0, Y0, Y0
	VXORPS   Y1, Y1, Y1
	VXORPS   Y5, Y5, Y5
	VXORPS   Y6, Y6, Y6
	VPCMPEQW Y15, Y15, Y15
	VPSRLW   $15, Y15, Y15
	TESTQ    CX, CX
	JZ       r4q80done

r4q80loop:
	PREFETCHT0   (R11)
	PREFETCHT0   64(R11)
	PREFETCHT0   128(R11)
	ADDQ         $136, R11
	VMOVDQU      (DI), Y8
	VBROADCASTSS (DX), Y9
	ROWQ80(2(SI), (SI), Y0)
	ROWQ80(2(SI)(R9*1), (SI)(R9*1), Y1)
	ROWQ80(2(SI)(R9*2), (SI)(R9*2), Y5)
	ROWQ80(2(SI)(R10*1), (SI)(R10*1), Y6)
	ADDQ         $34, SI
	ADDQ         $32, DI
	ADDQ         $4, DX
	DECQ         CX
	JNZ          r4q80loop

r4q80done:
	VMOVAPS Y5, Y2
	VMOVAPS Y6, Y3
	HSUM4
	MOVQ    out+40(FP), AX
	VMOVUPS X0, (AX)
	VZEROUPPER
	RET

// func rows4Q4_0AVX2(w *byte, rb int, x *int8, d *float32, nb int, out *[4]float32)
TEXT ·rows4Q4_0AVX2(SB), NOSPLIT, $0-48
	MOVQ     w+0(FP), SI
	MOVQ     rb+8(FP), R9
	MOVQ     x+16(FP), DI
	MOVQ     d+24(FP), DX
	MOVQ     nb+32(FP), CX
	LEAQ     (R9)(R9*2), R10
	LEAQ     (SI)(R9*4), R11
	VXORPS   Y0, Y0, Y0
	VXORPS   Y1, Y1, Y1
	VXORPS   Y5, Y5, Y5
	VXORPS   Y6, Y6, Y6
	VPCMPEQW Y15, Y15, Y15
	VPSRLW   $15, Y15, Y15
	VMOVDQU  nib<>(SB), Y14
	VMOVDQU  eight<>(SB), Y13
	TESTQ    CX, CX
	JZ       r4q40done

r4q40loop:
	PREFETCHT0   (R11)
	PREFETCHT0   64(R11)
	ADDQ         $72, R11
	VMOVDQU      (DI), Y8
	VBROADCASTSS (DX), Y9
	ROWQ40(2(SI), (SI), Y0)
	ROWQ40(2(SI)(R9*1), (SI)(R9*1), Y1)
	ROWQ40(2(SI)(R9*2), (SI)(R9*2), Y5)
	ROWQ40(2(SI)(R10*1), (SI)(R10*1), Y6)
	ADDQ         $18, SI
	ADDQ         $32, DI
	ADDQ         $4, DX
	DECQ         CX
	JNZ          r4q40loop

r4q40done:
	VMOVAPS Y5, Y2
	VMOVAPS Y6, Y3
	HSUM4
	MOVQ    out+40(FP), AX
	VMOVUPS X0, (AX)
	VZEROUPPER
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
