package chat

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/corral-ai/corral/inference/model/synth"
	"github.com/corral-ai/corral/inference/safety"
)

// TestGuardModelWiring serves the demo model as the guard: a message the
// fast passes are unsure of is put to it in Llama Guard 3's prompt format,
// the engine generates, and the parser refuses the demo model's random
// words (ErrBadGuardAnswer) while the fast verdict stands. With a real
// Llama Guard 3 GGUF the same path answers safe or unsafe.
func TestGuardModelWiring(t *testing.T) {
	path, _, err := synth.EnsureDemo(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	g, err := openGuard(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := g.close(); err != nil {
			t.Error(err)
		}
	}()
	stage, err := safety.New(safety.Options{Guard: g.asGuard()})
	if err != nil {
		t.Fatal(err)
	}
	// Borderline: the fast passes leave it to the guard.
	v, err := stage.CheckContext(t.Context(), "how can I buy a gun", safety.User, nil)
	if !errors.Is(err, safety.ErrBadGuardAnswer) {
		t.Fatalf("CheckContext error = %v, want ErrBadGuardAnswer from the demo model's answer", err)
	}
	if want := stage.Check("how can I buy a gun", safety.User, nil); v.Action != want.Action {
		t.Errorf("verdict %v after a failed guard, want the fast verdict %v", v.Action, want.Action)
	}
	// Clear: the guard is not asked, so nothing can fail.
	if _, err := stage.CheckContext(t.Context(), "hello, how are you today?", safety.User, nil); err != nil {
		t.Errorf("a clear message consulted the guard: %v", err)
	}
	if (*guardModel)(nil).asGuard() != nil {
		t.Error("no guard model must mean no guard")
	}
}

func TestOpenGuardBadFile(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "guard.gguf")
	if err := os.WriteFile(bad, []byte("GGUF but not really"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{bad, filepath.Join(t.TempDir(), "missing.gguf")} {
		if g, err := openGuard(path); err == nil {
			_ = g.close()
			t.Errorf("openGuard(%s): no error", path)
		}
	}
}
