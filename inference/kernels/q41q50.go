package kernels

import (
	"encoding/binary"
	"math"
)

// The legacy 32-value formats Q4_1, Q5_0, Q5_1 and IQ4_NL. llama-quantize
// writes them where a K-quant target does not fit a row (a length that is
// not a multiple of 256), so files from other tools hold them. Value i of
// a block sits in the low nibble of byte i and value i+16 in the high
// nibble; the 5-bit formats keep bit 4 of value i in bit i of a
// little-endian uint32.
//
// The products follow ggml's: Q5_0 and IQ4_NL weights meet Q8_0-style
// activations and scale an integer block sum by d_w·d_a; Q4_1 and Q5_1
// weights (value d·q + m) meet Q8_1-style activations, whose extra
// per-block s (d_a·Σq_a rounded to f16) carries the min term m·s, summed
// apart from the scaled integer sums as ggml's x86 kernels do. The
// kernels here are portable Go, which every level uses; Repack rewrites
// all four as Q8_0 (widenQ8) for the assembly Q8_0 kernels.
const (
	q41Bytes   = 2 + 2 + qk0/2     // f16 d, f16 m, nibbles
	q50Bytes   = 2 + 4 + qk0/2     // f16 d, high bits, nibbles
	q51Bytes   = 2 + 2 + 4 + qk0/2 // f16 d, f16 m, high bits, nibbles
	iq4NLBytes = 2 + qk0/2         // f16 d, 4-bit indices into iq4NLValues
)

// HeldBytes is the memory Repack leaves a rows×cols matrix of type t in
// (its file size, or more where the kernels in use widen it to Q8_0), so
// that a loader can tell whether a model fits before it starts copying.
func HeldBytes(t Type, rows, cols int) (int64, error) {
	rb, err := t.RowBytes(cols)
	if err != nil {
		return 0, err
	}
	if !widens(t) {
		return int64(rows) * int64(rb), nil
	}
	per := q80Bytes
	if t == Q4_1 || t == Q5_1 {
		per += 4 // the block's min, as a float32
	}
	return int64(rows) * int64(cols/qk0) * int64(per), nil
}

// widens reports whether Repack (widenQ8) rewrites matrices of type t as
// Q8_0 with the kernels in use: the 32-value formats, where there is
// Q8_0 assembly.
func widens(t Type) bool {
	return (t == Q4_1 || t == Q5_0 || t == Q5_1 || t == IQ4_NL) && impl.level >= AVX2
}

// widenQ8 rewrites a plain matrix of the 32-value formats as Q8_0 when
// the kernels in use have assembly for Q8_0. Each is an f16 scale d times
// small integers (Q5_0 -16..15, IQ4_NL's code book -127..113, Q4_1 0..15,
// Q5_1 0..31), which Q8_0 holds exactly, and ggml's product for each is
// Q8_0's, d_w·d_a times the integer block sum, plus for Q4_1 and Q5_1 the
// min term m·s summed apart: that goes to m.mins, which the products add
// after the Q8_0 kernels (addMinTerms) as the portable kernels do. It costs
// 34 bytes per block (and 4 for a min) instead of 18 to 24.
func widenQ8(m Matrix) (Matrix, bool) {
	if !widens(m.Type) || m.layout != plain {
		return m, false
	}
	hasMin := m.Type == Q4_1 || m.Type == Q5_1
	nb, bb := m.Cols/qk0, m.Type.BlockBytes()
	data := make([]byte, m.Rows*nb*q80Bytes)
	var mins []float32
	if hasMin {
		mins = make([]float32, m.Rows*nb)
	}
	var vals [qk0]float32
	blk := make([]byte, bb)
	for i := range m.Rows * nb {
		src, dst := m.Data[i*bb:(i+1)*bb], data[i*q80Bytes:(i+1)*q80Bytes]
		// Decode with scale 1 and min 0: the values are the integers.
		copy(blk, src)
		blk[0], blk[1] = 0x00, 0x3c // f16 1.0
		if hasMin {
			blk[2], blk[3] = 0, 0
			mins[i] = f16Table[le16(src[2:])]
		}
		dequantLegacy(m.Type, vals[:], blk)
		dst[0], dst[1] = src[0], src[1]
		for j, v := range vals {
			dst[2+j] = byte(int8(v))
		}
	}
	w, err := NewMatrix(Q8_0, m.Rows, m.Cols, data)
	if err != nil {
		return m, false
	}
	w.parts, w.mins = m.parts, mins
	return w, true
}

