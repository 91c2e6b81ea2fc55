package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/term"

	"github.com/corral-ai/corral/bots/graphtest"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

// Runner drives one scenario against a deployment.
type Runner struct {
	s       Scenario
	planner *Planner
	tracker *Tracker
	client  *http.Client
	graph   *graphtest.Server
	// progress receives the live progress line; nil prints none.
	progress io.Writer
	runID    int

	// GraphURL is the fake Graph API's base URL once Start has run.
	GraphURL string
	listener net.Listener
	server   *http.Server

	sent, acked, refused, replays atomic.Int64
	mu                            sync.Mutex
	errors                        map[string]int64
	ack, ackRaw                   Histogram
	accepted                      []delivery // for replays
	inflight                      sync.WaitGroup
	// root is the run's context: posts and Meta-style retries go on after
	// sending stops, until it ends.
	root context.Context
}

// NewRunner prepares a run of s. progress, when not nil, gets a live
// progress line.
func NewRunner(s Scenario, progress io.Writer) (*Runner, error) {
	s.resolveStages()
	if err := s.Validate(); err != nil {
		return nil, err
	}
	corpus, err := LoadCorpus(s.Corpus)
	if err != nil {
		return nil, err
	}
	runID := s.RunID
	if runID == 0 {
		runID = rand.IntN(999_999) + 1 // only the ids change with it
	}
	tr := &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: 30 * time.Second}
	r := &Runner{s: s, planner: NewPlanner(s, corpus, runID), tracker: NewTracker(s.Settle.D()), runID: runID,
		// Meta gives up on a delivery after about 20 seconds.
		client:   &http.Client{Transport: tr, Timeout: 20 * time.Second},
		progress: progress, errors: map[string]int64{}}
	r.graph = graphtest.NewServer(r.graphOptions())
	r.injectFaults()
	return r, nil
}

// Graph is the fake Graph API, for tests that inject more faults.
func (r *Runner) Graph() *graphtest.Server { return r.graph }

// RunID is the number in this run's ids.
func (r *Runner) RunID() int { return r.runID }

func (r *Runner) graphOptions() graphtest.Options {
	g := r.s.Graph
	o := graphtest.Options{Latency: g.Latency.D(), LatencyJitter: g.Jitter.D(), NoRecord: true, OnCall: r.tracker.OnCall,
		Seed: splitmix(r.s.Seed ^ 0x6a09e667f3bcc909)}
	if g.RateLimit > 0 || g.PairRateLimit > 0 {
		o.RateLimit = &graphtest.RateLimit{PerSecond: g.RateLimit, PairPerSecond: g.PairRateLimit, RetryAfter: true}
	}
	return o
}

// injectFaults adds the scenario's random failures. The throttle fault is
// tried first on its share of calls; the error fault's rate is of the
// calls left, so the two shares add up as written.
func (r *Runner) injectFaults() {
	g := r.s.Graph
	if g.ThrottleRate > 0 {
		for _, p := range []corralv1.Platform{corralv1.Platform_PLATFORM_WHATSAPP, corralv1.Platform_PLATFORM_MESSENGER} {
			f := graphtest.RateLimited(p)
			f.Rate, f.SendsOnly = g.ThrottleRate, true
			r.graph.Inject(f)
		}
	}
	if g.ErrorRate > 0 {
		f := graphtest.ServerError()
		f.Rate, f.SendsOnly = g.ErrorRate/(1-g.ThrottleRate), true
		r.graph.Inject(f)
	}
}

// Start listens for the fake Graph API (when GraphListen is set). Run
// calls it when it was not called before.
func (r *Runner) Start() error {
	if r.listener != nil || r.s.GraphListen == "" {
		return nil
	}
	l, err := net.Listen("tcp", r.s.GraphListen)
	if err != nil {
		return fmt.Errorf("fake Graph API: listen on %s: %w", r.s.GraphListen, err)
	}
	r.listener = l
	r.GraphURL = "http://" + l.Addr().String()
	r.server = &http.Server{Handler: r.graph, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = r.server.Serve(l) }() // ends with Shutdown in Run
	return nil
}

