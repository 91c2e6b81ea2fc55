package kernels

import "fmt"

const (
	// chunkBytes is the weight bytes one work item covers: small enough that
	// the rows stay in the core's L2 cache while every token tile passes over
	// them, large enough that handing out items costs little.
	chunkBytes = 64 << 10
	// tokenTile is how many activation rows meet a chunk of weights before
	// the next tile; their quantised form (~2 KB per 2048 values) must share
	// L2 with the weights.
	tokenTile = 64
	// streamBytes replaces chunkBytes when no weight is reused across a
	// chunk (one token, or interleaved groups that every token of a tile
	// meets at once): each thread then reads long runs of memory, which the
	// hardware prefetchers follow far better than 64 KB pieces taken in
	// turn by two threads (single-token decode ran ~30% faster).
	streamBytes = 1 << 20
	// leadBytes is how far ahead of their loads the kernels prefetch the
	// weights; a one-token product asks for the first leadBytes of a work
	// item before it starts, so that an item does not begin with a run of
	// cache misses one after the other (a 1B model's decode step starts
	// some 2,000 items).
	leadBytes = 4608
	// inlineBytes is the weight bytes × tokens under which a product runs
	// on the calling thread alone: below it, handing out the work costs
	// more than it saves.
	inlineBytes = 64 << 10
)

// matJob computes the rows of each chunk for all tokens: row r of part i
// (see Concat) for token t goes to outs[i][t*partRows+r-partStart].
type matJob struct {
	w       *Matrix
	a       *Activations
	outs    [][]float32
	one     [1][]float32 // outs of a product with one part
	act     actFormat    // the activation form k reads
	k       *kernel
	chunk   int // rows of the first nBig items
	nBig    int
	small   int // rows of the items after them
	nChunks int
}

func (j *matJob) item(_, c int) {
	lo, size := c*j.chunk, j.chunk
	if c >= j.nBig {
		lo, size = j.nBig*j.chunk+(c-j.nBig)*j.small, j.small
	}
	j.rows(lo, min(lo+size, j.w.Rows))
}

// rows computes rows [lo, hi), part by part.
func (j *matJob) rows(lo, hi int) {
	w := j.w
	for i, out := range j.outs {
		start, end := 0, w.Rows
		if w.parts != nil {
			start, end = w.parts[i], w.parts[i+1]
		}
		if a, b := max(lo, start), min(hi, end); a < b {
			j.rowsIn(a, b, out, end-start, start)
		}
	}
}

// rowsIn computes rows [lo, hi) of one part, which starts at row base and
// has stride rows: row r of token t goes to out[t*stride+r-base].
func (j *matJob) rowsIn(lo, hi int, out []float32, stride, base int) {
	w, a, k := j.w, j.a, j.k
	n, rb := a.n, w.rowBytes
	at := func(t, r int) []float32 { return out[t*stride+r-base:] }
	gEnd := min(hi, w.groupedRows())
	if n == 1 {
		if k.streams != nil && k.layout == w.layout && lo < gEnd {
			lo = j.streams(lo, gEnd, out, stride, base)
		}
		// What is left (all of it without streams) starts with its
		// first leadBytes asked for.
		if lo < hi {
			prefetch(w.Data[lo*rb : min(hi, lo+(leadBytes+rb-1)/rb)*rb])
		}
	}
	if lo < gEnd {
		// Interleaved groups; chunks and parts start at group boundaries.
		gr := layoutRows[w.layout]
		gb := gr * rb
		grp, step := k.grp, k.grpMax
		if k.layout != w.layout {
			grp, step = groupDotFallback[w.layout], tokenTile
		}
		// Tiles of whole kernel steps (60 tokens for the 12-token F16
		// kernel), so that only the batch's last tile needs the narrower
		// kernels.
		tile := max(step, tokenTile/step*step)
		for t0 := 0; t0 < n; t0 += tile {
			t1 := min(n, t0+tile)
			for g := lo / gr; g < gEnd/gr; g++ {
				gd := w.Data[g*gb : (g+1)*gb]
				for t := t0; t < t1; t += step {
					grp(gd, a, t, min(step, t1-t), at(t, gr*g), stride)
				}
			}
		}
		lo = gEnd
	}
	if k.tile34 != nil && a.cols%8 == 0 && n >= 4 {
		// Register tiles of 3 rows × 4 tokens. The four activation rows stay
		// in L1 while the chunk's rows stream past them.
		t := 0
		for ; t+4 <= n; t += 4 {
			r := lo
			if tri := (hi - lo) / 3; k.tile34Run != nil && tri > 0 {
				k.tile34Run(w.Data[r*rb:(r+3*tri)*rb], rb, tri, a, t, at(t, r), stride)
				r += 3 * tri
			}
			for ; r+3 <= hi; r += 3 {
				k.tile34(w.Data[r*rb:(r+3)*rb], rb, a, t, at(t, r), stride)
			}
			for ; r < hi; r++ {
				k.dot4(w.Data[r*rb:(r+1)*rb], a, t, at(t, r), stride)
			}
		}
		for ; t < n; t++ {
			j.single(t, lo, hi, at(t, base)[:stride], base)
		}
		return
	}
	for t0 := 0; t0 < n; t0 += tokenTile {
		t1 := min(n, t0+tokenTile)
		t4 := t0 // tokens [t0, t4) go four at a time
		if k.dot4 != nil {
			t4 = t0 + (t1-t0)&^3
		}
		if t4 > t0 {
			for r := lo; r < hi; r++ {
				row := w.Data[r*rb : (r+1)*rb]
				for t := t0; t < t4; t += 4 {
					k.dot4(row, a, t, at(t, r), stride)
				}
			}
		}
		for t := t4; t < t1; t++ {
			j.single(t, lo, hi, at(t, base)[:stride], base)
		}
	}
}

