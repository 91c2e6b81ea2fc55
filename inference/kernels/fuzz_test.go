package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// FuzzBlocks treats arbitrary bytes as blocks of every type: decoding must
// not panic, and wherever the result is finite the assembly product must
// match the portable one.
func FuzzBlocks(f *testing.F) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, ty := range weightTypes {
		n := max(ty.BlockSize(), 64)
		rb, _ := ty.RowBytes(n)
		enc := make([]byte, rb)
		if err := Quantize(ty, enc, randVec(r, n, 1)); err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(ty), enc)
	}
	f.Add(uint8(Q4_K), make([]byte, q4KBytes*3))
	f.Add(uint8(Q6_K), []byte{0xff, 0x7c})
	f.Fuzz(func(t *testing.T, sel uint8, data []byte) {
		ty := Type(sel % uint8(numTypes))
		bs, bb := ty.BlockSize(), ty.BlockBytes()
		nb := len(data) / bb
		if nb == 0 {
			return
		}
		if ty.BlockSize() == 1 {
			nb -= nb % 8 // whole rows for the 1×8 layout below
			if nb == 0 {
				return
			}
		}
		data = data[:nb*bb]
		vals := make([]float32, nb*bs)
		if err := Dequantize(ty, vals, data); err != nil {
			t.Fatal(err)
		}
		if ty == Q8_K {
			return
		}
		// The same bytes as a matrix of 1 row, times 5 activation rows.
		cols := nb * bs
		m, err := NewMatrix(ty, 1, cols, data)
		if err != nil {
			t.Fatal(err)
		}
		x := randVec(rand.New(rand.NewPCG(uint64(len(data)), 1)), 5*cols, 1)
		var a Activations
		if err := a.Set(x, 5, cols); err != nil {
			t.Fatal(err)
		}
		p := NewPool(1)
		defer p.Close()
		slow := make([]float32, 5)
		withLevel(Portable, func() {
			if err := p.MatMulActs(slow, &m, &a); err != nil {
				t.Fatal(err)
			}
		})
		// Thirty-two rows (rotations of the bytes) exercise the
		// interleaved layouts of every level.
		rows := make([]byte, 0, 32*len(data))
		for r := range 32 {
			rows = append(rows, data[r%len(data):]...)
			rows = append(rows, data[:r%len(data)]...)
		}
		m32, err := NewMatrix(ty, 32, cols, rows)
		if err != nil {
			t.Fatal(err)
		}
		plain := make([]float32, 5*32)
		withLevel(Portable, func() {
			if err := p.MatMulActs(plain, &m32, &a); err != nil {
				t.Fatal(err)
			}
		})
		// close compares where the terms are finite: infinities and NaNs
		// propagate differently.
		close := func(what string, got, want float32, mag float64) {
			if math.IsInf(mag, 0) || math.IsNaN(mag) || mag > 1e30 {
				return
			}
			if d := math.Abs(float64(got - want)); d > 1e-5*mag+1e-30 {
				t.Fatalf("%s %s: %g, portable %g (|terms| %g)", ty, what, got, want, mag)
			}
		}
		for _, l := range levels()[1:] {
			fast, inter := make([]float32, 5), make([]float32, 5*32)
			withLevel(l, func() {
				if err := p.MatMulActs(fast, &m, &a); err != nil {
					t.Fatal(err)
				}
				mi := Repack(m32)
				if err := p.MatMulActs(inter, &mi, &a); err != nil {
					t.Fatal(err)
				}
			})
			for tok := range 5 {
				act := actValues(t, ty, &a, tok)
				var mag float64
				for i, v := range act {
					mag += math.Abs(float64(vals[i]) * v)
				}
				close(fmt.Sprintf("%s token %d", l, tok), fast[tok], slow[tok], mag)
			}
			row := make([]float32, cols)
			for r := range 32 {
				if err := m32.DequantizeRow(row, r); err != nil {
					t.Fatal(err)
				}
				for tok := range 5 {
					var mag float64
					for i, v := range actValues(t, ty, &a, tok) {
						mag += math.Abs(float64(row[i]) * v)
					}
					close(fmt.Sprintf("%s interleaved row %d token %d", l, r, tok), inter[tok*32+r], plain[tok*32+r], mag)
				}
			}
		}
	})
}
