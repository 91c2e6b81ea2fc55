// Package webhooktest runs golden-file tests of webhook parsers and holds
// helpers for tests that send webhooks.
//
// A golden case is one file: the webhook body as received, a line holding
// only "----", and the expected Result as indented JSON (chat messages in
// protojson with proto field names, the raw item left out). Run the tests
// with -update to rewrite the expected halves after a deliberate change, and
// review the diff.
package webhooktest

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/corral-ai/corral/bots/webhook"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

var update = flag.Bool("update", false, "rewrite the expected output of golden webhook cases")

// Separator divides a golden file's input from its expected output.
const Separator = "----"

// ParseFunc is a platform parser such as whatsapp.Parse.
type ParseFunc func(body []byte) (*webhook.Result, error)

// Golden runs every *.txt case in dir through parse as a subtest and
// compares the normalised output with the expected half of the file.
func Golden(t *testing.T, dir string, parse ParseFunc) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no golden cases in %s", dir)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			input, want, err := ReadCase(file)
			if err != nil {
				t.Fatal(err)
			}
			res, perr := parse(input)
			CheckInvariants(t, res, perr)
			got, err := Output(res, perr)
			if err != nil {
				t.Fatal(err)
			}
			if *update {
				out := append(append(bytes.TrimRight(input, "\n"), "\n"+Separator+"\n"...), got...)
				if err := os.WriteFile(file, out, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if !bytes.Equal(bytes.TrimSpace(got), bytes.TrimSpace(want)) {
				t.Errorf("output differs from %s (run with -update to accept)\n--- got\n%s\n--- want\n%s", file, got, want)
			}
		})
	}
}

// ReadCase splits a golden file into its input and expected output.
func ReadCase(file string) (input, want []byte, err error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, nil, err
	}
	sep := []byte("\n" + Separator + "\n")
	i := bytes.Index(data, sep)
	if i < 0 {
		return nil, nil, fmt.Errorf("%s: no %q line", file, Separator)
	}
	return data[:i], data[i+len(sep):], nil
}

type output struct {
	Error     string                  `json:"error,omitempty"`
	Messages  []json.RawMessage       `json:"messages,omitempty"`
	Statuses  []webhook.Status        `json:"statuses,omitempty"`
	Business  []webhook.BusinessEvent `json:"business,omitempty"`
	Reactions []json.RawMessage       `json:"reactions,omitempty"`
	Notices   []webhook.Notice        `json:"notices,omitempty"`
	Warnings  []webhook.Warning       `json:"warnings,omitempty"`
}

// Output is the normalised JSON form of a parse result used by golden files.
func Output(res *webhook.Result, err error) ([]byte, error) {
	var out output
	if err != nil {
		out.Error = err.Error()
	}
	if res != nil {
		var merr error
		if out.Messages, merr = messagesJSON(res.Messages); merr != nil {
			return nil, merr
		}
		if out.Reactions, merr = messagesJSON(res.Reactions); merr != nil {
			return nil, merr
		}
		out.Statuses, out.Business, out.Notices, out.Warnings = res.Statuses, res.Business, res.Notices, res.Warnings
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func messagesJSON(msgs []*corralv1.ChatMessage) ([]json.RawMessage, error) {
	out := make([]json.RawMessage, 0, len(msgs))
	for _, m := range msgs {
		c := proto.CloneOf(m)
		c.Raw = nil
		b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(c)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// CheckInvariants fails t when a parse result breaks a rule every parser
// keeps: an error wraps webhook.ErrNotWebhook and comes without a result;
// every chat message and reaction marshals (valid UTF-8), names its platform,
// channel, user, id and kind, and keeps its raw item as JSON.
func CheckInvariants(t testing.TB, res *webhook.Result, err error) {
	t.Helper()
	if err != nil {
		if res != nil {
			t.Errorf("result %v returned with error %v", res, err)
		}
		if !errors.Is(err, webhook.ErrNotWebhook) {
			t.Errorf("error %v does not wrap ErrNotWebhook", err)
		}
		return
	}
	if res == nil {
		t.Fatal("nil result without error")
	}
	for _, list := range [][]*corralv1.ChatMessage{res.Messages, res.Reactions} {
		for i, m := range list {
			if _, err := proto.Marshal(m); err != nil {
				t.Errorf("message %d does not marshal: %v", i, err)
			}
			if m.GetPlatform() != res.Platform || m.GetChannelId() == "" || m.GetUserId() == "" ||
				m.GetPlatformMessageId() == "" || m.GetKind() == corralv1.MessageKind_MESSAGE_KIND_UNSPECIFIED {
				t.Errorf("message %d incomplete: %v", i, m)
			}
			if !json.Valid(m.GetRaw()) {
				t.Errorf("message %d raw item is not JSON: %q", i, m.GetRaw())
			}
		}
	}
	for _, w := range res.Warnings {
		if w.Path == "" || w.Reason == "" {
			t.Errorf("warning without path or reason: %+v", w)
		}
	}
}

// SamePaths fails t when fast, a one-pass parser that may decline a body
// (ok false), reads body differently from careful, the parser it must
// equal: same result, raw items included.
func SamePaths(t testing.TB, body []byte, fast func([]byte) (*webhook.Result, bool), careful ParseFunc) {
	t.Helper()
	got, ok := fast(body)
	if !ok {
		return
	}
	want, err := careful(body)
	if err != nil {
		t.Fatalf("fast path read a body the careful path refuses: %v", err)
	}
	g, err := Output(got, nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := Output(want, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(g, w) {
		t.Fatalf("fast and careful paths differ on %q\n--- fast\n%s\n--- careful\n%s", body, g, w)
	}
	for _, pair := range [][2][]*corralv1.ChatMessage{{got.Messages, want.Messages}, {got.Reactions, want.Reactions}} {
		for i := range pair[0] {
			if !bytes.Equal(pair[0][i].GetRaw(), pair[1][i].GetRaw()) {
				t.Fatalf("raw item %d differs: fast %q, careful %q", i, pair[0][i].GetRaw(), pair[1][i].GetRaw())
			}
		}
	}
}