// addMinTerms adds the min terms of a widened Q4_1 or Q5_1 matrix (w.mins)
// to the products in outs: per output Σ_b float32(m_b·s_b), the Q8_1 sums
// of a (actQ81), added once to the Q8_0 kernels' result.
func addMinTerms(outs [][]float32, w *Matrix, a *Activations) {
	nb := w.Cols / qk0
	part, lo, rows := 0, 0, w.Rows
	for r := range w.Rows {
		if w.parts != nil {
			for r >= w.parts[part+1] {
				part++
			}
			lo, rows = w.parts[part], w.parts[part+1]-w.parts[part]
		}
		mr := w.mins[r*nb : (r+1)*nb]
		for t := range a.n {
			s := a.q81Row(t)
			var sum float32
			for b, m := range mr {
				sum += float32(m * s[b])
			}
			outs[part][t*rows+r-lo] += sum
		}
	}
}

// addMins adds row r's block mins (a widened Q4_1 or Q5_1 matrix) to its
// decoded values, as their own decoders do.
func (m *Matrix) addMins(dst []float32, r int) {
	if m.mins == nil {
		return
	}
	nb := m.Cols / qk0
	for b, mn := range m.mins[r*nb : (r+1)*nb] {
		for j := range qk0 {
			dst[b*qk0+j] += mn
		}
	}
}

// iq4NLValues is IQ4_NL's fixed non-linear code book (ggml's kvalues_iq4nl).
var iq4NLValues = [16]int8{-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113}

// installLegacy adds the portable kernels of the legacy formats to s.
func installLegacy(s *kernelSet) {
	k := &s.types
	k[Q4_1] = kernel{act: actQ81, dot: func(w []byte, a *Activations, t int) float32 {
		q, d := a.q8Row(t)
		return dotQ4_1Go(w, q, d, a.q81Row(t))
	}}
	k[Q5_0] = kernel{act: actQ8, dot: func(w []byte, a *Activations, t int) float32 {
		q, d := a.q8Row(t)
		return dotQ5_0Go(w, q, d)
	}}
	k[Q5_1] = kernel{act: actQ81, dot: func(w []byte, a *Activations, t int) float32 {
		q, d := a.q8Row(t)
		return dotQ5_1Go(w, q, d, a.q81Row(t))
	}}
	k[IQ4_NL] = kernel{act: actQ8, dot: func(w []byte, a *Activations, t int) float32 {
		q, d := a.q8Row(t)
		return dotIQ4NLGo(w, q, d)
	}}
}

func (a *Activations) q81Row(t int) []float32 {
	c := a.cols
	return a.s81[t*c/qk0 : (t+1)*c/qk0]
}

// fillQ81 sets s (one per block of 32) to Q8_1's block sum, as ggml's x86
// quantize_row_q8_1: the unrounded float32 scale max|x|/127 times the sum
// of the quants (those of actQ8, which ggml's Q8_1 shares), rounded to
// f16.
func fillQ81(s []float32, sums []int32, x []float32) {
	for b := range s {
		var amax float32
		for _, v := range x[b*qk0 : (b+1)*qk0] {
			amax = max(amax, float32(math.Abs(float64(v))))
		}
		d := amax / 127
		s[b] = f16Table[F32ToF16(float32(d*float32(sums[b])))]
	}
}

// q5High returns bit 4 of value j and of value j+16 of a 5-bit block.
func q5High(qh uint32, j int) (lo, hi int32) {
	return int32(qh>>j&1) << 4, int32(qh>>(j+16)&1) << 4
}

