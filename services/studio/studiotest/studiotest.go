// Package studiotest is a client of the studio's websocket protocol
// (docs/studio-protocol.md) for tests: it speaks the protocol over a real
// websocket, as a browser would, and lets a test wait for the answer to
// each request and see every event.
package studiotest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Timeout bounds every wait of the client.
var Timeout = 60 * time.Second

// Frame is one frame from the studio.
type Frame struct {
	ID     string          `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *Error          `json:"error"`
	Event  string          `json:"event"`
	Data   json.RawMessage `json:"data"`
	// Events are the events of the request that came before its answer.
	Events []Frame `json:"-"`
}

// Error is a typed error answer.
type Error struct {
	Code         string       `json:"code"`
	Message      string       `json:"message"`
	Fields       []FieldError `json:"fields"`
	RetryAfterMS int64        `json:"retry_after_ms"`
}

// FieldError names one bad field.
type FieldError struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// Field returns the reason given for field, or "".
func (e *Error) Field(field string) string {
	for _, f := range e.Fields {
		if f.Field == field {
			return f.Reason
		}
	}
	return ""
}

// Decode decodes the frame's result into v.
func (f Frame) Decode(t testing.TB, v any) {
	t.Helper()
	if f.Error != nil {
		t.Fatalf("request %s failed: %s: %s %v", f.ID, f.Error.Code, f.Error.Message, f.Error.Fields)
	}
	if err := json.Unmarshal(f.Result, v); err != nil {
		t.Fatalf("decode result of %s: %v (%s)", f.ID, err, f.Result)
	}
}

// Client is one websocket connection to the studio.
type Client struct {
	t  testing.TB
	WS *websocket.Conn

	mu      sync.Mutex
	seq     int
	waiting map[string]chan Frame
	events  map[string][]Frame
	answers map[string][]Frame // answers nobody waited for yet, in order
	pushes  chan Frame
	done    chan struct{}
	err     error // why reading ended
}

// Dial connects to the websocket at url (ws://host/studio/ws) with the
// given request header (an Origin, say); the connection closes when t ends.
func Dial(t testing.TB, url string, header http.Header) *Client {
	t.Helper()
	c, _, err := TryDial(t, url, header)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	return c
}

// TryDial is Dial that returns the failure and the HTTP answer.
func TryDial(t testing.TB, url string, header http.Header) (*Client, *http.Response, error) {
	ws, resp, err := websocket.DefaultDialer.Dial(url, header)
	if err != nil {
		return nil, resp, err
	}
	return Start(t, ws), resp, nil
}

// Start runs a Client on a connection already open.
func Start(t testing.TB, ws *websocket.Conn) *Client {
	c := &Client{t: t, WS: ws, waiting: map[string]chan Frame{}, events: map[string][]Frame{},
		answers: map[string][]Frame{}, pushes: make(chan Frame, 1024), done: make(chan struct{})}
	go c.read()
	t.Cleanup(func() {
		_ = ws.Close()
		<-c.done
	})
	return c
}

func (c *Client) read() {
	defer close(c.done)
	for {
		_, data, err := c.WS.ReadMessage()
		if err != nil {
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
			return
		}
		var f Frame
		if err := json.Unmarshal(data, &f); err != nil {
			c.mu.Lock()
			c.err = fmt.Errorf("undecodable frame %q: %w", data, err)
			c.mu.Unlock()
			return
		}
		c.mu.Lock()
		switch {
		case f.Event != "" && f.ID == "":
			select {
			case c.pushes <- f:
			default:
			}
		case f.Event != "":
			c.events[f.ID] = append(c.events[f.ID], f)
		default:
			f.Events = c.events[f.ID]
			delete(c.events, f.ID)
			if ch, ok := c.waiting[f.ID]; ok {
				delete(c.waiting, f.ID)
				ch <- f
			} else {
				c.answers[f.ID] = append(c.answers[f.ID], f)
			}
		}
		c.mu.Unlock()
	}
}

// NextID returns a fresh request id.
func (c *Client) NextID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	return "r" + strconv.Itoa(c.seq)
}

// Send writes a request with the given id; params are its fields besides
// id and op.
func (c *Client) Send(id, op string, params map[string]any) {
	c.t.Helper()
	req := map[string]any{"id": id, "op": op}
	for k, v := range params {
		req[k] = v
	}
	data, err := json.Marshal(req)
	if err != nil {
		c.t.Fatal(err)
	}
	c.SendRaw(data)
}

// SendRaw writes a text frame as it is.
func (c *Client) SendRaw(data []byte) {
	c.t.Helper()
	if err := c.WS.WriteMessage(websocket.TextMessage, data); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// Await waits for the answer to request id.
func (c *Client) Await(id string) Frame {
	c.t.Helper()
	c.mu.Lock()
	if fs := c.answers[id]; len(fs) > 0 {
		c.answers[id] = fs[1:]
		if len(fs) == 1 {
			delete(c.answers, id)
		}
		c.mu.Unlock()
		return fs[0]
	}
	ch := make(chan Frame, 1)
	c.waiting[id] = ch
	c.mu.Unlock()
	select {
	case f := <-ch:
		return f
	case <-c.done:
		c.t.Fatalf("connection ended before the answer to %s: %v", id, c.Err())
	case <-time.After(Timeout):
		c.t.Fatalf("no answer to %s within %v", id, Timeout)
	}
	return Frame{}
}

// Call sends a request and waits for its answer.
func (c *Client) Call(op string, params map[string]any) Frame {
	c.t.Helper()
	id := c.NextID()
	c.Send(id, op, params)
	return c.Await(id)
}

// Must is Call that fails the test on an error answer and decodes the
// result into v (when not nil).
func (c *Client) Must(op string, params map[string]any, v any) Frame {
	c.t.Helper()
	f := c.Call(op, params)
	if f.Error != nil {
		c.t.Fatalf("%s: %s: %s %v", op, f.Error.Code, f.Error.Message, f.Error.Fields)
	}
	if v != nil {
		f.Decode(c.t, v)
	}
	return f
}

// Fail is Call that expects an error answer with code.
func (c *Client) Fail(op string, params map[string]any, code string) *Error {
	c.t.Helper()
	f := c.Call(op, params)
	if f.Error == nil {
		c.t.Fatalf("%s = %s, want error %s", op, f.Result, code)
	}
	if f.Error.Code != code {
		c.t.Fatalf("%s: error %s (%s), want %s", op, f.Error.Code, f.Error.Message, code)
	}
	return f.Error
}

// WaitEvents waits until request id has streamed at least n events and
// returns those seen so far.
func (c *Client) WaitEvents(id string, n int) []Frame {
	c.t.Helper()
	deadline := time.Now().Add(Timeout)
	for {
		c.mu.Lock()
		evs := append([]Frame(nil), c.events[id]...)
		answered := len(c.answers[id]) > 0
		c.mu.Unlock()
		if len(evs) >= n {
			return evs
		}
		if answered {
			c.t.Fatalf("request %s was answered after %d events, want %d", id, len(evs), n)
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("request %s streamed %d events in %v, want %d", id, len(evs), Timeout, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Push waits for the next event sent without a request id.
func (c *Client) Push(within time.Duration) (Frame, bool) {
	select {
	case f := <-c.pushes:
		return f, true
	case <-time.After(within):
		return Frame{}, false
	}
}

// Closed waits for the connection to end and returns why.
func (c *Client) Closed(within time.Duration) (error, bool) {
	select {
	case <-c.done:
		return c.Err(), true
	case <-time.After(within):
		return nil, false
	}
}

// Err is why reading ended, nil while it goes on.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}
