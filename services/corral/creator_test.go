package main

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/corral-ai/corral/persona/store"
	"github.com/corral-ai/corral/persona/store/storetest"
)

// testSecretKey is CORRAL_SECRET_KEY in the persona-store command tests.
const testSecretKey = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

// storeEnv prepares a persona-store command test: the commands reach Redis
// through REDIS_URL, the real server when it is set (on a key prefix of
// the test's own) and a private in-process one otherwise, with the secret
// key set. It returns a store on the same data, for setting up and
// checking what the commands did.
func storeEnv(t *testing.T) *store.Store {
	t.Helper()
	url := storetest.RedisURL(t)
	t.Setenv("REDIS_URL", url)
	t.Setenv("CORRAL_DATA_DIR", t.TempDir())
	t.Setenv("CORRAL_SECRET_KEY", testSecretKey)
	old := storeKeyPrefix
	storeKeyPrefix = storetest.Prefix(t, url)
	t.Cleanup(func() { storeKeyPrefix = old })
	key, err := store.ParseSecretKey(testSecretKey)
	if err != nil {
		t.Fatal(err)
	}
	return storetest.Open(t, store.Config{URL: url, Prefix: storeKeyPrefix, SecretKey: key}, nil)
}

// wantExit checks a command's exit code and that its error says want.
func wantExit(t *testing.T, err error, code int, want string) {
	t.Helper()
	if got := exitCode(err); got != code {
		t.Fatalf("exit code %d, want %d (err: %v)", got, code, err)
	}
	if want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
		t.Errorf("error %v, want it to say %q", err, want)
	}
}

func TestCreatorAddPrintsTheTokenOnce(t *testing.T) {
	s := storeEnv(t)
	stdout, stderr, err := runCLI(t, "creator", "add", "Ada Lovelace")
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(stdout)
	if strings.Count(stdout, "\n") != 1 || !strings.HasPrefix(token, store.TokenPrefix) {
		t.Fatalf("stdout %q, want the token alone on one line", stdout)
	}
	if !strings.Contains(stderr, "cannot be shown again") || strings.Contains(stderr, token) {
		t.Errorf("stderr %q should say the token cannot be shown again, without showing it", stderr)
	}
	c, err := s.Authenticate(t.Context(), token)
	if err != nil || c.Name != "Ada Lovelace" {
		t.Fatalf("Authenticate(printed token) = %+v, %v", c, err)
	}
	stdout, _, err = runCLI(t, "creator", "list")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout, c.ID) || !strings.Contains(stdout, "Ada Lovelace") || !strings.Contains(stdout, "active") {
		t.Errorf("list lacks the creator:\n%s", stdout)
	}
	if strings.Contains(stdout, token) || strings.Contains(stdout, token[len(token)-16:]) {
		t.Errorf("list shows the token:\n%s", stdout)
	}
}

func TestCreatorAddBadInput(t *testing.T) {
	storeEnv(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no name", []string{"creator", "add"}, "needs NAME"},
		{"two names", []string{"creator", "add", "Ada", "Lovelace"}, "needs NAME"},
		{"empty name", []string{"creator", "add", "  "}, "name is required"},
		{"name too long", []string{"creator", "add", strings.Repeat("é", 61)}, "61 characters, at most 60"},
		{"two lines", []string{"creator", "add", "Ada\nLovelace"}, "one line"},
		{"bad redis", []string{"creator", "add", "--redis", "mysql://x", "Ada"}, "--redis"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, _, err := runCLI(t, tt.args...)
			wantExit(t, err, 2, tt.want)
			if stdout != "" {
				t.Errorf("stdout %q after a refused add", stdout)
			}
		})
	}
	stdout, stderr, err := runCLI(t, "creator", "list")
	if err != nil || stdout != "" || !strings.Contains(stderr, "no creators") {
		t.Errorf("creators were made by refused adds: %q %q %v", stdout, stderr, err)
	}
}