// streams computes the one-token product of the groups of rows [lo, hi)
// (a part that starts at row base, stride rows) four at a time, from the
// four quarters of the range; it returns the first row left, whose groups
// (fewer than four) the caller runs one by one.
func (j *matJob) streams(lo, hi int, out []float32, stride, base int) int {
	w, k := j.w, j.k
	gr := layoutRows[w.layout]
	gb := gr * w.rowBytes
	g0, q := lo/gr, (hi-lo)/gr/4
	if q == 0 {
		return lo
	}
	lead := min(leadBytes, q*gb)
	for s := range 4 {
		o := (g0 + s*q) * gb
		prefetch(w.Data[o : o+lead])
	}
	for g := g0; g < g0+q; g++ {
		k.streams(w.Data[g*gb:], q*gb, j.a, 0, out[g*gr-base:], q*gr)
	}
	return lo + 4*q*gr
}

// single computes token t for rows [lo, hi) of the part that starts at
// row base into out (row r at out[r-base]), four rows at a time where the
// kernel can. Every kernel gives a product the same bits (the assembly
// reduces in one order), so how rows and tokens are grouped never changes
// a result.
func (j *matJob) single(t, lo, hi int, out []float32, base int) {
	w, a, k := j.w, j.a, j.k
	rb := w.rowBytes
	r := lo
	if k.rows4 != nil {
		for ; r+4 <= hi; r += 4 {
			k.rows4(w.Data[r*rb:(r+4)*rb], rb, a, t, out[r-base:r-base+4])
		}
	}
	for ; r < hi; r++ {
		out[r-base] = k.dot(w.Data[r*rb:(r+1)*rb], a, t)
	}
}

// quantJob quantises activation rows in chunks of tokens.
type quantJob struct {
	a     *Activations
	f     actFormat
	chunk int
}

func (j *quantJob) item(_, c int) {
	lo := c * j.chunk
	j.a.quantRows(j.f, lo, min(lo+j.chunk, j.a.n))
}

// MatMul computes out = x · wᵀ for n rows of x: x holds n×w.Cols values,
// out n×w.Rows, with out[t*w.Rows+r] the dot product of weight row r and
// activation row t. The weights are streamed once for the whole batch.
func (p *Pool) MatMul(out []float32, w *Matrix, x []float32, n int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.scratch.Set(x, n, w.Cols); err != nil {
		return fmt.Errorf("matmul %s %d×%d: %w", w.Type, w.Rows, w.Cols, err)
	}
	p.mat.one[0] = out
	err := p.matMul(p.mat.one[:], w, &p.scratch)
	p.scratch.x, p.mat.one[0] = nil, nil
	return err
}

// MatMulActs is MatMul with activations prepared by the caller, so that
// several matrices reading the same input quantise it once.
func (p *Pool) MatMulActs(out []float32, w *Matrix, a *Activations) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mat.one[0] = out
	err := p.matMul(p.mat.one[:], w, a)
	p.mat.one[0] = nil
	return err
}

// MatMulParts is MatMulActs for a matrix made by Concat: outs[i] gets part
// i's products, n×rows of the part, token after token. One pass over the
// activations and one handing out of work serve all the parts. A matrix
// of one part takes one output.
func (p *Pool) MatMulParts(outs [][]float32, w *Matrix, a *Activations) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.matMul(outs, w, a)
}

