package kernels

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"
)

// Benchmark shapes (rows × cols) of the two synthetic model sizes.
var benchShapes = []struct {
	model      string
	rows, cols int
}{
	{"llama-110m", 768, 768},
	{"llama-110m", 2048, 768},
	{"llama-110m", 768, 2048},
	{"llama-110m", 32000, 768},
	{"llama3-1b", 2048, 2048},
	{"llama3-1b", 512, 2048},
	{"llama3-1b", 8192, 2048},
	{"llama3-1b", 2048, 8192},
	{"llama3-1b", 128256, 2048},
}

// benchMatrix fills a matrix with random bytes and sane scales: contents
// do not change the speed of the kernels, and quantising a gigabyte of
// weights would take longer than the benchmark.
func benchMatrix(b *testing.B, ty Type, rows, cols int) Matrix {
	r := rand.New(rand.NewPCG(uint64(rows), uint64(cols)))
	rb, _ := ty.RowBytes(cols)
	data := make([]byte, rows*rb)
	for i := 0; i+8 <= len(data); i += 8 {
		v := r.Uint64()
		for k := range 8 {
			data[i+k] = byte(v >> (8 * k))
		}
	}
	small := F32ToF16(0.01)
	bs := ty.BlockBytes()
	for off := 0; off < len(data); off += bs {
		blk := data[off : off+bs]
		switch ty {
		case F32:
			put16(blk[2:], uint16(0x3c00+r.IntN(0x200))) // about ±1.0
		case F16:
			put16(blk, uint16(0x2000+r.IntN(0x1000))|uint16(r.IntN(2))<<15)
		case BF16:
			put16(blk, uint16(0x3c00+r.IntN(0x200)))
		case Q8_0, Q4_0:
			put16(blk, small)
		case Q4_K, Q5_K:
			put16(blk, small)
			put16(blk[2:], small)
		case Q6_K:
			put16(blk[208:], small)
		}
	}
	m, err := NewMatrix(ty, rows, cols, data)
	if err != nil {
		b.Fatal(err)
	}
	return m
}

var benchThreads = flag.Int("kernels.threads", 0, "threads of BenchmarkMatMul's pool (0: GOMAXPROCS)")

// BenchmarkMatMul reports weight bandwidth (MB/s, from b.SetBytes = weight
// bytes) and GFLOP/s for each shape, type, batch and implementation: a
// kernel level (portable, avx2, avx512) on the plain layout, and with an
// x suffix (avx2x, avx512x) on the weights interleaved for that level by
// Repack. Filter it, e.g. -bench 'MatMul/llama3-1b/2048x2048/Q4_0/n=1/'.
// With -kernels.threads=1 it also reports cpu-ns/op, the calling thread's
// CPU time, which other load on the machine disturbs far less than ns/op.
func BenchmarkMatMul(b *testing.B) {
	p := NewPool(*benchThreads)
	defer p.Close()
	for _, s := range benchShapes {
		for _, ty := range weightTypes {
			var m Matrix
			var once sync.Once
			packed := map[Level]Matrix{}
			for _, n := range []int{1, 8, 32, 128} {
				for l := range numLevels {
					for _, inter := range []bool{false, true} {
						impl := l.String()
						if inter {
							impl += "x"
						}
						name := fmt.Sprintf("%s/%dx%d/%s/n=%d/%s", s.model, s.rows, s.cols, ty, n, impl)
						b.Run(name, func(b *testing.B) {
							defer SetLevel(Available())
							if SetLevel(l) != l {
								b.Skip("this machine lacks the level")
							}
							once.Do(func() { m = benchMatrix(b, ty, s.rows, s.cols) })
							m := m
							if inter {
								if _, ok := packed[l]; !ok {
									packed[l] = Repack(m)
								}
								if m = packed[l]; !m.Interleaved() {
									b.Skip("no interleaved layout at this level")
								}
							}
							x := randVec(rand.New(rand.NewPCG(1, 1)), n*s.cols, 1)
							out := make([]float32, n*s.rows)
							b.SetBytes(int64(len(m.Data)))
							runtime.LockOSThread()
							defer runtime.UnlockOSThread()
							start, cpu0 := time.Now(), threadCPU()
							for b.Loop() {
								if err := p.MatMul(out, &m, x, n); err != nil {
									b.Fatal(err)
								}
							}
							sec := time.Since(start).Seconds() / float64(b.N)
							b.ReportMetric(2*float64(s.rows)*float64(s.cols)*float64(n)/sec/1e9, "GFLOP/s")
							if p.Threads() == 1 {
								b.ReportMetric(float64(threadCPU()-cpu0)/float64(b.N), "cpu-ns/op")
							}
						})
					}
				}
			}
			m, packed = Matrix{}, nil
		}
	}
}

