package embedded

import (
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// NATSConfig configures the in-process NATS server.
type NATSConfig struct {
	// StoreDir is where JetStream keeps its streams.
	StoreDir string
	// Listen is a host:port to accept TCP clients on; empty means no
	// listener at all, so the embedded server never clashes with a local one.
	Listen string
	// MaxMemory and MaxStore cap JetStream's memory and disk use (bytes);
	// zero lets the server size them from the machine.
	MaxMemory, MaxStore int64
}

// NATS is a running in-process nats-server.
type NATS struct {
	srv *server.Server
}

// StartNATS starts a nats-server with JetStream in this process and waits
// until it accepts connections.
func StartNATS(cfg NATSConfig, log *slog.Logger) (*NATS, error) {
	opts := &server.Options{
		ServerName: "corral-embedded",
		JetStream:  true,
		StoreDir:   cfg.StoreDir,
		DontListen: cfg.Listen == "",
		NoSigs:     true,

		JetStreamMaxMemory: cfg.MaxMemory,
		JetStreamMaxStore:  cfg.MaxStore,
	}
	if cfg.Listen != "" {
		host, port, err := net.SplitHostPort(cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("nats listen address %q: %w", cfg.Listen, err)
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			return nil, fmt.Errorf("nats listen address %q: port %q is not a number", cfg.Listen, port)
		}
		if p == 0 {
			p = server.RANDOM_PORT
		}
		opts.Host, opts.Port = host, p
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// The server reports a listener it cannot open (a port in use) only
	// through its logger's Fatalf, and then never becomes ready; catch that
	// to fail at once with the address instead of waiting out the timeout.
	fatal := make(chan string, 1)
	srv.SetLoggerV2(natsLogger{l: log, fatal: fatal}, false, false, false)
	srv.Start()
	deadline := time.Now().Add(readyTimeout)
	for !srv.ReadyForConnections(25 * time.Millisecond) {
		select {
		case msg := <-fatal:
			srv.Shutdown()
			if plain, ok := plainListenError(msg); ok {
				return nil, fmt.Errorf("embedded nats: %w: %s", ErrListen, plain)
			}
			return nil, fmt.Errorf("embedded nats: %s", msg)
		default:
		}
		if time.Now().After(deadline) {
			srv.Shutdown()
			return nil, fmt.Errorf("embedded nats: not ready within %s (store %s, listen %q)", readyTimeout, cfg.StoreDir, cfg.Listen)
		}
	}
	return &NATS{srv: srv}, nil
}

// plainListenError shortens the server's `Error listening on port: ADDR,
// "listen tcp ADDR: bind: address already in use"` to the quoted net error,
// which names the address. ok is false for other messages.
func plainListenError(msg string) (plain string, ok bool) {
	if !strings.HasPrefix(msg, "Error listening") {
		return "", false
	}
	if i := strings.LastIndex(msg, `, "`); i >= 0 {
		if u, err := strconv.Unquote(msg[i+2:]); err == nil {
			return u, true
		}
	}
	return msg, true
}

// readyTimeout bounds the wait for the embedded server to accept clients.
const readyTimeout = 10 * time.Second

// Connect opens a client connection; without a listener it goes through the
// in-process pipe rather than TCP.
func (n *NATS) Connect(opts ...nats.Option) (*nats.Conn, error) {
	opts = append([]nats.Option{nats.InProcessServer(n.srv)}, opts...)
	return nats.Connect("", opts...)
}

// ClientURL is the TCP address clients in other processes use, or "" when
// the server does not listen.
func (n *NATS) ClientURL() string {
	if n.srv.Addr() == nil {
		return ""
	}
	return n.srv.ClientURL()
}

// Shutdown stops the server and waits until it has.
func (n *NATS) Shutdown() {
	n.srv.Shutdown()
	n.srv.WaitForShutdown()
}

// natsLogger sends the server's log lines to slog, and the first fatal one
// also to fatal.
type natsLogger struct {
	l     *slog.Logger
	fatal chan<- string
}

func (l natsLogger) Noticef(format string, v ...any) { l.l.Debug(fmt.Sprintf(format, v...)) }
func (l natsLogger) Warnf(format string, v ...any)   { l.l.Warn(fmt.Sprintf(format, v...)) }
func (l natsLogger) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	l.l.Error(msg)
	select {
	case l.fatal <- msg:
	default:
	}
}
func (l natsLogger) Errorf(format string, v ...any) { l.l.Error(fmt.Sprintf(format, v...)) }
func (l natsLogger) Debugf(format string, v ...any) { l.l.Debug(fmt.Sprintf(format, v...)) }
func (l natsLogger) Tracef(format string, v ...any) { l.l.Debug(fmt.Sprintf(format, v...)) }
