package inference

import (
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"google.golang.org/protobuf/proto"

	"github.com/corral-ai/corral/inference/engine"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
	"github.com/corral-ai/corral/services/internal/inferclient"
)

// TestFlowControl: a client that takes no events gets at most its window
// of them, however far the engine gets; once it reads on, the rest arrives
// merged into fewer events, and the text is whole.
func TestFlowControl(t *testing.T) {
	f := start(t, testConfig(slowModel(t)), "", "")
	const window = 4
	req := long(300)
	want := direct(t, f.r, engine.Request{Input: engine.Input{Text: longPrompt}, Sampling: seeded(0, 0, 300)})
	e := f.r.Engine()
	before := e.Stats().Completed
	waitsBefore := counter(t, "corral_inference_flow_waits")

	msgs := raw(t, f.nc, f.subject(corralv1.SubjectInferenceGenerate), req, window)
	var (
		mu      sync.Mutex
		events  []*nats.Msg
		granted bool
		held    []*nats.Msg // acknowledgements not sent yet
	)
	ack := func(m *nats.Msg) {
		ev := &corralv1.GenerateEvent{}
		_ = proto.Unmarshal(m.Data, ev)
		a := nats.NewMsg(m.Reply)
		a.Header.Set(corralv1.HeaderAck, strconv.FormatUint(uint64(ev.GetSeq()), 10))
		if err := f.nc.PublishMsg(a); err != nil {
			t.Error(err)
		}
	}
	// The client answers probes at once and holds its acknowledgements
	// until granted.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m := range msgs {
			if m.Header.Get(corralv1.HeaderProbe) != "" {
				_ = m.Respond(nil)
				continue
			}
			ev := &corralv1.GenerateEvent{}
			if err := proto.Unmarshal(m.Data, ev); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			events = append(events, m)
			if m.Reply != "" {
				if granted {
					ack(m)
				} else {
					held = append(held, m)
				}
			}
			mu.Unlock()
			if ev.GetFinishReason() != corralv1.FinishReason_FINISH_REASON_UNSPECIFIED {
				return
			}
		}
	}()
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(events)
	}
	// The engine finishes the reply while the client holds back.
	waitFor(t, 20*time.Second, "the engine finishes", func() bool { return e.Stats().Completed == before+1 })
	time.Sleep(200 * time.Millisecond)
	if n := count(); n != window {
		t.Fatalf("%d events arrived without acknowledgement; want the window, %d", n, window)
	}
	if w := counter(t, "corral_inference_flow_waits"); w <= waitsBefore {
		t.Errorf("flow waits %d, want more than %d", w, waitsBefore)
	}
	mu.Lock()
	granted = true
	for _, m := range held {
		ack(m)
	}
	mu.Unlock()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the stream did not finish after credit was granted")
	}
	var text strings.Builder
	var ids []int32
	for i, m := range events {
		ev := &corralv1.GenerateEvent{}
		if err := proto.Unmarshal(m.Data, ev); err != nil {
			t.Fatal(err)
		}
		if ev.GetSeq() != uint32(i) {
			t.Fatalf("event %d has seq %d", i, ev.GetSeq())
		}
		if i == window/2-1 && m.Reply == "" {
			t.Errorf("event %d is not a credit request; the window is %d", i, window)
		}
		if i == len(events)-1 && m.Reply != "" {
			t.Error("the final event asks for credit")
		}
		text.WriteString(ev.GetText())
		ids = append(ids, ev.GetTokenIds()...)
	}
	if text.String() != want.Text || len(ids) != len(want.Tokens) {
		t.Fatalf("flow-controlled stream gave %d tokens %q; the engine %d tokens %q", len(ids), text.String(), len(want.Tokens), want.Text)
	}
	if len(events) >= want.Final.Usage.CompletionTokens {
		t.Errorf("%d events for %d tokens: held-back tokens were not merged", len(events), want.Final.Usage.CompletionTokens)
	}
	t.Logf("%d tokens in %d events", len(ids), len(events))
}