var (
	bwOnce sync.Once
	bwBuf  []byte
)

// BenchmarkBandwidth streams 1 GiB from memory with one and two goroutines
// (each reads its share) and reports the rate in GB/s; MB/s counts the
// bytes read. Decode speed × model bytes ÷ this rate says how close decode
// comes to the memory limit. The buffer sits on huge pages where the
// system gives them, as interleaved weights do.
func BenchmarkBandwidth(b *testing.B) {
	bwOnce.Do(func() {
		bwBuf = hugeBytes(1 << 30) // on huge pages, as Repack's weights
		AdviseHuge(bwBuf)
		for i := range bwBuf { // touch every page so it is really there
			bwBuf[i] = byte(i)
		}
		collapseHuge(bwBuf)
	})
	for _, threads := range []int{1, 2} {
		b.Run(fmt.Sprintf("threads=%d", threads), func(b *testing.B) {
			b.SetBytes(int64(len(bwBuf)))
			part := len(bwBuf) / threads
			var sink [2]uint64
			if threads == 1 {
				// On this goroutine, so that its CPU time is the thread's.
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
			}
			start, cpu0 := time.Now(), threadCPU()
			for b.Loop() {
				if threads == 1 {
					sink[0] += streamSum(bwBuf)
					continue
				}
				var wg sync.WaitGroup
				for g := range threads {
					wg.Go(func() { sink[g] += streamSum(bwBuf[g*part : (g+1)*part]) })
				}
				wg.Wait()
			}
			sec := time.Since(start).Seconds() / float64(b.N)
			b.ReportMetric(float64(len(bwBuf))/sec/1e9, "GB/s")
			if cpu := threadCPU() - cpu0; threads == 1 && cpu > 0 {
				// Bytes per second of CPU time: on a busy machine this
				// says what the thread reads while it runs.
				b.ReportMetric(float64(len(bwBuf))*float64(b.N)/cpu.Seconds()/1e9, "GB/cpu-s")
			}
		})
	}
}

// BenchmarkDecodeStream multiplies one token with a 0.6 GB Q4_0 or Q8_0
// matrix, more than any cache holds, the way decode streams a model's
// weights, and reports the rate in GB/s, to set beside BenchmarkBandwidth.
func BenchmarkDecodeStream(b *testing.B) {
	p := NewPool(*benchThreads)
	defer p.Close()
	for _, ty := range []Type{Q4_0, Q8_0} {
		rows := (600 << 20) / (2048 / qk0 * ty.BlockBytes()) &^ 31
		var m Matrix
		for l := AVX2; l < numLevels; l++ {
			b.Run(fmt.Sprintf("%s/%s", ty, l), func(b *testing.B) {
				defer SetLevel(Available())
				if SetLevel(l) != l {
					b.Skip("this machine lacks the level")
				}
				if m.Rows == 0 {
					m = benchMatrix(b, ty, rows, 2048)
				}
				mx := Repack(m)
				x := randVec(rand.New(rand.NewPCG(1, 1)), 2048, 1)
				out := make([]float32, rows)
				b.SetBytes(int64(len(mx.Data)))
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				start, cpu0 := time.Now(), threadCPU()
				for b.Loop() {
					if err := p.MatMul(out, &mx, x, 1); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(len(mx.Data))*float64(b.N)/time.Since(start).Seconds()/1e9, "GB/s")
				if cpu := threadCPU() - cpu0; p.Threads() == 1 && cpu > 0 {
					b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
					b.ReportMetric(float64(len(mx.Data))*float64(b.N)/cpu.Seconds()/1e9, "GB/cpu-s")
				}
			})
		}
		m = Matrix{}
	}
}

