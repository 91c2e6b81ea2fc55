package graphtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/corral-ai/corral/bots/graph"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

// Options configure a Server. The zero value accepts any token for any
// channel, answers at once and records every call.
type Options struct {
	// Version is the only version segment accepted ("v25.0"); empty
	// accepts any of the form vN.N.
	Version string
	// Tokens maps each valid access token to the channel ids (phone number
	// ids or Page ids) it may send from; a nil list allows any channel.
	// When Tokens is empty, every non-empty token is valid everywhere.
	Tokens map[string][]string
	// Latency is added to every call; LatencyJitter adds a uniformly random
	// extra of up to its value.
	Latency       time.Duration
	LatencyJitter time.Duration
	// RateLimit, when set, throttles message sends with the real codes.
	RateLimit *RateLimit
	// NoRecord keeps no calls in memory (long load runs); OnCall still sees
	// every call.
	NoRecord bool
	// OnCall, if set, is called with every answered call, on the serving
	// goroutine, before the answer is written. It must be quick.
	OnCall func(Call)
	// Seed seeds jitter and fault rates; 0 picks a random seed.
	Seed uint64
	// Now returns the time; default time.Now. Tests of rate limits set it.
	Now func() time.Time
}

// CallKind is what a call asked for.
type CallKind string

// Call kinds.
const (
	// CallText is a text message (WhatsApp type text, Messenger text).
	CallText CallKind = "text"
	// CallButtons is a WhatsApp interactive reply-button message.
	CallButtons CallKind = "buttons"
	// CallOther is a WhatsApp message of another type (image, template...).
	CallOther CallKind = "other"
	// CallRead is a WhatsApp read receipt, possibly with a typing indicator.
	CallRead CallKind = "read"
	// CallAction is a Messenger sender action (mark_seen, typing_on...).
	CallAction CallKind = "action"
	// CallInvalid is a call refused before its kind was known.
	CallInvalid CallKind = "invalid"
)

// Call is one recorded request and its answer.
type Call struct {
	// Seq numbers calls from 1 in arrival order.
	Seq int64
	// Time is when the call arrived.
	Time time.Time
	// Platform is the platform the call was for (unspecified when it could
	// not be told).
	Platform corralv1.Platform
	// Kind is what it asked for.
	Kind CallKind
	// Channel is the phone number id or Page id sent from.
	Channel string
	// Recipient is the wa_id, BSUID or PSID sent to.
	Recipient string
	// Text is the text or interactive body.
	Text string
	// ReplyTo is the quoted message (WhatsApp context.message_id).
	ReplyTo string
	// ReadMessageID is the message a WhatsApp read receipt marks read.
	ReadMessageID string
	// Typing is set for a WhatsApp read receipt with a typing indicator.
	Typing bool
	// Action is the Messenger sender action.
	Action string
	// QuickReplies are the titles of quick replies or reply buttons.
	QuickReplies []string
	// Payloads are their payloads or button ids.
	Payloads []string
	// Metadata is the Messenger message metadata.
	Metadata string
	// MessagingType is the Messenger messaging_type.
	MessagingType string
	// TraceParent is the W3C traceparent header of the call.
	TraceParent string
	// Status is the HTTP status answered (0 for a dropped connection).
	Status int
	// ErrorCode and ErrorSubcode are the Graph error answered, if any.
	ErrorCode    int
	ErrorSubcode int
	// MessageID is the id given to an accepted message.
	MessageID string
	// Body is the request body.
	Body []byte
}

// Accepted reports whether the call succeeded.
func (c Call) Accepted() bool { return c.Status >= 200 && c.Status < 300 }

// IsMessage reports whether the call sends a message (not a receipt,
// typing indicator or sender action).
func (c Call) IsMessage() bool {
	return c.Kind == CallText || c.Kind == CallButtons || c.Kind == CallOther
}

// Server is the fake Graph API. It is an http.Handler; serve it with
// httptest.NewServer or an http.Server and point graph.Config.BaseURL at it.
// All methods are safe for concurrent use.
type Server struct {
	opts Options
	now  func() time.Time

	mu      sync.Mutex
	rng     *rand.Rand
	seq     int64 // calls answered
	msgs    int64 // message ids given out
	calls   []Call
	changed chan struct{} // closed and replaced on every call
	faults  map[int]*faultState
	nextID  int
	buckets map[string]*bucket
}

