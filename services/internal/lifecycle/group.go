// Package lifecycle holds the lifecycle every Corral process shares: components
// started in order and stopped in reverse, goroutines with an owner, and the
// health and readiness endpoints.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/pprof"
	"sync"
	"sync/atomic"
)

// Group owns what a process started. Stop undoes it in reverse order: first
// the goroutines started with Go (their context is cancelled and they are
// awaited), then each component's stop function, last added first.
type Group struct {
	log     *slog.Logger
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	mu      sync.Mutex
	stops   []namedStop
	errs    []error
	stopped atomic.Bool
	failed  chan struct{} // closed when a goroutine first returns an error
	failure sync.Once
}

type namedStop struct {
	name string
	stop func(ctx context.Context) error
}

// NewGroup returns an empty group whose goroutines run under a context
// derived from ctx's values (not its cancellation: the group decides when
// they stop).
func NewGroup(ctx context.Context, log *slog.Logger) *Group {
	gctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	return &Group{log: log, ctx: gctx, cancel: cancel, failed: make(chan struct{})}
}

// OnStop registers how to stop something that has just been started.
func (g *Group) OnStop(name string, stop func(ctx context.Context) error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.stops = append(g.stops, namedStop{name, stop})
}

// Go runs fn in a goroutine labelled name for pprof. fn must return once its
// context is cancelled; an error it returns is logged and reported by Stop.
func (g *Group) Go(name string, fn func(ctx context.Context) error) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		pprof.Do(g.ctx, pprof.Labels("component", name), func(ctx context.Context) {
			if err := fn(ctx); err != nil && !errors.Is(err, context.Canceled) {
				g.log.Error("component failed", "component", name, "err", err)
				g.mu.Lock()
				g.errs = append(g.errs, fmt.Errorf("%s: %w", name, err))
				g.mu.Unlock()
				g.failure.Do(func() { close(g.failed) })
			}
		})
	}()
}

// Failed is closed when a goroutine started with Go fails, so the process
// can shut down instead of running on without a component; Stop then
// reports the error.
func (g *Group) Failed() <-chan struct{} { return g.failed }

// Stop cancels the goroutines, waits for them, then runs the stop functions
// in reverse order, each bounded by ctx. Only the first call does anything.
func (g *Group) Stop(ctx context.Context) error {
	if !g.stopped.CompareAndSwap(false, true) {
		return nil
	}
	g.cancel()
	waited := make(chan struct{})
	go func() { g.wg.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-ctx.Done():
		g.log.Warn("goroutines still running at the shutdown deadline")
	}
	g.mu.Lock()
	stops, errs := g.stops, g.errs
	g.mu.Unlock()
	for i := len(stops) - 1; i >= 0; i-- {
		s := stops[i]
		if err := s.stop(ctx); err != nil {
			g.log.Error("stop failed", "component", s.name, "err", err)
			errs = append(errs, fmt.Errorf("stop %s: %w", s.name, err))
		} else {
			g.log.Debug("stopped", "component", s.name)
		}
	}
	return errors.Join(errs...)
}