func dotQ4_1Go(w []byte, q []int8, d, s []float32) float32 {
	var sum, mins float32
	for b := range d {
		blk := w[b*q41Bytes : (b+1)*q41Bytes]
		x := q[b*qk0 : (b+1)*qk0]
		var is int32
		for j := range qk0 / 2 {
			v := blk[4+j]
			is += int32(v&0xf)*int32(x[j]) + int32(v>>4)*int32(x[j+qk0/2])
		}
		sum += float32(float32(is) * (f16Table[le16(blk)] * d[b]))
		mins += float32(f16Table[le16(blk[2:])] * s[b])
	}
	return sum + mins
}

func dotQ5_0Go(w []byte, q []int8, d []float32) float32 {
	var sum float32
	for b := range d {
		blk := w[b*q50Bytes : (b+1)*q50Bytes]
		x := q[b*qk0 : (b+1)*qk0]
		qh := binary.LittleEndian.Uint32(blk[2:])
		var is int32
		for j := range qk0 / 2 {
			v := blk[6+j]
			h0, h1 := q5High(qh, j)
			is += (int32(v&0xf)|h0-16)*int32(x[j]) + (int32(v>>4)|h1-16)*int32(x[j+qk0/2])
		}
		sum += float32(float32(is) * (f16Table[le16(blk)] * d[b]))
	}
	return sum
}

func dotQ5_1Go(w []byte, q []int8, d, s []float32) float32 {
	var sum, mins float32
	for b := range d {
		blk := w[b*q51Bytes : (b+1)*q51Bytes]
		x := q[b*qk0 : (b+1)*qk0]
		qh := binary.LittleEndian.Uint32(blk[4:])
		var is int32
		for j := range qk0 / 2 {
			v := blk[8+j]
			h0, h1 := q5High(qh, j)
			is += (int32(v&0xf)|h0)*int32(x[j]) + (int32(v>>4)|h1)*int32(x[j+qk0/2])
		}
		sum += float32(float32(is) * (f16Table[le16(blk)] * d[b]))
		mins += float32(f16Table[le16(blk[2:])] * s[b])
	}
	return sum + mins
}

func dotIQ4NLGo(w []byte, q []int8, d []float32) float32 {
	var sum float32
	for b := range d {
		blk := w[b*iq4NLBytes : (b+1)*iq4NLBytes]
		x := q[b*qk0 : (b+1)*qk0]
		var is int32
		for j := range qk0 / 2 {
			v := blk[2+j]
			is += int32(iq4NLValues[v&0xf])*int32(x[j]) + int32(iq4NLValues[v>>4])*int32(x[j+qk0/2])
		}
		sum += float32(float32(is) * (f16Table[le16(blk)] * d[b]))
	}
	return sum
}

// dequantLegacy decodes one block of t (one of the four formats) into dst.
func dequantLegacy(t Type, dst []float32, b []byte) {
	switch t {
	case Q4_1:
		d, m := f16Table[le16(b)], f16Table[le16(b[2:])]
		for j := range qk0 / 2 {
			v := b[4+j]
			dst[j] = float32(d*float32(v&0xf)) + m
			dst[j+qk0/2] = float32(d*float32(v>>4)) + m
		}
	case Q5_0:
		d, qh := f16Table[le16(b)], binary.LittleEndian.Uint32(b[2:])
		for j := range qk0 / 2 {
			v := b[6+j]
			h0, h1 := q5High(qh, j)
			dst[j] = d * float32(int32(v&0xf)|h0-16)
			dst[j+qk0/2] = d * float32(int32(v>>4)|h1-16)
		}
	case Q5_1:
		d, m, qh := f16Table[le16(b)], f16Table[le16(b[2:])], binary.LittleEndian.Uint32(b[4:])
		for j := range qk0 / 2 {
			v := b[8+j]
			h0, h1 := q5High(qh, j)
			dst[j] = float32(d*float32(int32(v&0xf)|h0)) + m
			dst[j+qk0/2] = float32(d*float32(int32(v>>4)|h1)) + m
		}
	case IQ4_NL:
		d := f16Table[le16(b)]
		for j := range qk0 / 2 {
			v := b[2+j]
			dst[j] = d * float32(iq4NLValues[v&0xf])
			dst[j+qk0/2] = d * float32(iq4NLValues[v>>4])
		}
	}
}