type faultState struct {
	Fault
	hits   int
	credit float64 // Rate accumulated over matching calls; a hit spends 1
}

// NewServer returns a fake Graph API with opts.
func NewServer(opts Options) *Server {
	seed := opts.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	s := &Server{
		opts:    opts,
		now:     opts.Now,
		rng:     rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		changed: make(chan struct{}),
		faults:  map[int]*faultState{},
		buckets: map[string]*bucket{},
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// Inject adds a fault and returns its id for RemoveFault. Faults are tried
// in the order they were added; the first that hits a call decides it.
func (s *Server) Inject(f Fault) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	s.faults[s.nextID] = &faultState{Fault: f, credit: s.rng.Float64()}
	return s.nextID
}

// RemoveFault removes the fault with id; unknown ids are ignored.
func (s *Server) RemoveFault(id int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.faults, id)
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.faults)
}

// Calls returns a copy of every recorded call in arrival order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// Sent returns the accepted message sends (no receipts, typing or actions).
func (s *Server) Sent() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if c.Accepted() && c.IsMessage() {
			out = append(out, c)
		}
	}
	return out
}

// Reset forgets the recorded calls and rate-limit state; faults stay.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = nil
	clear(s.buckets)
}

// Wait blocks until cond, called with the recorded calls after every call
// (and once at the start), returns true, or ctx ends.
func (s *Server) Wait(ctx context.Context, cond func(calls []Call) bool) error {
	for {
		s.mu.Lock()
		ok := cond(s.calls)
		ch := s.changed
		s.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("wait for Graph API calls: %w", ctx.Err())
		}
	}
}

// Config returns the graph.Config of a client that talks to this server
// served at baseURL.
func Config(baseURL string) graph.Config {
	return graph.Config{BaseURL: baseURL, Version: graph.DefaultVersion}
}

var pathPattern = regexp.MustCompile(`^/(v[0-9]+\.[0-9]+)/([^/]+)/messages/?$`)

// maxBody bounds a request body; Send API bodies are small.
const maxBody = 1 << 20

// ServeHTTP answers one Send API call.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	call := Call{Time: s.now(), Kind: CallInvalid, TraceParent: r.Header.Get("Traceparent")}
	a := s.handle(r, &call)
	s.answer(w, r, &call, a)
}

// answer is what the server replies.
type answer struct {
	status     int
	body       any
	raw        string
	retryAfter time.Duration
	delay      time.Duration
	drop       bool
}

func graphError(code, subcode int, message string) answer {
	if message == "" {
		info, _ := graph.LookupCode(code, subcode)
		message = info.Meaning
	}
	if !strings.HasPrefix(message, "(#") {
		message = "(#" + strconv.Itoa(code) + ") " + message
	}
	e := map[string]any{"message": message, "type": "OAuthException", "code": code, "fbtrace_id": fbtraceID(code, subcode)}
	if subcode != 0 {
		e["error_subcode"] = subcode
	}
	if info, _ := graph.LookupCode(code, subcode); info.Kind == graph.KindTemporary {
		e["is_transient"] = true
	}
	return answer{status: statusFor(code, subcode), body: map[string]any{"error": e}}
}

// invalid is a (#100)-style parameter error with details for WhatsApp.
func invalid(code int, message, details string) answer {
	a := graphError(code, 0, message)
	if details != "" {
		e := a.body.(map[string]any)["error"].(map[string]any)
		e["error_data"] = map[string]any{"messaging_product": "whatsapp", "details": details}
	}
	return a
}

func fbtraceID(code, subcode int) string {
	return "Fake" + strconv.FormatUint(uint64(code)*7919+uint64(subcode), 36)
}

