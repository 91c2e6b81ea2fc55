package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// spinRounds is how long an idle worker (or the dispatcher awaiting the
// workers) polls before it parks, a few hundred microseconds. Products in a
// forward pass follow each other within microseconds, and waking a parked
// goroutine costs far more: the waker keeps its P while it polls, so the
// woken one waits to be stolen by another P. With 1<<15 rounds enough waits
// ended parked that single-token decode ran ~25% slower.
const spinRounds = 1 << 20

// task is one parallel operation. run is called by every thread of the pool
// at once and takes work items from a shared counter until none are left.
type task interface{ run() }

type worker struct {
	wake   chan struct{} // holds at most one wake-up token
	parked atomic.Bool
	_      [48]byte // keep workers' flags on separate cache lines
}

// Pool is a fixed set of threads that run products together. The calling
// goroutine works as one of them, so NewPool(2) starts one goroutine. A Pool
// runs one operation at a time; concurrent callers wait their turn. Steady
// state allocates nothing.
type Pool struct {
	mu      sync.Mutex
	threads int
	workers []*worker
	wg      sync.WaitGroup
	closed  atomic.Bool

	gen     atomic.Uint64 // bumped to publish job
	job     task
	pending atomic.Int32 // workers still running job
	// The dispatcher polls pending; only when it has given up and parked
	// (waiting set) does the last worker wake it through done.
	waiting atomic.Bool
	done    chan struct{}

	mat     matJob
	quant   quantJob
	fn      funcJob
	scratch Activations
}

// NewPool starts a pool of threads threads (the caller counts as one);
// threads <= 0 means runtime.GOMAXPROCS(0).
func NewPool(threads int) *Pool {
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	p := &Pool{threads: threads, done: make(chan struct{}, 1)}
	for range threads - 1 {
		w := &worker{wake: make(chan struct{}, 1)}
		p.workers = append(p.workers, w)
		p.wg.Add(1)
		go p.loop(w)
	}
	return p
}

// Threads is the number of threads that share each operation.
func (p *Pool) Threads() int { return p.threads }

// Close stops the worker goroutines and waits for them. It is safe to call
// more than once; operations on a closed pool return ErrClosed.
func (p *Pool) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed.Swap(true) {
		return
	}
	p.gen.Add(1)
	for _, w := range p.workers {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
	p.wg.Wait()
}

func (p *Pool) loop(w *worker) {
	defer p.wg.Done()
	var seen uint64
	for {
		seen = p.await(w, seen)
		if p.closed.Load() {
			return
		}
		p.job.run()
		if p.pending.Add(-1) == 0 && p.waiting.Load() && p.waiting.CompareAndSwap(true, false) {
			p.done <- struct{}{}
		}
	}
}

// await returns the next generation after seen, polling first and then
// parking. A worker marks itself parked before its last look at gen and the
// dispatcher bumps gen before it looks at the mark, so one of them always
// sees the other; extra wake-up tokens are harmless.
func (p *Pool) await(w *worker, seen uint64) uint64 {
	for range spinRounds {
		if g := p.gen.Load(); g != seen {
			return g
		}
	}
	for {
		w.parked.Store(true)
		if g := p.gen.Load(); g != seen {
			w.parked.Store(false)
			return g
		}
		<-w.wake
		w.parked.Store(false)
		if g := p.gen.Load(); g != seen {
			return g
		}
	}
}

// dispatch runs j on every thread and returns when all are done. The caller
// holds p.mu.
func (p *Pool) dispatch(j task) {
	if len(p.workers) == 0 {
		j.run()
		return
	}
	p.job = j
	p.pending.Store(int32(len(p.workers)))
	p.gen.Add(1)
	for _, w := range p.workers {
		if w.parked.Load() {
			select {
			case w.wake <- struct{}{}:
			default:
			}
		}
	}
	j.run()
	// Parking on a channel here would be costly: the worker that wakes us
	// keeps its P while it polls for the next job, so poll first. Same
	// handshake as await: set waiting, look again; whoever clears waiting
	// decides whether a wake-up is sent.
	for range spinRounds {
		if p.pending.Load() == 0 {
			return
		}
	}
	p.waiting.Store(true)
	if p.pending.Load() == 0 && p.waiting.CompareAndSwap(true, false) {
		return
	}
	<-p.done
}

// funcJob runs a caller's function over chunks of [0, n).
type funcJob struct {
	fn      func(lo, hi int)
	n       int
	chunk   int
	nChunks int
	next    atomic.Int64
}

func (j *funcJob) run() {
	for {
		c := int(j.next.Add(1) - 1)
		if c >= j.nChunks {
			return
		}
		lo := c * j.chunk
		j.fn(lo, min(lo+j.chunk, j.n))
	}
}

// Parallel calls fn on disjoint ranges [lo, hi) covering [0, n), spread over
// the pool's threads, and returns when all calls have returned. Ranges are
// small enough to balance uneven work. fn must not use the pool.
func (p *Pool) Parallel(n int, fn func(lo, hi int)) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed.Load() {
		return ErrClosed
	}
	if n <= 0 {
		return nil
	}
	j := &p.fn
	j.fn, j.n = fn, n
	j.chunk = max(1, n/(4*p.threads))
	j.nChunks = (n + j.chunk - 1) / j.chunk
	j.next.Store(0)
	p.dispatch(j)
	j.fn = nil
	return nil
}
