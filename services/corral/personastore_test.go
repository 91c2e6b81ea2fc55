package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/corral-ai/corral/persona/store"
	"github.com/corral-ai/corral/services/internal/backends"
	"github.com/corral-ai/corral/services/internal/embedded"
)

// dataFolderEnv prepares a test of the commands on a data folder: no
// REDIS_URL, so the data lives in the embedded Redis kept in dir.
func dataFolderEnv(t *testing.T) (dir string) {
	t.Helper()
	t.Setenv("REDIS_URL", "")
	t.Setenv("CORRAL_SECRET_KEY", testSecretKey)
	t.Setenv("CORRAL_DATA_DIR", "")
	return t.TempDir()
}

// openFolder opens the persona store kept in the data folder dir while no
// corral process runs on it, as a check of what the commands stored.
func openFolder(t *testing.T, dir string) *store.Store {
	t.Helper()
	emb, err := embedded.StartRedis(embedded.RedisConfig{Dir: filepath.Join(dir, "redis")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = emb.Close() })
	return openURL(t, emb.URL())
}

func openURL(t *testing.T, url string) *store.Store {
	t.Helper()
	key, _ := store.ParseSecretKey(testSecretKey)
	s, err := store.Open(t.Context(), store.Config{URL: url, SecretKey: key}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// checkFolderFree checks that no command left the data folder locked or
// its Redis address published.
func checkFolderFree(t *testing.T, dir string) {
	t.Helper()
	if _, err := backends.ReadRedisAddr(dir); !errors.Is(err, backends.ErrNoRedisAddr) {
		t.Errorf("Redis address left behind: %v", err)
	}
	unlock, err := lockDataDir(dir)
	if err != nil {
		t.Fatalf("data folder left locked: %v", err)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
}

// TestStoreCommandsOpenTheDataFolder runs the commands with no corral
// process on the data folder: each opens the folder's embedded Redis for
// its duration, and what one stores the next one finds.
func TestStoreCommandsOpenTheDataFolder(t *testing.T) {
	dir := dataFolderEnv(t)
	stdout, _, err := runCLI(t, "creator", "add", "--data", dir, "Ada")
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(stdout)
	checkFolderFree(t, dir)
	if _, _, err := runCLI(t, addArgs("501", tokenFile(t, "EAAfolder"), "--data", dir)...); err != nil {
		t.Fatal(err)
	}
	checkFolderFree(t, dir)
	stdout, _, err = runCLI(t, "creator", "list", "--data", dir)
	if err != nil || !strings.Contains(stdout, "Ada") {
		t.Fatalf("creator list: %q, %v", stdout, err)
	}
	stdout, _, err = runCLI(t, "channel", "list", "--data", dir)
	if err != nil || !strings.Contains(stdout, "501") || !strings.Contains(stdout, "sealed, key ok") {
		t.Fatalf("channel list: %q, %v", stdout, err)
	}
	checkFolderFree(t, dir)

	s := openFolder(t, dir)
	if c, err := s.Authenticate(t.Context(), token); err != nil || c.Name != "Ada" {
		t.Errorf("token of the folder's creator: %+v, %v", c, err)
	}
	if ch, err := s.Channel(t.Context(), whatsapp, "501"); err != nil || ch.AccessToken.Reveal() != "EAAfolder" {
		t.Errorf("folder's channel: %v", err)
	}
}

// TestStoreCommandsReachRunningServe runs `corral serve` in the test and
// the commands on its data folder meanwhile: they talk to serve's embedded
// Redis at the address serve publishes, and the data outlives serve.
func TestStoreCommandsReachRunningServe(t *testing.T) {
	dir := dataFolderEnv(t)
	_, logs, stop := runInBackground(t, "serve", "--data", dir)
	addr, err := backends.ReadRedisAddr(dir)
	if err != nil {
		t.Fatalf("serve published no Redis address: %v\n%s", err, logs.String())
	}
	if !strings.Contains(logs.String(), "address file") {
		t.Errorf("serve's log does not say where the address is:\n%s", logs.String())
	}
	stdout, _, err := runCLI(t, "creator", "add", "--data", dir, "Ada")
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(stdout)
	if _, _, err := runCLI(t, addArgs("601", tokenFile(t, "EAAserve"), "--data", dir)...); err != nil {
		t.Fatal(err)
	}
	// serve holds the lock, so the commands cannot have opened the folder
	// themselves: what they wrote is in serve's server.
	s := openURL(t, "redis://"+addr)
	if c, err := s.Authenticate(t.Context(), token); err != nil || c.Name != "Ada" {
		t.Errorf("serve's Redis does not know the new creator: %+v, %v", c, err)
	}
	if ch, err := s.Channel(t.Context(), whatsapp, "601"); err != nil || ch.AccessToken.Reveal() != "EAAserve" {
		t.Errorf("serve's Redis does not have the channel: %v", err)
	}
	if err := stop(); err != nil {
		t.Fatalf("serve: %v\n%s", err, logs.String())
	}
	checkFolderFree(t, dir)
	stdout, _, err = runCLI(t, "channel", "list", "--data", dir)
	if err != nil || !strings.Contains(stdout, "601") {
		t.Errorf("after serve stopped, channel list: %q, %v", stdout, err)
	}
}

// TestStoreCommandsOnALockedFolder covers a data folder held by a process
// that publishes no Redis address: the command waits for one, takes the
// folder over when the holder leaves, and otherwise says what to do.
func TestStoreCommandsOnALockedFolder(t *testing.T) {
	dir := dataFolderEnv(t)
	old := addrWait
	t.Cleanup(func() { addrWait = old })

	unlock, err := lockDataDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	addrWait = 300 * time.Millisecond
	_, _, err = runCLI(t, "creator", "list", "--data", dir)
	wantExit(t, err, 1, "publishes no Redis address")
	if !strings.Contains(err.Error(), "REDIS_URL") {
		t.Errorf("error does not suggest REDIS_URL: %v", err)
	}

	addrWait = 30 * time.Second
	done := make(chan error, 1)
	go func() {
		_, _, err := runCLI(t, "creator", "add", "--data", dir, "Ada")
		done <- err
	}()
	time.Sleep(300 * time.Millisecond)
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("command after the holder left: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("command did not take the folder over")
	}
	stdout, _, err := runCLI(t, "creator", "list", "--data", dir)
	if err != nil || !strings.Contains(stdout, "Ada") {
		t.Errorf("creator list: %q, %v", stdout, err)
	}
}

func TestLockClearsAStaleRedisAddress(t *testing.T) {
	dir := t.TempDir()
	path := backends.RedisAddrFile(dir)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("127.0.0.1:1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	unlock, err := lockDataDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale address kept by the new lock holder: %v", err)
	}
	if _, err := lockDataDir(dir); !errors.As(err, new(inUseError)) {
		t.Errorf("second lock = %v, want inUseError", err)
	}
}