func BenchmarkQuantizeActivations(b *testing.B) {
	x := randVec(rand.New(rand.NewPCG(2, 2)), 8192, 1)
	q, d, m := make([]int8, len(x)), make([]float32, len(x)/qk0), make([]int32, len(x)/qk0)
	qk, sk := make([]int8, len(x)), make([]int16, len(x)/16)
	fast, hasFast := kernelSets()[AVX2]
	b.Run("q8/asm", func(b *testing.B) {
		if !hasFast {
			b.Skip("no assembly kernels")
		}
		b.SetBytes(int64(4 * len(x)))
		for b.Loop() {
			fast.quantQ8(q, d, m, x)
		}
	})
	b.Run("q8/go", func(b *testing.B) {
		b.SetBytes(int64(4 * len(x)))
		for b.Loop() {
			quantActQ8Go(q, d, m, x)
		}
	})
	b.Run("q8k/asm", func(b *testing.B) {
		if !hasFast {
			b.Skip("no assembly kernels")
		}
		b.SetBytes(int64(4 * len(x)))
		dk := make([]float32, len(x)/qkK)
		for b.Loop() {
			fast.quantQ8K(qk, dk, sk, x)
		}
	})
	b.Run("q8k/go", func(b *testing.B) {
		b.SetBytes(int64(4 * len(x)))
		for b.Loop() {
			for blk := 0; blk < len(x)/qkK; blk++ {
				quantRowQ8K(qk[blk*qkK:], sk[blk*16:], x[blk*qkK:(blk+1)*qkK])
			}
		}
	})
}

// BenchmarkRepack measures the load-time cost of interleaving the largest
// matrix of llama3-1b (the 128256×2048 output/embedding matrix).
func BenchmarkRepack(b *testing.B) {
	for _, ty := range []Type{Q4_0, Q8_0, F16} {
		b.Run(ty.String(), func(b *testing.B) {
			m := benchMatrix(b, ty, 128256, 2048)
			b.SetBytes(int64(len(m.Data)))
			for b.Loop() {
				if mr := Repack(m); !mr.Interleaved() {
					b.Skip("no interleaved layout for this type at this level")
				}
			}
		})
	}
}

// BenchmarkSiLUMul is the SwiGLU activation over one llama3-1b feed-forward
// row (8192 values).
func BenchmarkSiLUMul(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 3))
	g, u := randVec(r, 8192, 2), randVec(r, 8192, 1)
	b.SetBytes(int64(4 * len(g)))
	for b.Loop() {
		SiLUMul(g, u)
		copy(g, u)
	}
}

// BenchmarkExp compares Exp with math.Exp over 4096 values in [-41, 0].
func BenchmarkExp(b *testing.B) {
	x := make([]float32, 4096)
	for i := range x {
		x[i] = -float32(i) / 100
	}
	b.Run("Exp", func(b *testing.B) {
		var s float32
		for b.Loop() {
			for _, v := range x {
				s += Exp(v)
			}
		}
		_ = s
	})
	b.Run("math.Exp", func(b *testing.B) {
		var s float64
		for b.Loop() {
			for _, v := range x {
				s += math.Exp(float64(v))
			}
		}
		_ = s
	})
}

// BenchmarkSoftmax is one row of attention scores over a 512-token cache.
func BenchmarkSoftmax(b *testing.B) {
	r := rand.New(rand.NewPCG(4, 4))
	x := randVec(r, 512, 8)
	s := make([]float32, len(x))
	b.SetBytes(int64(4 * len(x)))
	for b.Loop() {
		copy(s, x)
		Softmax(s)
	}
}

// BenchmarkWeightedSums sums the values of a 128-row causal block of
// prompt attention (positions up to 512, head width 64), one row at a time
// with WeightedSum or all rows with WeightedSums (4 rows per pass on
// AVX-512); cpu-ns/op is the thread's CPU time.
func BenchmarkWeightedSums(b *testing.B) {
	const rows, span, width = 128, 512, 64
	r := rand.New(rand.NewPCG(5, 5))
	a, v := randVec(r, rows*span, 1), randVec(r, span*width, 1)
	out := make([]float32, rows*width)
	n := make([]int, rows)
	for i := range n {
		n[i] = span - rows + 1 + i
	}
	for _, multi := range []bool{false, true} {
		b.Run(fmt.Sprintf("rows=%v", map[bool]string{false: "1", true: "many"}[multi]), func(b *testing.B) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			cpu0 := threadCPU()
			for b.Loop() {
				if multi {
					WeightedSums(out, width, width, a, span, n, v, width)
					continue
				}
				for i, ni := range n {
					WeightedSum(out[i*width:(i+1)*width], a[i*span:i*span+ni], v, width)
				}
			}
			if cpu := threadCPU() - cpu0; cpu > 0 {
				b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
			}
		})
	}
}