// quantLegacy encodes one block of 32 values as ggml's quantisers do
// without an importance matrix: the reference ones for Q4_1, Q5_0 and
// Q5_1 (float32 arithmetic, truncating conversions), and for IQ4_NL the
// scale search of quantize_iq4_nl (weights x², 7 tries either side).
func quantLegacy(t Type, dst []byte, x []float32) {
	switch t {
	case Q4_1, Q5_1:
		mn, mx := float32(math.MaxFloat32), float32(-math.MaxFloat32)
		for _, v := range x {
			mn, mx = min(mn, v), max(mx, v)
		}
		top := float32(15)
		if t == Q5_1 {
			top = 31
		}
		d := (mx - mn) / top
		var id float32
		if d != 0 {
			id = 1 / d
		}
		put16(dst, F32ToF16(d))
		put16(dst[2:], F32ToF16(mn))
		q := func(v float32) int32 { return min(int32(top), int32(int8(float32((v-mn)*id)+0.5))) }
		if t == Q4_1 {
			for j := range qk0 / 2 {
				dst[4+j] = byte(q(x[j])) | byte(q(x[j+qk0/2]))<<4
			}
			return
		}
		putQ5(dst[4:], x, q)
	case Q5_0:
		d := signedAbsMax(x) / -16
		var id float32
		if d != 0 {
			id = 1 / d
		}
		put16(dst, F32ToF16(d))
		putQ5(dst[2:], x, func(v float32) int32 { return min(31, int32(int8(float32(v*id)+16.5))) })
	case IQ4_NL:
		quantIQ4NL(dst, x)
	}
}

// putQ5 writes the high bits (4 bytes) and nibbles (16 bytes) of 5-bit
// quants q(x[j]) at dst.
func putQ5(dst []byte, x []float32, q func(float32) int32) {
	var qh uint32
	for j := range qk0 / 2 {
		q0, q1 := q(x[j]), q(x[j+qk0/2])
		dst[4+j] = byte(q0&0xf) | byte(q1&0xf)<<4
		qh |= uint32(q0>>4&1)<<j | uint32(q1>>4&1)<<(j+qk0/2)
	}
	binary.LittleEndian.PutUint32(dst, qh)
}

// nearestIQ4NL returns the index of the code book value nearest v (the
// lower one on a tie), as ggml's best_index_int8.
func nearestIQ4NL(v float32) int {
	vals := &iq4NLValues
	if v <= float32(vals[0]) {
		return 0
	}
	if v >= float32(vals[15]) {
		return 15
	}
	lo, hi := 0, 15
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if v < float32(vals[mid]) {
			hi = mid
		} else {
			lo = mid
		}
	}
	if v-float32(vals[hi-1]) < float32(vals[hi])-v {
		return hi - 1
	}
	return hi
}

func quantIQ4NL(dst []byte, x []float32) {
	var amax, mx float32
	for _, v := range x {
		if a := float32(math.Abs(float64(v))); a > amax {
			amax, mx = a, v
		}
	}
	var d float32
	if amax >= 1e-15 {
		v0 := float32(iq4NLValues[0])
		// fit returns Σw·q·x and Σw·q² for the quants of x·id.
		fit := func(id float32) (sqx, sq2 float32) {
			for _, v := range x {
				q := float32(iq4NLValues[nearestIQ4NL(float32(id*v))])
				w := float32(v * v)
				sqx += float32(float32(w*q) * v)
				sq2 += float32(float32(w*q) * q)
			}
			return sqx, sq2
		}
		d = -mx / v0
		sqx, sq2 := fit(1 / d)
		d = sqx / sq2
		best := float32(d * sqx)
		for try := -7; try <= 7; try++ {
			sqx, sq2 := fit((float32(try) + v0) / mx)
			if sq2 > 0 && float32(sqx*sqx) > float32(best*sq2) {
				d = sqx / sq2
				best = float32(d * sqx)
			}
		}
	}
	put16(dst, F32ToF16(d))
	var id float32
	if d != 0 {
		id = 1 / d
	}
	for j := range qk0 / 2 {
		dst[2+j] = byte(nearestIQ4NL(float32(id*x[j]))) | byte(nearestIQ4NL(float32(id*x[j+qk0/2])))<<4
	}
}