func TestCreatorRevoke(t *testing.T) {
	s := storeEnv(t)
	ctx := t.Context()
	ada, token, err := s.CreateCreator(ctx, "Ada")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("unknown creator", func(t *testing.T) {
		_, _, err := runCLI(t, "creator", "revoke", "c_aaaaaaaaaaaaaaaaaaaaaaaaaa")
		wantExit(t, err, 1, "not found")
	})
	t.Run("malformed id", func(t *testing.T) {
		_, _, err := runCLI(t, "creator", "revoke", "ada")
		wantExit(t, err, 1, "not found")
	})
	t.Run("no id", func(t *testing.T) {
		_, _, err := runCLI(t, "creator", "revoke")
		wantExit(t, err, 2, "needs ID")
	})
	t.Run("revoke", func(t *testing.T) {
		stdout, _, err := runCLI(t, "creator", "revoke", ada.ID)
		if err != nil || !strings.Contains(stdout, "revoked creator "+ada.ID) {
			t.Fatalf("revoke: %q, %v", stdout, err)
		}
		if _, err := s.Authenticate(ctx, token); !errors.Is(err, store.ErrUnauthenticated) {
			t.Errorf("token still works after revoke: %v", err)
		}
	})
	t.Run("revoked creator", func(t *testing.T) {
		stdout, _, err := runCLI(t, "creator", "revoke", ada.ID)
		if err != nil || !strings.Contains(stdout, "already revoked") {
			t.Errorf("second revoke: %q, %v", stdout, err)
		}
		stdout, _, err = runCLI(t, "creator", "list")
		if err != nil || !strings.Contains(stdout, "revoked 20") {
			t.Errorf("list after revoke: %q, %v", stdout, err)
		}
	})
}

func TestCreatorToken(t *testing.T) {
	s := storeEnv(t)
	ctx := t.Context()
	ada, first, err := s.CreateCreator(ctx, "Ada")
	if err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err := runCLI(t, "creator", "token", ada.ID)
	if err != nil {
		t.Fatal(err)
	}
	second := strings.TrimSpace(stdout)
	if second == first || !strings.Contains(stderr, "cannot be shown again") {
		t.Errorf("token: %q %q", stdout, stderr)
	}
	for _, tok := range []string{first, second} {
		if _, err := s.Authenticate(ctx, tok); err != nil {
			t.Errorf("token does not authenticate: %v", err)
		}
	}
	_, _, err = runCLI(t, "creator", "token", "c_aaaaaaaaaaaaaaaaaaaaaaaaaa")
	wantExit(t, err, 1, "not found")
	if err := s.RevokeCreator(ctx, ada.ID); err != nil {
		t.Fatal(err)
	}
	stdout, _, err = runCLI(t, "creator", "token", ada.ID)
	wantExit(t, err, 1, "was revoked")
	if stdout != "" {
		t.Errorf("a revoked creator got a token: %q", stdout)
	}
}

// TestStoreCommandsHelp checks every creator and channel subcommand: help
// exits 0 and says how to use it, an unknown flag is a usage error.
func TestStoreCommandsHelp(t *testing.T) {
	for group, set := range map[string]map[string]command{"creator": creatorCommands, "channel": channelCommands} {
		for name := range set {
			t.Run(group+" "+name, func(t *testing.T) {
				_, stderr, err := runCLI(t, group, name, "--help")
				wantExit(t, err, 0, "")
				if !strings.Contains(stderr, "usage: corral "+group+" ") || len(stderr) < 100 {
					t.Errorf("help says too little:\n%s", stderr)
				}
				_, _, err = runCLI(t, group, name, "--no-such-flag")
				wantExit(t, err, 2, "no-such-flag")
			})
		}
	}
}

// TestStoreCommandsWithoutData checks that reading commands on a data
// folder that does not exist create nothing and say why the list is empty,
// and that changing commands fail.
func TestStoreCommandsWithoutData(t *testing.T) {
	t.Setenv("REDIS_URL", "")
	dir := t.TempDir() + "/none"
	for _, args := range [][]string{{"creator", "list"}, {"channel", "list"}} {
		stdout, stderr, err := runCLI(t, append(args, "--data", dir)...)
		if err != nil || stdout != "" || !strings.Contains(stderr, "nothing is stored there yet") {
			t.Errorf("%v: %q %q %v", args, stdout, stderr, err)
		}
	}
	_, _, err := runCLI(t, "creator", "revoke", "--data", dir, "c_aaaaaaaaaaaaaaaaaaaaaaaaaa")
	wantExit(t, err, 1, "nothing is stored there yet")
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a reading command made the data folder: %v", err)
	}
}