func (s *Server) handle(r *http.Request, call *Call) answer {
	m := pathPattern.FindStringSubmatch(r.URL.Path)
	if r.Method != http.MethodPost {
		return invalid(100, fmt.Sprintf("Unsupported %s request.", strings.ToLower(r.Method)), "")
	}
	if m == nil {
		return invalid(2500, "Unknown path components: "+r.URL.Path, "")
	}
	if s.opts.Version != "" && m[1] != s.opts.Version {
		return invalid(2500, "Unknown version "+m[1], "")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		return invalid(100, "Invalid request body", "")
	}
	call.Body = body
	token := bearer(r)
	if token == "" {
		return graphError(104, 0, "An access token is required to request this resource.")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return invalid(100, "Invalid JSON in request body", "")
	}
	node := m[2]
	_, isWhatsApp := fields["messaging_product"]
	if node == "me" || !isWhatsApp {
		call.Platform = corralv1.Platform_PLATFORM_MESSENGER
	} else {
		call.Platform = corralv1.Platform_PLATFORM_WHATSAPP
	}
	channel, ok := s.authorize(token, node)
	if !ok {
		return graphError(190, 0, "Invalid OAuth access token - Cannot parse access token")
	}
	call.Channel = channel
	if channel == "" {
		return graphError(100, 33, fmt.Sprintf("Unsupported post request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation", node))
	}
	var a answer
	if call.Platform == corralv1.Platform_PLATFORM_WHATSAPP {
		a = checkWhatsApp(body, call)
	} else {
		a = checkMessenger(body, call)
	}
	if a.status != 0 {
		return a
	}
	return s.decide(call)
}

// bearer returns the access token of r: Authorization header or the
// access_token query parameter Meta's samples use.
func bearer(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if t, ok := strings.CutPrefix(h, "Bearer "); ok {
			return strings.TrimSpace(t)
		}
		if t, ok := strings.CutPrefix(h, "OAuth "); ok {
			return strings.TrimSpace(t)
		}
		return ""
	}
	return r.URL.Query().Get("access_token")
}

// authorize checks token against node (a channel id or "me") and returns the
// channel the call sends from; ok is false for an unknown token, channel ""
// for a channel the token may not use.
func (s *Server) authorize(token, node string) (channel string, ok bool) {
	if len(s.opts.Tokens) == 0 {
		return node, true
	}
	allowed, known := s.opts.Tokens[token]
	if !known {
		return "", false
	}
	if node == "me" {
		if len(allowed) > 0 {
			return allowed[0], true
		}
		return "me", true
	}
	if allowed == nil || slices.Contains(allowed, node) {
		return node, true
	}
	return "", true
}

// decide applies faults and rate limits to a valid call and builds the
// success answer.
func (s *Server) decide(call *Call) answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	var delay time.Duration
	for _, id := range s.faultOrder() {
		f := s.faults[id]
		if !s.hits(f, call) {
			continue
		}
		delay += f.Delay
		if !f.fails() {
			continue
		}
		switch {
		case f.Drop:
			return answer{drop: true, delay: delay}
		case f.RawBody != "":
			st := f.Status
			if st == 0 {
				st = http.StatusBadGateway
			}
			return answer{status: st, raw: f.RawBody, delay: delay, retryAfter: f.RetryAfter}
		}
		a := graphError(f.Code, f.Subcode, f.Message)
		if f.Status != 0 {
			a.status = f.Status
		}
		a.delay, a.retryAfter = delay, f.RetryAfter
		return a
	}
	if call.IsMessage() {
		if a, limited := s.throttle(call); limited {
			a.delay = delay
			return a
		}
	}
	s.msgs++
	a := success(call, s.msgs)
	a.delay = delay
	return a
}

