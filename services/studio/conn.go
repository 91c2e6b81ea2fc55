package studio

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"github.com/corral-ai/corral/persona/store"
)

// maxInFlight bounds the requests of one connection being handled at once
// besides previews; the reader waits for a slot, so a flood slows only
// its own connection.
const maxInFlight = 8

var connSeq atomic.Uint64

// conn is one browser connection. The HTTP handler's goroutine reads
// (run); one writer goroutine owns every write; each request runs in a
// goroutine of its own, all waited for before run returns.
type conn struct {
	r       *Role
	ws      *websocket.Conn
	id      string
	ctx     context.Context // ends when the connection closes
	cancel  context.CancelFunc
	send    chan []byte // bounded: a full queue drops the connection
	limiter *rate.Limiter
	slots   chan struct{}
	work    sync.WaitGroup

	closeOnce sync.Once
	closeCode int
	closeText string

	mu       sync.Mutex
	creator  store.Creator // zero until signed in
	previews map[string]*previewSlot
}

func newConn(r *Role, ws *websocket.Conn) *conn {
	ctx, cancel := context.WithCancel(context.Background())
	return &conn{
		r: r, ws: ws, id: "ws" + strconv.FormatUint(connSeq.Add(1), 10), ctx: ctx, cancel: cancel,
		send:     make(chan []byte, r.cfg.SendQueue),
		limiter:  rate.NewLimiter(rate.Limit(r.cfg.Rate), r.cfg.Burst),
		slots:    make(chan struct{}, maxInFlight),
		previews: map[string]*previewSlot{},
	}
}

func (c *conn) creatorID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.creator.ID
}

// close ends the connection once: the writer sends a close frame with
// code and text and closes the socket; reason labels the metric.
func (c *conn) close(code int, text, reason string) {
	c.closeOnce.Do(func() {
		c.closeCode, c.closeText = code, text
		c.r.metrics.disconnect(reason)
		if reason != "client" && reason != "shutdown" {
			c.r.log.Info("studio: connection closed", "conn", c.id, "creator", c.creatorID(), "reason", reason, "detail", text)
		}
		c.cancel()
	})
}

// run serves the connection until it ends, then waits for its requests
// and its writer.
func (c *conn) run() {
	c.r.metrics.connections.Add(c.ctx, 1)
	defer c.r.metrics.connections.Add(context.Background(), -1)
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		c.write()
	}()
	authTimer := time.AfterFunc(authTimeout, func() {
		if c.creatorID() == "" {
			c.close(websocket.ClosePolicyViolation, "not signed in within "+authTimeout.String(), "auth_timeout")
		}
	})
	c.read()
	authTimer.Stop()
	c.cancel()
	c.work.Wait()
	<-wrote
}

