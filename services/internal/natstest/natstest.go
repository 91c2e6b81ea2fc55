// Package natstest gives tests a NATS server with JetStream: the one named
// by NATS_URL when that is set (a real, shared server), otherwise a private
// in-process nats-server started for the test.
//
// Tests that may run against a shared server must not collide with other
// tests or a running Corral: give streams, durable consumers and subjects
// names from Name, and delete what you create.
package natstest

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/corral-ai/corral/services/internal/embedded"
)

// EnvURL is the environment variable naming an external NATS server.
const EnvURL = "NATS_URL"

// External reports whether NATS_URL is set, so tests run against a server
// they share with others.
func External() bool { return os.Getenv(EnvURL) != "" }

// URL returns NATS_URL when it is set, and otherwise starts an in-process
// server for t (see StartServer) and returns its URL.
func URL(t testing.TB) string {
	t.Helper()
	if u := os.Getenv(EnvURL); u != "" {
		return u
	}
	return StartServer(t)
}

// StartServer starts a private nats-server in this process: loopback only,
// a random free port, JetStream stored in a fresh t.TempDir(). It waits until
// the server accepts clients, shuts it down when t ends, and returns its
// client URL.
func StartServer(t testing.TB) string {
	t.Helper()
	// TempDir first: cleanups run last-in first-out, so the server is shut
	// down before its store directory is removed.
	dir := t.TempDir()
	s, err := embedded.StartNATS(embedded.NATSConfig{
		StoreDir: dir,
		Listen:   "127.0.0.1:0",
		// Keep the account's JetStream limits small and fixed so tests do
		// not depend on the machine's memory and disk.
		MaxMemory: 64 << 20,
		MaxStore:  1 << 30,
	}, nil)
	if err != nil {
		t.Fatalf("natstest: %v", err)
	}
	t.Cleanup(s.Shutdown)
	return s.ClientURL()
}

// Connect connects to URL(t) and closes the connection when t ends.
func Connect(t testing.TB) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(URL(t), nats.Name("natstest "+t.Name()), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatalf("natstest: connect: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// Name returns a name unique to this call: the test's name reduced to
// letters, digits and '_', then a random suffix. It is valid as a stream
// name, a durable consumer name and a subject token.
func Name(t testing.TB) string {
	t.Helper()
	var b strings.Builder
	for _, r := range t.Name() {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= 32 {
			break
		}
	}
	var rnd [4]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		t.Fatalf("natstest: random name: %v", err)
	}
	return b.String() + "_" + hex.EncodeToString(rnd[:])
}
