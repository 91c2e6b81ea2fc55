// Package gcpace keeps the garbage collector's heap goal at a floor while
// the live heap is small.
//
// Go's pacing (GOGC=100) collects whenever the heap has grown by the live
// heap since the last collection. A process whose live heap is a few
// megabytes but which allocates a few kilobytes per request (the webhook
// gateway: about 8 KiB a webhook) then collects dozens of times a second,
// and every collection's fixed cost (starting and stopping the mark
// workers, scanning every goroutine's stack, sweeping) is paid again. With
// a floor F, after every collection GOGC is set so that the next goal is
// the larger of F and what GOGC would give: the heap grows to F between
// collections while the live heap is under F/2 (at GOGC=100), and the
// usual pacing applies above that. GOMEMLIMIT, when set, still caps the
// heap. The cost is memory: up to F of heap, most of it garbage.
package gcpace

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// EnvFloor names the floor's setting in `corral serve` and the
// benchmarks that measure its effect: a size such as 64MiB, 0 for Go's
// own pacing.
const EnvFloor = "CORRAL_GC_HEAP_FLOOR"

// maxPercent bounds the GOGC set, so a nearly empty live heap does not
// ask for an absurd one.
const maxPercent = 100_000

// active says a Pacer runs: GOGC is one setting per process, and a second
// Pacer would take the first's raised GOGC for the one to put back.
var active atomic.Bool

// liveHeap is the runtime metric read after each collection.
const liveHeap = "/gc/heap/live:bytes"

// Pacer raises GOGC after each collection; Stop puts back the GOGC it
// found.
type Pacer struct {
	floor   uint64
	base    int // the GOGC in force at Start
	stopped atomic.Bool

	mu     sync.Mutex // guards sample and percent
	sample []metrics.Sample
	// percent is the GOGC last set.
	percent int
}

// sentinel is garbage whose cleanup marks the end of a collection. It
// holds a pointer so that it is not a tiny allocation, which may share its
// memory block with live objects and so never be collected.
type sentinel struct {
	_ *byte
	_ [8]byte
}

// Start keeps the heap goal at least floor bytes from the next collection
// on. A floor of 0, GOGC=off, or another Pacer still running leaves the
// pacing alone and returns nil;
// a nil Pacer's Stop does nothing.
func Start(floor uint64) *Pacer {
	if floor == 0 {
		return nil
	}
	base := gogc()
	if base < 0 || !active.CompareAndSwap(false, true) {
		return nil // GOGC=off, or another Pacer sets GOGC already
	}
	p := &Pacer{floor: floor, base: base, percent: base, sample: []metrics.Sample{{Name: liveHeap}}}
	p.adjust()
	p.arm()
	return p
}

// Stop ends the pacing and puts back the GOGC found at Start.
func (p *Pacer) Stop() {
	if p == nil || p.stopped.Swap(true) {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	debug.SetGCPercent(p.base)
	p.percent = p.base
	active.Store(false)
}

// Percent is the GOGC the pacer last set.
func (p *Pacer) Percent() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.percent
}

// arm makes a sentinel whose cleanup, run after the collection that finds
// it unreachable, adjusts GOGC and arms the next.
func (p *Pacer) arm() {
	runtime.AddCleanup(new(sentinel), func(p *Pacer) {
		if p.stopped.Load() {
			return
		}
		p.adjust()
		p.arm()
	}, p)
}

// adjust sets GOGC for the live heap of the last collection.
func (p *Pacer) adjust() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped.Load() {
		return
	}
	metrics.Read(p.sample)
	live := uint64(1)
	if p.sample[0].Value.Kind() == metrics.KindUint64 {
		live = max(live, p.sample[0].Value.Uint64())
	}
	percent := Percent(p.floor, live, p.base)
	if percent != p.percent {
		debug.SetGCPercent(percent)
		p.percent = percent
	}
}

// Percent is the GOGC that makes the heap goal of a live heap of live
// bytes the larger of floor and what base gives.
func Percent(floor, live uint64, base int) int {
	live = max(live, 1)
	if live*uint64(100+base)/100 >= floor {
		return base
	}
	return int(min(floor*100/live-100, maxPercent))
}

// gogc reads the GOGC in force without setting it (which SetGCPercent
// would, for a moment another goroutine could see); -1 means off.
func gogc() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 100
	}
	return int(int64(s[0].Value.Uint64())) // off is -1, stored as an unsigned
}
