package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
	"github.com/corral-ai/corral/services/loadgen"
)

// chatChild is a chat role running as a separate process
// (TestMessagingChatChild) on the mesh's NATS, Redis, namespace and
// prefix.
type chatChild struct {
	cmd *exec.Cmd
	out *syncBuffer
	// exited is closed when the process has ended, err set.
	exited chan struct{}
	err    error
}

// startChatChild starts a chat child process; the test's end kills it
// if it still runs.
func startChatChild(t *testing.T, m *mesh) *chatChild {
	t.Helper()
	c := &chatChild{out: &syncBuffer{}, exited: make(chan struct{})}
	c.cmd = exec.Command(os.Args[0], "-test.run=^TestMessagingChatChild$", "-test.count=1")
	c.cmd.Env = append(os.Environ(), envChild+"=1", envChildNATS+"="+m.natsURL, envChildRedis+"="+m.redisURL,
		envChildNS+"="+m.streams.Namespace, envChildPrefix+"="+m.prefix)
	c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		c.err = c.cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(func() { c.kill() })
	return c
}

// kill sends SIGKILL and waits for the process to end.
func (c *chatChild) kill() error {
	_ = c.cmd.Process.Kill() // fails only when it has ended already
	<-c.exited
	return c.err
}

// chatConsumer returns the info of the chat role's consumer of CHAT_IN
// (the only one), or nil before the chat role made it.
func chatConsumer(t *testing.T, m *mesh) *jetstream.ConsumerInfo {
	t.Helper()
	st, err := m.js.Stream(t.Context(), m.streams.StreamName(corralv1.StreamChatIn))
	if err != nil {
		t.Fatal(err)
	}
	var infos []*jetstream.ConsumerInfo
	lister := st.ListConsumers(t.Context())
	for info := range lister.Info() {
		infos = append(infos, info)
	}
	if err := lister.Err(); err != nil {
		t.Fatal(err)
	}
	switch len(infos) {
	case 0:
		return nil
	case 1:
		return infos[0]
	}
	t.Fatalf("CHAT_IN has %d consumers, want the chat role's only", len(infos))
	return nil
}

// TestLoadgenChatKilled runs loadgen (closed loop) against gateway,
// inference and sender in this process and the chat role in a separate
// process, SIGKILLs that process a few seconds in while it holds
// messages it has not acknowledged, starts another, and wants every
// message answered exactly once: zero lost, zero duplicated. The chat
// processes use chatConfig's 2-second ack wait, so JetStream gives the
// killed process's messages to the new one soon.
func TestLoadgenChatKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("runs loadgen for about 10 seconds")
	}
	users := "8"
	if raceDetector {
		users = "3" // generation is many times slower under -race
	}
	graphAddr := freeAddr(t)
	m := newMesh(t, meshOptions{noChat: true, graphURL: "http://" + graphAddr})
	first := startChatChild(t, m)

	o, err := loadgen.ParseArgs([]string{"--target", m.gatewayURL, "--graph-listen", graphAddr, "--app-secret", meshAppSecret,
		"--users", users, "--duration", "10s", "--think", "100ms", "--turns", "3", "--settle", "300ms",
		"--reply-timeout", "30s", "--drain", "30s", "--replay-rate", "2", "--progress=false",
		"--out", filepath.Join(t.TempDir(), "killed.json"), "--slo", "lost=0,dup=0,refused=0"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var stdout strings.Builder
	type result struct {
		rep *loadgen.Report
		err error
	}
	done := make(chan result, 1)
	go func() {
		rep, err := loadgen.Main(t.Context(), o, &stdout, io.Discard)
		done <- result{rep, err}
	}()

	// Kill the chat process about 3 seconds in. What it held counts
	// only once it is dead (an ack may have been on its way), so a kill
	// that found nothing unacknowledged is tried again on a new process.
	time.Sleep(3 * time.Second)
	held, child := 0, first
	for attempt := 1; held == 0; attempt++ {
		if attempt > 5 {
			t.Fatal("five chat processes were killed holding nothing unacknowledged")
		}
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the chat process never held a message\n%s", child.out.String())
			}
			if info := chatConsumer(t, m); info != nil && info.NumAckPending > 0 {
				break
			}
		}
		select {
		case <-child.exited:
			t.Fatalf("the chat process ended before the kill: %v\n%s", child.err, child.out.String())
		default:
		}
		_ = child.kill()
		time.Sleep(100 * time.Millisecond) // what the process sent before it died reaches the server
		if info := chatConsumer(t, m); info != nil {
			held = info.NumAckPending
		}
		t.Logf("kill %d: the chat process died holding %d unacknowledged messages", attempt, held)
		if held == 0 {
			child = startChatChild(t, m)
		}
	}
	second := startChatChild(t, m)

	res := <-done
	t.Log("\n" + stdout.String())
	if res.err != nil {
		t.Fatalf("loadgen: %v\nchat process after the kill:\n%s", res.err, second.out.String())
	}
	r := res.rep
	if r.Lost != 0 || r.Duplicated != 0 || r.Refused != 0 || r.Unmatched != 0 || !r.SLOPassed {
		t.Fatalf("lost %d duplicated %d refused %d unmatched %d, want none", r.Lost, r.Duplicated, r.Refused, r.Unmatched)
	}
	if r.Sent < 10 || r.Replies != r.Acked || r.Parts < r.Replies || r.Replays == 0 {
		t.Fatalf("sent %d acked %d replies %d parts %d replays %d", r.Sent, r.Acked, r.Replies, r.Parts, r.Replays)
	}
	// The messages the killed process held were delivered again.
	info := chatConsumer(t, m)
	if info == nil || info.Delivered.Consumer <= info.Delivered.Stream {
		t.Errorf("no redelivery after the kill: %+v", info)
	}
}