// Run sends the scenario's messages, waits for their replies and returns
// the report. Ending ctx stops sending and drains at once.
func (r *Runner) Run(ctx context.Context) (*Report, error) {
	if err := r.Start(); err != nil {
		return nil, err
	}
	if r.server != nil {
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = r.server.Shutdown(sctx)
		}()
	}
	r.root = ctx
	start := time.Now()
	_, total := r.s.Plan()
	sendCtx, stopSending := context.WithDeadline(ctx, start.Add(total))
	defer stopSending()
	bg, stopBG := context.WithCancel(ctx)
	var bgDone sync.WaitGroup
	bgDone.Go(func() { r.sweepLoop(bg) })
	if r.progress != nil {
		bgDone.Go(func() { r.progressLoop(bg, start, total) })
	}
	replayCtx, stopReplay := context.WithCancel(sendCtx)
	var replayDone sync.WaitGroup
	if r.s.ReplayRate > 0 {
		replayDone.Go(func() { r.replayLoop(replayCtx) })
	}

	if r.s.Open() {
		r.openLoop(sendCtx, start)
	} else {
		r.closedLoop(sendCtx)
	}
	// Drain: replays stop with the messages, every post finishes (or is
	// given up), then replies get until the drain time to come and settle.
	stopReplay()
	replayDone.Wait()
	r.inflight.Wait()
	drainEnd := time.Now().Add(r.s.Drain.D())
	for r.tracker.waiting() > 0 && time.Now().Before(drainEnd) && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	stopBG()
	bgDone.Wait()
	r.tracker.sweep(time.Now())
	if r.progress != nil {
		fmt.Fprintln(r.progress)
	}
	mode := "closed"
	if r.s.Open() {
		mode = "open"
	}
	s := r.s
	rep := &Report{Mode: mode, Scenario: &s, RunID: r.runID, Started: start, ElapsedS: time.Since(start).Seconds(),
		Sent: r.sent.Load(), Acked: r.acked.Load(), Refused: r.refused.Load(), Replays: r.replays.Load(),
		ErrorsByKind: map[string]int64{}, SLOPassed: true}
	r.mu.Lock()
	for k, v := range r.errors {
		rep.ErrorsByKind[k] = v
		rep.Errors += v
	}
	r.mu.Unlock()
	rep.build(r.tracker.Outcome(), &r.ack, &r.ackRaw, r.s.Open())
	return rep, nil
}

// closedLoop runs Users users until ctx ends, each waiting for a reply
// before thinking and writing again.
func (r *Runner) closedLoop(ctx context.Context) {
	var wg sync.WaitGroup
	for slot := range r.s.Users {
		wg.Go(func() {
			for gen := 0; ; gen++ {
				u := r.planner.User(slot, gen)
				for _, m := range u.Messages {
					// Think first, so users do not all start at once.
					if !sleep(ctx, r.planner.Think(u)) {
						return
					}
					now := time.Now()
					tr := r.tracker.add(u, m, now)
					r.inflight.Add(1)
					r.deliver(u, m, tr, now)
					wait := time.NewTimer(r.s.ReplyTimeout.D())
					select {
					case <-tr.done:
					case <-wait.C:
					case <-ctx.Done():
					}
					wait.Stop()
					if ctx.Err() != nil {
						return
					}
				}
			}
		})
	}
	wg.Wait()
}

// openLoop sends messages at the planned arrival times, whatever the
// replies do. A message goes to an idle user of the pool; when every user
// waits for a reply, a new one joins. Latencies are measured from each
// message's planned time, so a late send counts against the deployment
// rather than vanishing (coordinated omission).
func (r *Runner) openLoop(ctx context.Context, start time.Time) {
	type slotState struct {
		user *User
		gen  int
		turn int
	}
	var (
		mu    sync.Mutex
		idle  []int
		slots []*slotState
	)
	for i := range r.s.Users {
		idle = append(idle, i)
		slots = append(slots, &slotState{user: r.planner.User(i, 0)})
	}
	release := func(slot int) {
		mu.Lock()
		defer mu.Unlock()
		st := slots[slot]
		if st.turn++; st.turn >= len(st.user.Messages) {
			st.gen++
			st.user, st.turn = r.planner.User(slot, st.gen), 0
		}
		idle = append(idle, slot)
	}
	// waiters hold a user until its reply; they end by the end of sending
	// at the latest.
	var waiters sync.WaitGroup
	defer waiters.Wait()
	arrivals := r.planner.Arrivals()
	for {
		off, ok := arrivals.Next()
		if !ok {
			return
		}
		at := start.Add(off)
		if !sleep(ctx, time.Until(at)) {
			return
		}
		mu.Lock()
		var slot int
		if len(idle) > 0 {
			slot, idle = idle[0], idle[1:]
		} else if len(slots) < maxUsers {
			slot = len(slots)
			slots = append(slots, &slotState{user: r.planner.User(slot, 0)})
		} else {
			mu.Unlock()
			r.countError("no_idle_user")
			continue
		}
		st := slots[slot]
		u, m := st.user, st.user.Messages[st.turn]
		mu.Unlock()
		tr := r.tracker.add(u, m, at)
		r.inflight.Add(1)
		waiters.Go(func() {
			r.deliver(u, m, tr, at)
			wait := time.NewTimer(r.s.ReplyTimeout.D())
			select {
			case <-tr.done:
			case <-wait.C:
			case <-ctx.Done():
			}
			wait.Stop()
			release(slot)
		})
	}
}

