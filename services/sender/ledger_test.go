package sender

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/corral-ai/corral/persona/store/storetest"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

// TestLedgerDoneWithoutLoadedScript: recording a reply done works on a
// Redis that has never seen the script (fresh, restarted or flushed), and
// the conversation keeps its highest finished sequence.
func TestLedgerDoneWithoutLoadedScript(t *testing.T) {
	url := storetest.RedisURL(t)
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	l := ledger{rdb: rdb, prefix: storetest.Prefix(t, url)}
	c := corralv1.Conversation{Platform: corralv1.Platform_PLATFORM_WHATSAPP, ChannelID: "100", UserID: "200"}
	for _, seq := range []uint64{3, 2} {
		if err := rdb.ScriptFlush(t.Context()).Err(); err != nil {
			t.Fatal(err)
		}
		if err := l.done(t.Context(), c, "r"+string(rune('0'+seq)), seq); err != nil {
			t.Fatalf("done %d: %v", seq, err)
		}
	}
	if got, err := l.lastDone(t.Context(), c); err != nil || got != 3 {
		t.Fatalf("lastDone = %d, %v; want 3", got, err)
	}
}
