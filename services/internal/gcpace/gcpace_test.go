package gcpace_test

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/corral-ai/corral/services/internal/gcpace"
)

func TestPercent(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		floor, live uint64
		base, want  int
	}{
		{floor: 64 * mib, live: 4 * mib, base: 100, want: 1500},
		{floor: 64 * mib, live: 32 * mib, base: 100, want: 100},
		{floor: 64 * mib, live: 100 * mib, base: 100, want: 100},
		{floor: 64 * mib, live: 16 * mib, base: 400, want: 400},
		{floor: 64 * mib, live: 8 * mib, base: 400, want: 700},
		{floor: 64 * mib, live: 0, base: 100, want: 100_000},
	} {
		if got := gcpace.Percent(tc.floor, tc.live, tc.base); got != tc.want {
			t.Errorf("Percent(%d, %d, %d) = %d, want %d", tc.floor, tc.live, tc.base, got, tc.want)
		}
	}
}

// TestPacerFollowsCollections checks that the pacer raises GOGC while the
// live heap is small, lowers it to the base after a collection finds a
// large live heap, raises it again once that is garbage, and puts GOGC
// back on Stop. It changes the process's GOGC, so it does not run in
// parallel.
func TestPacerFollowsCollections(t *testing.T) {
	base := debug.SetGCPercent(100)
	defer debug.SetGCPercent(base)
	if gcpace.Start(0) != nil {
		t.Fatal("a zero floor started a pacer")
	}
	const floor = 64 << 20
	p := gcpace.Start(floor)
	defer p.Stop()
	if p.Percent() <= 100 {
		t.Fatalf("GOGC %d for a 64 MiB floor: want it raised", p.Percent())
	}
	waitPercent := func(what string, ok func(int) bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !ok(p.Percent()); {
			if time.Now().After(deadline) {
				t.Fatalf("GOGC %d: %s", p.Percent(), what)
			}
			runtime.GC()
			time.Sleep(5 * time.Millisecond)
		}
	}
	live := make([]byte, floor*3/4)
	for i := range live {
		live[i] = byte(i)
	}
	waitPercent("want 100 with 48 MiB live", func(n int) bool { return n == 100 })
	runtime.KeepAlive(live)
	live = nil
	waitPercent("want it raised again once the 48 MiB are garbage", func(n int) bool { return n > 100 })
	p.Stop()
	if cur := debug.SetGCPercent(100); cur != 100 {
		t.Fatalf("GOGC %d after Stop, want the 100 found at Start", cur)
	}
}

// TestOnePacerAtATime: GOGC is one setting per process, so a second Start
// while one Pacer runs does nothing, and Stop puts back the GOGC found
// before the first (not a raised one).
func TestOnePacerAtATime(t *testing.T) {
	before := debug.SetGCPercent(137)
	t.Cleanup(func() { debug.SetGCPercent(before) })
	first := gcpace.Start(64 << 20)
	if first == nil {
		t.Fatal("no pacer")
	}
	if second := gcpace.Start(64 << 20); second != nil {
		second.Stop()
		first.Stop()
		t.Fatal("a second pacer started beside the first")
	}
	first.Stop()
	if got := debug.SetGCPercent(before); got != 137 {
		t.Errorf("GOGC after Stop = %d, want 137", got)
	}
	again := gcpace.Start(64 << 20)
	if again == nil {
		t.Fatal("no pacer after the first stopped")
	}
	again.Stop()
}