// read takes frames until the connection fails or closes.
func (c *conn) read() {
	c.ws.SetReadLimit(int64(c.r.cfg.MaxFrame))
	wait := 2 * c.r.cfg.PingInterval
	_ = c.ws.SetReadDeadline(time.Now().Add(wait))
	c.ws.SetPongHandler(func(string) error { return c.ws.SetReadDeadline(time.Now().Add(wait)) })
	for {
		kind, data, err := c.ws.ReadMessage()
		if err != nil {
			switch {
			case errors.Is(err, websocket.ErrReadLimit):
				// gorilla has sent 1009 (message too big) already.
				c.close(websocket.CloseMessageTooBig, "", "too_big")
			case websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway, websocket.CloseNoStatusReceived):
				c.close(websocket.CloseNormalClosure, "", "client")
			case c.ctx.Err() != nil:
				// Closed by us; the reason is counted already.
			case isTimeout(err):
				c.close(websocket.CloseGoingAway, "no pong", "ping_timeout")
			default:
				c.close(websocket.CloseGoingAway, "", "read_error")
			}
			return
		}
		_ = c.ws.SetReadDeadline(time.Now().Add(wait))
		if kind != websocket.TextMessage {
			c.close(websocket.CloseUnsupportedData, "text frames only", "binary")
			return
		}
		c.handle(data)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// handle decodes one frame and starts its request.
func (c *conn) handle(data []byte) {
	req, err := decodeRequest(data)
	if err != nil {
		var fe *errFrame
		errors.As(err, &fe)
		c.r.metrics.request(c.ctx, "invalid", codeBadRequest)
		c.reply(fe.id, nil, newError(codeBadRequest, "%s", fe.msg))
		return
	}
	if res := c.limiter.Reserve(); !res.OK() || res.Delay() > 0 {
		delay := time.Second
		if res.OK() {
			delay = res.Delay()
			res.Cancel()
		}
		c.r.metrics.request(c.ctx, opLabel(req.Op), codeRateLimited)
		e := newError(codeRateLimited, "more than %d requests a second", c.r.cfg.Rate)
		e.RetryAfterMS = max(delay.Milliseconds(), 1)
		c.reply(req.ID, nil, e)
		return
	}
	if req.Op == opAuth {
		// Signing in is answered before the next frame is read, so a
		// browser may send requests right behind it.
		c.dispatch(req, nil)
		return
	}
	if req.Op == opPreviewChat {
		// Previews run long: they do not take a slot, MaxPreviews bounds
		// them. A preview takes its place here, in the order of the
		// frames, not when its goroutine gets to run: a preview.cancel
		// or a reused id read after it must find it running.
		p := c.startPreview(req.ID)
		c.work.Go(func() { c.dispatch(req, p) })
		return
	}
	select {
	case c.slots <- struct{}{}:
	case <-c.ctx.Done():
		return
	}
	c.work.Go(func() {
		defer func() { <-c.slots }()
		c.dispatch(req, nil)
	})
}

// reply queues the answer to a request.
func (c *conn) reply(id string, result any, e *wireError) {
	resp := response{ID: id, Result: result, Error: e}
	if e == nil && result == nil {
		resp.Result = struct{}{}
	}
	c.enqueue(resp)
}

// sendEvent queues a stream or push event.
func (c *conn) sendEvent(ev event) { c.enqueue(ev) }

// enqueue never blocks: a browser that lets SendQueue frames pile up is
// dropped, so that whoever produces frames (a preview's engine stream, a
// change for many tabs) never waits for it.
func (c *conn) enqueue(v any) {
	if c.ctx.Err() != nil {
		return
	}
	data, err := json.Marshal(v)
	if err != nil {
		c.r.log.Error("studio: encoding a frame", "conn", c.id, "err", err)
		return
	}
	select {
	case c.send <- data:
	default:
		c.close(websocket.ClosePolicyViolation, "too slow: "+strconv.Itoa(cap(c.send))+" frames unread", "slow")
	}
}

// write owns every write to the socket: queued frames, pings, and the
// close frame at the end.
func (c *conn) write() {
	ticker := time.NewTicker(c.r.cfg.PingInterval)
	defer ticker.Stop()
	defer func() {
		code, text := c.closeCode, c.closeText
		if code != websocket.CloseMessageTooBig { // gorilla sent that one itself
			msg := websocket.FormatCloseMessage(code, text)
			_ = c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
		}
		_ = c.ws.Close()
	}()
	for {
		select {
		case data := <-c.send:
			_ = c.ws.SetWriteDeadline(time.Now().Add(c.r.cfg.WriteTimeout))
			if err := c.ws.WriteMessage(websocket.TextMessage, data); err != nil {
				c.close(websocket.ClosePolicyViolation, "too slow: a frame took over "+c.r.cfg.WriteTimeout.String(), "write_timeout")
				return
			}
		case <-ticker.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.r.cfg.WriteTimeout)); err != nil {
				c.close(websocket.CloseGoingAway, "", "write_error")
				return
			}
		case <-c.ctx.Done():
			// close was called (and chose the code) or the reader ended;
			// Do orders the code's write before the deferred read.
			c.closeOnce.Do(func() { c.closeCode = websocket.CloseNormalClosure })
			return
		}
	}
}