func (p *Pool) matMul(outs [][]float32, w *Matrix, a *Activations) error {
	if p.closed.Load() {
		return ErrClosed
	}
	j := &p.mat
	if err := j.setup(outs, w, a); err != nil || a.n == 0 || w.Rows == 0 {
		j.w, j.a, j.outs = nil, nil, nil
		return err
	}
	if err := p.prepare(a, j.act); err != nil {
		j.w, j.a, j.outs = nil, nil, nil
		return fmt.Errorf("matmul %s: %w", w.Type, err)
	}
	size := func(bytes int) int {
		c := max(1, min(bytes/w.rowBytes, (w.Rows+4*p.threads-1)/(4*p.threads)))
		if gr := layoutRows[w.layout]; w.groups > 0 {
			c = (c + gr - 1) / gr * gr
		}
		return c
	}
	j.small = size(chunkBytes)
	j.chunk, j.nBig = j.small, 0
	if a.n == 1 || (w.groups > 0 && a.n <= tokenTile) {
		// Long items first, then short ones for the last rows, so that
		// the threads finish together: a thread left alone with a whole
		// streamBytes item would idle the others for ~50 µs.
		j.chunk = size(streamBytes)
		j.nBig = max(0, w.Rows-2*p.threads*j.small) / j.chunk
	}
	j.nChunks = j.nBig + (w.Rows-j.nBig*j.chunk+j.small-1)/j.small
	if len(w.Data)*a.n <= inlineBytes {
		j.chunk, j.nBig, j.small, j.nChunks = w.Rows, 0, w.Rows, 1
	}
	p.dispatch(j, j.nChunks)
	j.w, j.a, j.outs = nil, nil, nil
	if w.mins != nil { // a widened Q4_1 or Q5_1 matrix (q41q50.go)
		if err := p.prepare(a, actQ81); err != nil {
			return fmt.Errorf("matmul %s: %w", w.Type, err)
		}
		addMinTerms(outs, w, a)
	}
	return nil
}

// setup checks the operands and binds them to j, with the kernel and the
// activation form the product needs.
func (j *matJob) setup(outs [][]float32, w *Matrix, a *Activations) error {
	if err := checkProduct(outs, w, a); err != nil {
		return err
	}
	j.w, j.a, j.outs = w, a, outs
	j.bind()
	return nil
}

// bind sets j's kernel and activation form from j.w.
func (j *matJob) bind() {
	j.k = &impl.types[j.w.Type]
	j.act = j.k.act
	if j.w.layout != plain {
		j.act = layoutAct[j.w.layout]
	}
}

// checkProduct checks the operands of a product.
func checkProduct(outs [][]float32, w *Matrix, a *Activations) error {
	if !w.Type.Valid() || impl.types[w.Type].dot == nil || w.layout >= numLayouts {
		return fmt.Errorf("matmul: %w: %s", ErrType, w.Type)
	}
	if a.cols != w.Cols || len(w.Data) != w.Rows*w.rowBytes || len(outs) != max(1, len(w.parts)-1) {
		return fmt.Errorf("matmul %s %d×%d: %w: %d activations of %d, %d outputs", w.Type, w.Rows, w.Cols, ErrShape, a.n, a.cols, len(outs))
	}
	for i, out := range outs {
		rows := w.Rows
		if w.parts != nil {
			rows = w.parts[i+1] - w.parts[i]
		}
		if len(out) != a.n*rows {
			return fmt.Errorf("matmul %s %d×%d: %w: %d activations, %d outputs for part %d of %d rows", w.Type, w.Rows, w.Cols, ErrShape, a.n, len(out), i, rows)
		}
	}
	return nil
}

// MatMulLocal is MatMulParts on the calling goroutine alone, without a
// pool: for products inside a Parallel or ParallelThreads item, which must
// not use the pool. It gives the pool's bits. (outs is a slice, even for
// one part, so that a caller can keep it and call without allocating.)
func MatMulLocal(outs [][]float32, w *Matrix, a *Activations) error {
	if err := checkProduct(outs, w, a); err != nil || a.n == 0 || w.Rows == 0 {
		return err
	}
	j := matJob{w: w, a: a, outs: outs}
	j.bind()
	if err := prepareLocal(a, j.act); err != nil {
		return fmt.Errorf("matmul %s: %w", w.Type, err)
	}
	j.rows(0, w.Rows)
	if w.mins != nil { // a widened Q4_1 or Q5_1 matrix (q41q50.go)
		if err := prepareLocal(a, actQ81); err != nil {
			return fmt.Errorf("matmul %s: %w", w.Type, err)
		}
		addMinTerms(outs, w, a)
	}
	return nil
}

// prepareLocal quantises a into format f on the calling goroutine.
func prepareLocal(a *Activations, f actFormat) error {
	if err := a.check(f); err != nil {
		return err
	}
	if a.has(f) {
		return nil
	}
	if f == actQ8P || f == actQ81 { // built on actQ8
		if err := prepareLocal(a, actQ8); err != nil {
			return err
		}
	}
	a.alloc(f)
	a.quantRows(f, 0, a.n)
	a.mark(f)
	return nil
}

// prepare quantises a into format f, over the pool when the batch is large.
func (p *Pool) prepare(a *Activations, f actFormat) error {
	if err := a.check(f); err != nil {
		return err
	}
	if a.has(f) {
		return nil
	}
	if f == actQ8P || f == actQ81 { // built on actQ8
		if err := p.prepare(a, actQ8); err != nil {
			return err
		}
	}
	a.alloc(f)
	if a.n*a.cols < 1<<15 || p.threads == 1 {
		a.quantRows(f, 0, a.n)
	} else {
		j := &p.quant
		j.a, j.f = a, f
		j.chunk = max(1, a.n/(4*p.threads))
		p.dispatch(j, (a.n+j.chunk-1)/j.chunk)
		j.a = nil
	}
	a.mark(f)
	return nil
}
