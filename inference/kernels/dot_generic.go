package kernels

import "unsafe"

// Portable dot products of one encoded weight row with one activation row.
// They define the arithmetic: integer sums inside a block, float32 scaling
// and accumulation across blocks. The assembly versions compute the same
// integer sums and differ only in the order of float additions.

// asF32 views little-endian float32 bytes in place. Unaligned loads are legal
// on every platform Go supports for these kernels; float32 has no pointers, so
// the conversion passes checkptr.
func asF32(b []byte) []float32 {
	if len(b) < 4 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(b)/4)
}

func dotF32Go(w []byte, x []float32) float32 {
	wf := asF32(w)
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += wf[i] * x[i]
		s1 += wf[i+1] * x[i+1]
		s2 += wf[i+2] * x[i+2]
		s3 += wf[i+3] * x[i+3]
	}
	for ; i < len(x); i++ {
		s0 += wf[i] * x[i]
	}
	return (s0 + s1) + (s2 + s3)
}

func dotF16Go(w []byte, x []float32) float32 {
	var s0, s1 float32
	i := 0
	for ; i+2 <= len(x); i += 2 {
		s0 += f16Table[le16(w[2*i:])] * x[i]
		s1 += f16Table[le16(w[2*i+2:])] * x[i+1]
	}
	for ; i < len(x); i++ {
		s0 += f16Table[le16(w[2*i:])] * x[i]
	}
	return s0 + s1
}

func dotBF16Go(w []byte, x []float32) float32 {
	var s float32
	for i := range x {
		s += BF16ToF32(le16(w[2*i:])) * x[i]
	}
	return s
}

func dotQ8_0Go(w []byte, q []int8, d []float32) float32 {
	var sum float32
	for b := range d {
		blk := w[b*q80Bytes : (b+1)*q80Bytes]
		x := q[b*qk0 : (b+1)*qk0]
		var s int32
		for i := range qk0 {
			s += int32(int8(blk[2+i])) * int32(x[i])
		}
		sum += float32(s) * (f16Table[le16(blk)] * d[b])
	}
	return sum
}

func dotQ4_0Go(w []byte, q []int8, d []float32) float32 {
	var sum float32
	for b := range d {
		blk := w[b*q40Bytes : (b+1)*q40Bytes]
		x := q[b*qk0 : (b+1)*qk0]
		var s int32
		for i := range qk0 / 2 {
			v := blk[2+i]
			s += (int32(v&0xf) - 8) * int32(x[i])
			s += (int32(v>>4) - 8) * int32(x[i+qk0/2])
		}
		sum += float32(s) * (f16Table[le16(blk)] * d[b])
	}
	return sum
}

func dotQ4KGo(w []byte, q []int8, d []float32, sums []int16) float32 {
	var sum float32
	for b := range d {
		blk := w[b*q4KBytes : (b+1)*q4KBytes]
		x := q[b*qkK : (b+1)*qkK]
		bs := sums[b*16 : (b+1)*16]
		sc, mn := unpackScales(blk[4:])
		qs := blk[4+kScales:]
		var isum, msum int32
		for j := range 8 {
			msum += int32(mn[j]) * (int32(bs[2*j]) + int32(bs[2*j+1]))
		}
		for c := range 4 {
			var s1, s2 int32
			for l := range 32 {
				v := qs[32*c+l]
				s1 += int32(v&0xf) * int32(x[64*c+l])
				s2 += int32(v>>4) * int32(x[64*c+32+l])
			}
			isum += int32(sc[2*c])*s1 + int32(sc[2*c+1])*s2
		}
		sum += float32(isum)*(f16Table[le16(blk)]*d[b]) - float32(msum)*(f16Table[le16(blk[2:])]*d[b])
	}
	return sum
}

func dotQ5KGo(w []byte, q []int8, d []float32, sums []int16) float32 {
	var sum float32
	for b := range d {
		blk := w[b*q5KBytes : (b+1)*q5KBytes]
		x := q[b*qkK : (b+1)*qkK]
		bs := sums[b*16 : (b+1)*16]
		sc, mn := unpackScales(blk[4:])
		qh := blk[4+kScales : 4+kScales+32]
		qs := blk[4+kScales+32:]
		var isum, msum int32
		for j := range 8 {
			msum += int32(mn[j]) * (int32(bs[2*j]) + int32(bs[2*j+1]))
		}
		for c := range 4 {
			var s1, s2 int32
			for l := range 32 {
				v := qs[32*c+l]
				h1 := int32(qh[l]>>(2*c)&1) << 4
				h2 := int32(qh[l]>>(2*c+1)&1) << 4
				s1 += (int32(v&0xf) | h1) * int32(x[64*c+l])
				s2 += (int32(v>>4) | h2) * int32(x[64*c+32+l])
			}
			isum += int32(sc[2*c])*s1 + int32(sc[2*c+1])*s2
		}
		sum += float32(isum)*(f16Table[le16(blk)]*d[b]) - float32(msum)*(f16Table[le16(blk[2:])]*d[b])
	}
	return sum
}

func dotQ6KGo(w []byte, q []int8, d []float32) float32 {
	var sum float32
	for b := range d {
		blk := w[b*q6KBytes : (b+1)*q6KBytes]
		x := q[b*qkK : (b+1)*qkK]
		var vals [qkK]int8
		for h := range 2 {
			ql := blk[64*h : 64*h+64]
			qh := blk[128+32*h : 128+32*h+32]
			y := vals[128*h : 128*h+128]
			for l := range 32 {
				y[l] = int8(ql[l]&0xf|(qh[l]&3)<<4) - 32
				y[l+32] = int8(ql[l+32]&0xf|(qh[l]>>2&3)<<4) - 32
				y[l+64] = int8(ql[l]>>4|(qh[l]>>4&3)<<4) - 32
				y[l+96] = int8(ql[l+32]>>4|(qh[l]>>6&3)<<4) - 32
			}
		}
		var isum int32
		for g := range 16 {
			var s int32
			for l := 16 * g; l < 16*g+16; l++ {
				s += int32(vals[l]) * int32(x[l])
			}
			isum += int32(int8(blk[192+g])) * s
		}
		sum += float32(isum) * (f16Table[le16(blk[q6KBytes-2:])] * d[b])
	}
	return sum
}
