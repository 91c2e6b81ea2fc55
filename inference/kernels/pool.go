package kernels

import (
	"fmt"
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

// task is one parallel operation, cut into items that the threads claim
// one at a time; item(thread, i) runs item i on thread thread (0 is the
// caller, 1.. the workers).
type task interface{ item(thread, i int) }

// The claim word of the operation in flight: its generation, its number of
// items and the next unclaimed item. A thread owns item i of generation g
// once it has moved the word from (g, n, i) to (g, n, i+1), and only then
// reads the operation's fields; the dispatcher keeps them unchanged until
// every item of g is done. A worker that wakes late, after the last claim,
// sees a spent or newer word and touches nothing, so nobody waits for a
// worker that is asleep or descheduled unless it holds an item.
const (
	claimBits = 20
	claimMask = 1<<claimBits - 1
	genMask   = 1<<(64-2*claimBits) - 1
	// maxItems bounds the items of one operation.
	maxItems = claimMask
)

func claimWord(gen uint64, n, next int) uint64 {
	return gen<<(2*claimBits) | uint64(n)<<claimBits | uint64(next)
}

type worker struct {
	id     int           // thread number, from 1
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

	gen   uint64        // generation of the last operation; p.mu
	claim atomic.Uint64 // claim word, see above
	job   task          // the operation of the current generation
	done  atomic.Int64  // items of the current generation finished
	// The dispatcher polls done; only when it has given up and parked
	// (waiting set) does the thread finishing the last item wake it.
	waiting atomic.Bool
	wakeup  chan struct{}

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
	p := &Pool{threads: threads, wakeup: make(chan struct{}, 1)}
	for i := range threads - 1 {
		w := &worker{id: i + 1, wake: make(chan struct{}, 1)}
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
	p.gen = (p.gen + 1) & genMask
	p.claim.Store(claimWord(p.gen, 0, 0))
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
		p.work(w.id, seen)
	}
}

// await returns the generation of a claim word newer than seen, polling
// first and then parking. A worker marks itself parked before its last
// look at the word and the dispatcher publishes the word before it looks at
// the mark, so one of them always sees the other; extra wake-up tokens are
// harmless.
func (p *Pool) await(w *worker, seen uint64) uint64 {
	for range spinRounds {
		if g := p.claim.Load() >> (2 * claimBits); g != seen {
			return g
		}
	}
	for {
		w.parked.Store(true)
		if g := p.claim.Load() >> (2 * claimBits); g != seen {
			w.parked.Store(false)
			return g
		}
		<-w.wake
		w.parked.Store(false)
		if g := p.claim.Load() >> (2 * claimBits); g != seen {
			return g
		}
	}
}

// work claims and runs items of generation gen on thread thread until none
// is left.
func (p *Pool) work(thread int, gen uint64) {
	for {
		v := p.claim.Load()
		n, next := int(v>>claimBits&claimMask), int(v&claimMask)
		if v>>(2*claimBits) != gen || next >= n {
			return
		}
		if !p.claim.CompareAndSwap(v, v+1) {
			continue
		}
		p.job.item(thread, next)
		if p.done.Add(1) == int64(n) && p.waiting.Load() && p.waiting.CompareAndSwap(true, false) {
			p.wakeup <- struct{}{}
		}
	}
}

// dispatch runs the n items of j on the pool's threads and returns when all
// are done. The caller holds p.mu; n <= maxItems.
func (p *Pool) dispatch(j task, n int) {
	if len(p.workers) == 0 || n == 1 {
		for i := range n {
			j.item(0, i)
		}
		return
	}
	p.job = j
	p.done.Store(0)
	p.gen = (p.gen + 1) & genMask
	p.claim.Store(claimWord(p.gen, n, 0))
	for _, w := range p.workers {
		if w.parked.Load() {
			select {
			case w.wake <- struct{}{}:
			default:
			}
		}
	}
	p.work(0, p.gen)
	// The items left are running on workers. Parking on a channel here
	// would be costly: the worker that wakes us keeps its P while it polls
	// for the next job, so poll first. Same handshake as await: set
	// waiting, look again; whoever clears waiting decides whether a
	// wake-up is sent.
	for range spinRounds {
		if p.done.Load() == int64(n) {
			p.job = nil
			return
		}
	}
	p.waiting.Store(true)
	if p.done.Load() == int64(n) && p.waiting.CompareAndSwap(true, false) {
		p.job = nil
		return
	}
	<-p.wakeup
	p.job = nil
}

// funcJob runs a caller's function over chunks of [0, n).
type funcJob struct {
	fn       func(lo, hi int)
	fnT      func(thread, lo, hi int)
	n, chunk int
}

func (j *funcJob) item(thread, c int) {
	lo := c * j.chunk
	if j.fnT != nil {
		j.fnT(thread, lo, min(lo+j.chunk, j.n))
		return
	}
	j.fn(lo, min(lo+j.chunk, j.n))
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
	j.chunk = max(1, n/(4*p.threads), (n+maxItems-1)/maxItems)
	p.dispatch(j, (n+j.chunk-1)/j.chunk)
	j.fn = nil
	return nil
}

// ParallelThreads is Parallel for work that needs scratch space per
// thread: fn also gets the number of the thread that runs it, in
// [0, Threads()), and no two calls with the same number run at once. Each
// index of [0, n) is its own range, for uneven items (fn may be given
// several in turn).
func (p *Pool) ParallelThreads(n int, fn func(thread, lo, hi int)) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed.Load() {
		return ErrClosed
	}
	if n <= 0 {
		return nil
	}
	if n > maxItems {
		return fmt.Errorf("parallel: %w: %d items, at most %d", ErrShape, n, maxItems)
	}
	j := &p.fn
	j.fnT, j.n, j.chunk = fn, n, 1
	p.dispatch(j, n)
	j.fnT = nil
	return nil
}
