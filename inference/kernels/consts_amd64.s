//go:build amd64

#include "textflag.h"

// Constants shared by the kernel families (bytes, little-endian qwords).
// Those one family uses alone are defined in its own file.

// Low-nibble mask.
DATA ·nibMask+0(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA ·nibMask+8(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA ·nibMask+16(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA ·nibMask+24(SB)/8, $0x0f0f0f0f0f0f0f0f
GLOBL ·nibMask(SB), RODATA|NOPTR, $32

// Float32 magnitude mask.
DATA ·absMask+0(SB)/8, $0x7fffffff7fffffff
DATA ·absMask+8(SB)/8, $0x7fffffff7fffffff
DATA ·absMask+16(SB)/8, $0x7fffffff7fffffff
DATA ·absMask+24(SB)/8, $0x7fffffff7fffffff
GLOBL ·absMask(SB), RODATA|NOPTR, $32

// Dword order that undoes the lane interleaving of vpackssdw+vpacksswb.
DATA ·packPerm+0(SB)/8, $0x0000000400000000
DATA ·packPerm+8(SB)/8, $0x0000000500000001
DATA ·packPerm+16(SB)/8, $0x0000000600000002
DATA ·packPerm+24(SB)/8, $0x0000000700000003
GLOBL ·packPerm(SB), RODATA|NOPTR, $32