func (s *Server) faultOrder() []int {
	ids := make([]int, 0, len(s.faults))
	for id := range s.faults {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// hits reports whether f applies to call, counting the hit. s.mu is held.
func (s *Server) hits(f *faultState, call *Call) bool {
	switch {
	case f.Platform != corralv1.Platform_PLATFORM_UNSPECIFIED && f.Platform != call.Platform,
		f.Channel != "" && f.Channel != call.Channel,
		f.Recipient != "" && f.Recipient != call.Recipient,
		f.SendsOnly && !call.IsMessage(),
		f.Count > 0 && f.hits >= f.Count:
		return false
	}
	if f.Rate > 0 {
		// Spread evenly from a random phase: a fraction Rate of the
		// matching calls, and never more than 1/Rate in a row without,
		// so a short run still meets its faults.
		if f.credit += f.Rate; f.credit < 1 {
			return false
		}
		f.credit--
	}
	f.hits++
	return true
}

// throttle spends rate-limit tokens for a message send. s.mu is held.
func (s *Server) throttle(call *Call) (answer, bool) {
	rl := s.opts.RateLimit
	if rl == nil {
		return answer{}, false
	}
	now := s.now()
	check := func(key string, rate float64, burst int, code int) (answer, bool) {
		b := s.buckets[key]
		if b == nil {
			b = &bucket{}
			s.buckets[key] = b
		}
		ok, wait := b.take(now, rate, burst)
		if ok {
			return answer{}, false
		}
		a := graphError(code, 0, "")
		if rl.RetryAfter {
			a.retryAfter = wait
		}
		return a, true
	}
	if rl.PerSecond > 0 {
		burst := rl.Burst
		if burst <= 0 {
			burst = max(1, int(rl.PerSecond))
		}
		code := 130429
		if call.Platform == corralv1.Platform_PLATFORM_MESSENGER {
			code = 613
		}
		if a, limited := check("c|"+call.Channel, rl.PerSecond, burst, code); limited {
			return a, true
		}
	}
	if rl.PairPerSecond > 0 && call.Platform == corralv1.Platform_PLATFORM_WHATSAPP {
		burst := max(1, rl.PairBurst)
		if a, limited := check("p|"+call.Channel+"|"+call.Recipient, rl.PairPerSecond, burst, 131056); limited {
			return a, true
		}
	}
	return answer{}, false
}

// success builds the answer of an accepted call with message number n.
func success(call *Call, n int64) answer {
	switch {
	case call.Platform == corralv1.Platform_PLATFORM_WHATSAPP && call.Kind == CallRead:
		return answer{status: 200, body: map[string]any{"success": true}}
	case call.Platform == corralv1.Platform_PLATFORM_WHATSAPP:
		call.MessageID = fmt.Sprintf("wamid.FAKE%010d", n)
		contact := map[string]string{"input": call.Recipient}
		if isDigits(call.Recipient) {
			contact["wa_id"] = call.Recipient
		} else {
			contact["user_id"] = call.Recipient
		}
		return answer{status: 200, body: map[string]any{
			"messaging_product": "whatsapp",
			"contacts":          []any{contact},
			"messages":          []any{map[string]string{"id": call.MessageID}},
		}}
	case call.Kind == CallAction:
		return answer{status: 200, body: map[string]string{"recipient_id": call.Recipient}}
	default:
		call.MessageID = fmt.Sprintf("m_FAKE%010d", n)
		return answer{status: 200, body: map[string]string{"recipient_id": call.Recipient, "message_id": call.MessageID}}
	}
}

// answer waits out the latency, records the call and writes the answer.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, call *Call, a answer) {
	delay := s.opts.Latency + a.delay
	if j := s.opts.LatencyJitter; j > 0 {
		s.mu.Lock()
		delay += time.Duration(s.rng.Int64N(int64(j) + 1))
		s.mu.Unlock()
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
		}
	}
	call.Status = a.status
	if a.body != nil {
		if m, ok := a.body.(map[string]any); ok {
			if e, ok := m["error"].(map[string]any); ok {
				call.ErrorCode, _ = e["code"].(int)
				call.ErrorSubcode, _ = e["error_subcode"].(int)
			}
		}
	}
	s.record(call)
	if a.drop {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
		a.status, a.raw = http.StatusBadGateway, "connection dropped"
	}
	if a.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(a.retryAfter.Seconds()))))
	}
	if a.raw != "" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(a.status)
		_, _ = io.WriteString(w, a.raw)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(a.status)
	_ = json.NewEncoder(w).Encode(a.body)
}

// record numbers and keeps the call, tells OnCall and wakes waiters.
func (s *Server) record(call *Call) {
	s.mu.Lock()
	s.seq++
	call.Seq = s.seq
	if !s.opts.NoRecord {
		s.calls = append(s.calls, *call)
	}
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	if s.opts.OnCall != nil {
		s.opts.OnCall(*call)
	}
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
