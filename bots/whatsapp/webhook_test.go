package whatsapp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/corral-ai/corral/bots/webhook"
	"github.com/corral-ai/corral/bots/webhook/webhooktest"
)

func TestParseGolden(t *testing.T) {
	webhooktest.Golden(t, filepath.Join("testdata", "webhooks"), Parse)
}

func TestParseRawIsTheItem(t *testing.T) {
	input, _, err := webhooktest.ReadCase(filepath.Join("testdata", "webhooks", "text.txt"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Parse(input)
	if err != nil {
		t.Fatal(err)
	}
	var item map[string]any
	if err := json.Unmarshal(res.Messages[0].GetRaw(), &item); err != nil {
		t.Fatal(err)
	}
	if item["id"] != res.Messages[0].GetPlatformMessageId() || item["type"] != "text" {
		t.Fatalf("raw item %s", res.Messages[0].GetRaw())
	}
}

func TestParseNotWebhook(t *testing.T) {
	for _, body := range []string{"", "null", "{}", `{"object":"whatsapp_business_account","entry":null}`, `"x"`, `{"object":7,"entry":[]}`} {
		if _, err := Parse([]byte(body)); !errors.Is(err, webhook.ErrNotWebhook) {
			t.Errorf("Parse(%q) err = %v, want ErrNotWebhook", body, err)
		}
	}
}

// TestParseLargeBatch checks that every item of a batch of 1000 counts.
func TestParseLargeBatch(t *testing.T) {
	body := batch(1000)
	res, err := Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Messages) != 1000 || len(res.Warnings) != 0 {
		t.Fatalf("%d messages, %d warnings", len(res.Messages), len(res.Warnings))
	}
	seen := map[string]bool{}
	for _, m := range res.Messages {
		seen[m.GetPlatformMessageId()] = true
	}
	if len(seen) != 1000 {
		t.Fatalf("%d distinct ids", len(seen))
	}
}

// batch builds a delivery of n text messages spread over entries of 10.
func batch(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"object":"whatsapp_business_account","entry":[`)
	for e := 0; e*10 < n; e++ {
		if e > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"31%013d","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550001111","phone_number_id":"420000000000002"},"contacts":[{"profile":{"name":"User %d"},"wa_id":"52155%08d"}],"messages":[`, e, e, e)
		for i := 0; i < 10 && e*10+i < n; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"from":"52155%08d","id":"wamid.B%06d","timestamp":"1733310000","type":"text","text":{"body":"message number %d, with a few more words to look like chat"}}`, e, e*10+i, i)
		}
		b.WriteString(`]}}]}`)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "webhooks", "*.txt"))
	for _, file := range files {
		input, _, err := webhooktest.ReadCase(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(input)
	}
	f.Add(batch(3))
	f.Fuzz(func(t *testing.T, body []byte) {
		res, err := Parse(body)
		webhooktest.CheckInvariants(t, res, err)
		webhooktest.SamePaths(t, body, parseFast, parseCareful)
	})
}

// TestParseFastIsCareful checks that the one-pass decoder reads every
// golden case that is a delivery itself (none left to the careful path as
// a whole) and yields exactly the careful path's result, raw items
// included.
func TestParseFastIsCareful(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "webhooks", "*.txt"))
	cases := map[string][]byte{"batch": batch(25)}
	for _, file := range files {
		input, _, err := webhooktest.ReadCase(file)
		if err != nil {
			t.Fatal(err)
		}
		cases[filepath.Base(file)] = input
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			_, fast := parseFast(body)
			if want := !strings.HasPrefix(name, "not_webhook"); fast != want {
				t.Errorf("parseFast ok = %v, want %v", fast, want)
			}
			webhooktest.SamePaths(t, body, parseFast, parseCareful)
		})
	}
}

func BenchmarkParseAndVerify(b *testing.B) {
	v, err := webhook.NewVerifier("bench-secret")
	if err != nil {
		b.Fatal(err)
	}
	single, _, err := webhooktest.ReadCase(filepath.Join("testdata", "webhooks", "text.txt"))
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		body []byte
	}{{"1msg", single}, {"10msgs", batch(10)}, {"100msgs", batch(100)}} {
		sig := webhook.Sign("bench-secret", bc.body)
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.body)))
			b.ReportAllocs()
			for b.Loop() {
				if err := v.Verify(sig, bc.body); err != nil {
					b.Fatal(err)
				}
				if _, err := Parse(bc.body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