// TestSlowClientReader: the Go client reading slowly gets the same text in
// fewer events; the service never has more than the window unread.
func TestSlowClientReader(t *testing.T) {
	f := start(t, testConfig(slowModel(t)), "", "")
	c := newClient(t, connect(t, f.url), f.ns, inferclient.Options{Window: 2})
	want := direct(t, f.r, engine.Request{Input: engine.Input{Text: longPrompt}, Sampling: seeded(0, 0, 200)})
	s, err := c.Generate(t.Context(), long(200))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var text strings.Builder
	n := 0
	for {
		ev, err := s.Recv()
		if err != nil {
			t.Fatal(err)
		}
		n++
		text.WriteString(ev.GetText())
		if ev.GetFinishReason() != corralv1.FinishReason_FINISH_REASON_UNSPECIFIED {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if text.String() != want.Text {
		t.Fatalf("slow reader got %q, want %q", text.String(), want.Text)
	}
	if n >= want.Final.Usage.CompletionTokens {
		t.Errorf("%d events for %d tokens: nothing merged for the slow reader", n, want.Final.Usage.CompletionTokens)
	}
}

// TestOverloaded: past the queue the service refuses at once, saying when
// to retry; the refusal is retryable.
func TestOverloaded(t *testing.T) {
	cfg := testConfig(slowModel(t))
	cfg.QueueSize = 1
	// One running sequence, so the second request stays queued rather
	// than joining the batch at the next step.
	cfg.MaxBatch = 1
	f := start(t, cfg, "", "")
	long := long(2000)
	running, err := f.client.Generate(t.Context(), long)
	if err != nil {
		t.Fatal(err)
	}
	defer running.Close()
	waitFor(t, 5*time.Second, "the first request runs", func() bool { return f.r.Engine().Stats().Running == 1 })
	queued, err := f.client.Generate(t.Context(), long)
	if err != nil {
		t.Fatal(err)
	}
	defer queued.Close()
	before := counter(t, "corral_inference_requests", attrOutcome(outcomeOverloaded)...)
	t0 := time.Now()
	_, err = f.client.Generate(t.Context(), long)
	took := time.Since(t0)
	var e *inferclient.Error
	if !errors.Is(err, inferclient.ErrOverloaded) || !errors.As(err, &e) || e.Code != corralv1.ErrorCode_ERROR_CODE_OVERLOADED {
		t.Fatalf("third request: %v, want ERROR_CODE_OVERLOADED", err)
	}
	if e.RetryAfter != retryAfter || !inferclient.Retryable(err) || inferclient.RetryAfter(err, time.Minute) != retryAfter {
		t.Errorf("overload error %+v: want retryable after %v", e, retryAfter)
	}
	if took > time.Second {
		t.Errorf("refusal took %v; it must be immediate", took)
	}
	if n := counter(t, "corral_inference_requests", attrOutcome(outcomeOverloaded)...); n != before+1 {
		t.Errorf("overloaded requests counted %d, want %d", n, before+1)
	}
}

// TestInvalidRequests: each kind of bad request gets its code at once and
// nothing runs.
func TestInvalidRequests(t *testing.T) {
	f := start(t, testConfig(demoModel(t)), "", "")
	prompt := func(r *corralv1.GenerateRequest) *corralv1.GenerateRequest {
		if r.Input == nil {
			r.Input = &corralv1.GenerateRequest_Prompt{Prompt: "hello"}
		}
		return r
	}
	chat := func(turns ...*corralv1.ChatTurn) *corralv1.GenerateRequest {
		return &corralv1.GenerateRequest{Input: &corralv1.GenerateRequest_Chat{Chat: &corralv1.ChatTurns{Turns: turns}}}
	}
	user := &corralv1.ChatTurn{Role: corralv1.ChatRole_CHAT_ROLE_USER, Content: "hi"}
	long := make([]int32, 3000)
	for i := range long {
		long[i] = 5
	}
	tests := []struct {
		name string
		req  *corralv1.GenerateRequest
		want error
		in   string // in the message
	}{
		{"no prompt", &corralv1.GenerateRequest{}, inferclient.ErrInvalidRequest, "no prompt"},
		{"empty prompt", &corralv1.GenerateRequest{Input: &corralv1.GenerateRequest_Prompt{}}, inferclient.ErrInvalidRequest, "empty"},
		{"no chat turns", chat(), inferclient.ErrInvalidRequest, "no turns"},
		{"turn without role", chat(&corralv1.ChatTurn{Content: "hi"}), inferclient.ErrInvalidRequest, "role"},
		{"system turn last", chat(user, &corralv1.ChatTurn{Role: corralv1.ChatRole_CHAT_ROLE_SYSTEM, Content: "x"}), inferclient.ErrInvalidRequest, "system"},
		{"negative temperature", prompt(&corralv1.GenerateRequest{Sampling: &corralv1.SamplingOptions{Temperature: ptr[float32](-1)}}), inferclient.ErrInvalidRequest, "temperature"},
		{"top_p above 1", prompt(&corralv1.GenerateRequest{Sampling: &corralv1.SamplingOptions{TopP: ptr[float32](1.5)}}), inferclient.ErrInvalidRequest, "top_p"},
		{"max_tokens above the limit", prompt(&corralv1.GenerateRequest{Sampling: &corralv1.SamplingOptions{MaxTokens: ptr[int32](5000)}}), inferclient.ErrInvalidRequest, "limit of 2048"},
		{"negative max_tokens", prompt(&corralv1.GenerateRequest{Sampling: &corralv1.SamplingOptions{MaxTokens: ptr[int32](-1)}}), inferclient.ErrInvalidRequest, "negative"},
		{"empty stop string", prompt(&corralv1.GenerateRequest{Sampling: &corralv1.SamplingOptions{Stop: []string{""}}}), inferclient.ErrInvalidRequest, "empty"},
		{"too many stop strings", prompt(&corralv1.GenerateRequest{Sampling: &corralv1.SamplingOptions{Stop: strings.Split(strings.Repeat("x,", 17), ",")[:17]}}), inferclient.ErrInvalidRequest, "at most 16"},
		{"unknown priority", prompt(&corralv1.GenerateRequest{Priority: 99}), inferclient.ErrInvalidRequest, "priority"},
		{"unknown model", prompt(&corralv1.GenerateRequest{Model: "gpt-9"}), inferclient.ErrModelNotFound, "gpt-9"},
		{"token outside the vocabulary", &corralv1.GenerateRequest{Input: &corralv1.GenerateRequest_PromptTokens{PromptTokens: &corralv1.TokenIDs{Ids: []int32{1, 1 << 30}}}}, inferclient.ErrInvalidRequest, "not a token id"},
		{"prompt longer than the context", &corralv1.GenerateRequest{Input: &corralv1.GenerateRequest_PromptTokens{PromptTokens: &corralv1.TokenIDs{Ids: long}}}, inferclient.ErrPromptTooLong, "3000 tokens"},
	}
	before := f.r.Engine().Stats().Completed
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := f.client.Generate(t.Context(), tt.req)
			if err == nil {
				s.Close()
				t.Fatal("accepted")
			}
			var e *inferclient.Error
			if !errors.Is(err, tt.want) || !errors.As(err, &e) || !strings.Contains(e.Message, tt.in) {
				t.Fatalf("Generate = %v, want %v mentioning %q", err, tt.want, tt.in)
			}
			if inferclient.Retryable(err) {
				t.Errorf("%v is retryable", err)
			}
		})
	}
	t.Run("undecodable body", func(t *testing.T) {
		resp, err := f.nc.Request(f.subject(corralv1.SubjectInferenceGenerate), []byte{0xff, 0xff, 0xff}, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		checkRefusal(t, resp, corralv1.ErrorCode_ERROR_CODE_INVALID_REQUEST, "decode GenerateRequest")
	})
	t.Run("bad window header", func(t *testing.T) {
		m := nats.NewMsg(f.subject(corralv1.SubjectInferenceGenerate))
		m.Data, _ = proto.Marshal(&corralv1.GenerateRequest{Input: &corralv1.GenerateRequest_Prompt{Prompt: "hi"}})
		m.Header.Set(corralv1.HeaderWindow, "lots")
		resp, err := f.nc.RequestMsg(m, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		checkRefusal(t, resp, corralv1.ErrorCode_ERROR_CODE_INVALID_REQUEST, corralv1.HeaderWindow)
	})
	t.Run("no reply subject", func(t *testing.T) {
		n := counter(t, "corral_inference_requests", attrOutcome(outcomeInvalid)...)
		if err := f.nc.Publish(f.subject(corralv1.SubjectInferenceGenerate), nil); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Second, "the dropped request is counted", func() bool {
			return counter(t, "corral_inference_requests", attrOutcome(outcomeInvalid)...) == n+1
		})
	})
	if n := f.r.Engine().Stats().Completed; n != before {
		t.Errorf("the engine ran %d requests for bad ones", n-before)
	}
}

// checkRefusal checks a refusal as it is on the wire: the micro error
// headers and a final GenerateEvent in the body, both with the code.
func checkRefusal(t *testing.T, m *nats.Msg, code corralv1.ErrorCode, in string) {
	t.Helper()
	if got := m.Header.Get(micro.ErrorCodeHeader); got != strconv.Itoa(int(code)) {
		t.Errorf("%s = %q, want %d", micro.ErrorCodeHeader, got, code)
	}
	if !strings.Contains(m.Header.Get(micro.ErrorHeader), in) {
		t.Errorf("%s = %q, want it to mention %q", micro.ErrorHeader, m.Header.Get(micro.ErrorHeader), in)
	}
	ev := &corralv1.GenerateEvent{}
	if err := proto.Unmarshal(m.Data, ev); err != nil {
		t.Fatal(err)
	}
	if ev.GetFinishReason() != corralv1.FinishReason_FINISH_REASON_ERROR || ev.GetError().GetCode() != code || ev.GetSeq() != 0 {
		t.Errorf("refusal event %v", ev)
	}
}