// deliver posts message m of u until the gateway accepts it, retrying a
// refusal as Meta does. start is the latency origin. It marks one
// inflight post done.
func (r *Runner) deliver(u *User, m Message, tr *tracked, start time.Time) {
	defer r.inflight.Done()
	path, body, err := WebhookBody(u, m, start)
	if err != nil {
		r.countError("webhook_encode")
		r.tracker.acked(tr, false)
		return
	}
	d := newDelivery(r.s.Target, r.s.AppSecret, path, body)
	r.sent.Add(1)
	// A post and its retries go on when sending ends (until the run's
	// context ends): Meta would not take a delivery back.
	ctx := r.root
	backoff := time.Second
	for attempt := 0; ; attempt++ {
		began := time.Now()
		r.tracker.posted(tr, began)
		status, err := d.post(ctx, r.client)
		now := time.Now()
		if err == nil && status >= 200 && status < 300 {
			r.mu.Lock()
			r.ack.Record(now.Sub(start))
			r.ackRaw.Record(now.Sub(began))
			if r.s.ReplayRate > 0 {
				// Keep the newest maxReplayable for replays: Meta retries
				// recent deliveries, and memory stays bounded.
				if len(r.accepted) < maxReplayable {
					r.accepted = append(r.accepted, d)
				} else {
					r.accepted[r.sent.Load()%maxReplayable] = d
				}
			}
			r.mu.Unlock()
			r.acked.Add(1)
			r.tracker.acked(tr, true)
			return
		}
		r.countError(webhookErrorKind(status, err))
		if attempt >= r.s.Retries || !sleep(ctx, backoff) {
			r.refused.Add(1)
			r.tracker.acked(tr, false)
			return
		}
		backoff *= 2
	}
}

// maxReplayable bounds the accepted deliveries kept for replays.
const maxReplayable = 10_000

func webhookErrorKind(status int, err error) string {
	var ne net.Error
	switch {
	case err == nil:
		return "webhook_" + strconv.Itoa(status)
	case errors.As(err, &ne) && ne.Timeout():
		return "webhook_timeout"
	}
	return "webhook_network"
}

func (r *Runner) countError(kind string) {
	r.mu.Lock()
	r.errors[kind]++
	r.mu.Unlock()
}

// replayLoop delivers accepted webhooks again at the replay rate, as
// Meta's retries do; the deployment must not answer them twice.
func (r *Runner) replayLoop(ctx context.Context) {
	rng := rngFor(r.s.Seed, streamReplay, 0, 0)
	tick := time.NewTicker(time.Duration(float64(time.Second) / r.s.ReplayRate))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		r.mu.Lock()
		n := len(r.accepted)
		var d delivery
		if n > 0 {
			d = r.accepted[rng.IntN(n)]
		}
		r.mu.Unlock()
		if n == 0 {
			continue
		}
		r.replays.Add(1)
		r.inflight.Add(1)
		go func() {
			defer r.inflight.Done()
			if status, err := d.post(r.root, r.client); err != nil || status/100 != 2 {
				r.countError("replay_" + webhookErrorKind(status, err))
			}
		}()
	}
}

// sweepLoop settles replies every few milliseconds until ctx ends.
func (r *Runner) sweepLoop(ctx context.Context) {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			r.tracker.sweep(now)
		}
	}
}

// progressLoop rewrites one line every second on a terminal, and prints
// a line every ten seconds elsewhere (a CI log), until ctx ends.
func (r *Runner) progressLoop(ctx context.Context, start time.Time, total time.Duration) {
	terminal := false
	if f, ok := r.progress.(*os.File); ok {
		terminal = term.IsTerminal(int(f.Fd()))
	}
	every, prefix, suffix := 10*time.Second, "", "\n"
	if terminal {
		every, prefix, suffix = time.Second, "\r", "   "
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		st := r.tracker.stats()
		r.mu.Lock()
		var errs int64
		for _, v := range r.errors {
			errs += v
		}
		r.mu.Unlock()
		fmt.Fprintf(r.progress, "%s[%4.0fs/%.0fs] sent %d acked %d replies %d waiting %d dup %d errors %d  e2e p50 %v p99 %v%s",
			prefix, time.Since(start).Seconds(), total.Seconds(), r.sent.Load(), r.acked.Load(), st.replies, st.waiting, st.dups, errs,
			st.p50.Round(time.Millisecond), st.p99.Round(time.Millisecond), suffix)
	}
}

// sleep waits d or until ctx ends, and reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
