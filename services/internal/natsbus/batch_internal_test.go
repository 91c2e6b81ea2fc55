package natsbus

import (
	"encoding/json"
	"testing"

	"github.com/nats-io/nats.go"
)

// TestParseAck reads the acknowledgements nats-server 2.9 and 2.15 write
// (spacing differs) and the errors.
func TestParseAck(t *testing.T) {
	for _, tc := range []struct {
		data      string
		stream    string
		seq       uint64
		duplicate bool
		err       bool
	}{
		{data: `{"stream":"CHAT_IN", "seq":1}`, stream: "CHAT_IN", seq: 1},
		{data: `{"stream":"CHAT_IN", "seq":12,"duplicate": true}`, stream: "CHAT_IN", seq: 12, duplicate: true},
		{data: `{"stream":"CHAT_IN","seq":7}`, stream: "CHAT_IN", seq: 7},
		{data: `{"stream":"CHAT_IN","seq":7,"duplicate":true}`, stream: "CHAT_IN", seq: 7, duplicate: true},
		{data: `{"stream":"CHAT_IN","seq":7,"domain":"hub"}`, stream: "CHAT_IN", seq: 7},
		{data: `{"stream":"CHAT_IN","seq":7,"duplicate":false}`, stream: "CHAT_IN", seq: 7},
		{data: `{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"},"stream":"S","seq":0}`, err: true},
		{data: `{"stream":"","seq":3}`, err: true},
		{data: `not json`, err: true},
	} {
		res := parseAck(&nats.Msg{Data: []byte(tc.data)})
		if (res.Err != nil) != tc.err || (!tc.err && (res.Stream != tc.stream || res.Sequence != tc.seq || res.Duplicate != tc.duplicate)) {
			t.Errorf("parseAck(%s) = %+v", tc.data, res)
		}
	}
}

// FuzzParseAckFast checks that whatever the fast path reads, encoding/json
// reads the same.
func FuzzParseAckFast(f *testing.F) {
	for _, s := range []string{`{"stream":"S", "seq":1}`, `{"stream":"S","seq":2,"duplicate": true}`, `{"stream":"S","seq":3}`, `{"stream":"a\"b","seq":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		res, ok := parseAckFast(data)
		if !ok {
			return
		}
		var ack pubAck
		if err := json.Unmarshal(data, &ack); err != nil {
			t.Fatalf("fast path read %q, encoding/json refuses it: %v", data, err)
		}
		if ack.Error != nil || ack.Stream != res.Stream || ack.Sequence != res.Sequence || ack.Duplicate != res.Duplicate {
			t.Fatalf("fast path read %q as %+v, encoding/json as %+v", data, res, ack)
		}
	})
}
