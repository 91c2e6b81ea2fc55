package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/corral-ai/corral/persona"
	"github.com/corral-ai/corral/persona/store"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
	"github.com/corral-ai/corral/services/internal/secretkey"
)

const whatsapp = corralv1.Platform_PLATFORM_WHATSAPP

// tokenFile writes an access token to a file of the test's.
func tokenFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// addArgs is a channel add command line.
func addArgs(id, token string, extra ...string) []string {
	return append([]string{"channel", "add", "--platform", "whatsapp", "--id", id, "--token-file", token}, extra...)
}

// newPersona makes a persona of creator owner with handle, published or not.
func newPersona(t *testing.T, s *store.Store, owner, handle string, vis persona.Visibility, publish bool) persona.Persona {
	t.Helper()
	e := persona.NewEdit()
	e.Handle, e.Visibility, e.Name, e.Instructions = handle, vis, "Luna", "Talk about the night sky."
	p, err := s.Create(t.Context(), owner, e)
	if err != nil {
		t.Fatal(err)
	}
	if publish {
		if _, err := s.Publish(t.Context(), owner, p.ID, p.Revision); err != nil {
			t.Fatal(err)
		}
		if p, err = s.Get(t.Context(), owner, p.ID); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func resolveSource(t *testing.T, s *store.Store, id string) (store.Source, string) {
	t.Helper()
	r, err := s.Resolve(t.Context(), corralv1.Conversation{Platform: whatsapp, ChannelID: id, UserID: "4915100000000"})
	if err != nil {
		t.Fatal(err)
	}
	return r.Source, r.Version.PersonaID
}

// rawValues returns every key and value under the store's prefix, to check
// that a token is stored nowhere in the clear.
func rawValues(t *testing.T) string {
	t.Helper()
	opts, err := redis.ParseURL(os.Getenv("REDIS_URL"))
	if err != nil {
		t.Fatal(err)
	}
	rc := redis.NewClient(opts)
	defer rc.Close()
	ctx := context.Background()
	keys, err := rc.Keys(ctx, storeKeyPrefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "=" + rc.Get(ctx, k).Val() + strings.Join(rc.SMembers(ctx, k).Val(), ",") + "\n")
	}
	return b.String()
}

func TestChannelAdd(t *testing.T) {
	s := storeEnv(t)
	ctx := t.Context()
	const token = "EAAGm0PX4ZCpsBAtest0123456789"
	stdout, _, err := runCLI(t, addArgs("106540352242922", tokenFile(t, token+"\n"), "--name", "Support")...)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout, "added whatsapp channel 106540352242922 (Support)") || !strings.Contains(stdout, "default persona") {
		t.Errorf("add said %q", stdout)
	}
	ch, err := s.Channel(ctx, whatsapp, "106540352242922")
	if err != nil || ch.AccessToken.Reveal() != token || ch.Name != "Support" || ch.PersonaID != "" {
		t.Fatalf("stored channel %+v (token ok %v), %v", ch, ch.AccessToken.Reveal() == token, err)
	}
	if raw := rawValues(t); strings.Contains(raw, token) || !strings.Contains(raw, "sealed_token") {
		t.Errorf("token stored in the clear or not at all:\n%s", raw)
	}
	// A fresh channel is answered by the built-in default persona.
	if src, id := resolveSource(t, s, "106540352242922"); src != store.FromDefault || id != persona.DefaultID {
		t.Errorf("Resolve on a new channel = %s %s, want the default persona", src, id)
	}

	t.Run("duplicate channel", func(t *testing.T) {
		stdout, _, err := runCLI(t, addArgs("106540352242922", tokenFile(t, "other"))...)
		wantExit(t, err, 1, "exists")
		if !strings.Contains(err.Error(), "--replace") || stdout != "" {
			t.Errorf("duplicate: %q, %v", stdout, err)
		}
		if ch, _ := s.Channel(ctx, whatsapp, "106540352242922"); ch.AccessToken.Reveal() != token {
			t.Error("a refused duplicate changed the token")
		}
	})
	t.Run("replace keeps name and binding", func(t *testing.T) {
		ada, _, err := s.CreateCreator(ctx, "Ada")
		if err != nil {
			t.Fatal(err)
		}
		luna := newPersona(t, s, ada.ID, "luna", persona.Private, true)
		if err := s.Bind(ctx, store.Operator, whatsapp, "106540352242922", luna.ID); err != nil {
			t.Fatal(err)
		}
		stdout, _, err := runCLI(t, addArgs("106540352242922", tokenFile(t, "rotated"), "--replace")...)
		if err != nil || !strings.Contains(stdout, "replaced the access token") {
			t.Fatalf("replace: %q, %v", stdout, err)
		}
		ch, err := s.Channel(ctx, whatsapp, "106540352242922")
		if err != nil || ch.AccessToken.Reveal() != "rotated" || ch.Name != "Support" || ch.PersonaID != luna.ID {
			t.Errorf("after replace %+v, %v", ch, err)
		}
	})
	t.Run("token from stdin", func(t *testing.T) {
		old := stdin
		t.Cleanup(func() { stdin = old })
		stdin = strings.NewReader("  from-stdin\r\n")
		if _, _, err := runCLI(t, addArgs("104", "-")...); err != nil {
			t.Fatal(err)
		}
		if ch, err := s.Channel(ctx, whatsapp, "104"); err != nil || ch.AccessToken.Reveal() != "from-stdin" {
			t.Errorf("stdin token: %v", err)
		}
	})
	t.Run("bound at once by handle", func(t *testing.T) {
		ada, _, err := s.CreateCreator(ctx, "Ada")
		if err != nil {
			t.Fatal(err)
		}
		sol := newPersona(t, s, ada.ID, "Sol", persona.Public, true)
		stdout, _, err := runCLI(t, addArgs("105", tokenFile(t, "t"), "--persona", "@sol", "--owner", ada.ID)...)
		if err != nil || !strings.Contains(stdout, "@Sol ("+sol.ID+"), version 1") {
			t.Fatalf("add --persona: %q, %v", stdout, err)
		}
		if src, id := resolveSource(t, s, "105"); src != store.FromChannel || id != sol.ID {
			t.Errorf("Resolve = %s %s, want the bound persona", src, id)
		}
		if ch, _ := s.Channel(ctx, whatsapp, "105"); ch.OwnerID != ada.ID {
			t.Errorf("owner %q, want %q", ch.OwnerID, ada.ID)
		}
	})
}

func TestChannelAddBadInput(t *testing.T) {
	s := storeEnv(t)
	ctx := t.Context()
	good := tokenFile(t, "EAAtoken")
	revoked, _, err := s.CreateCreator(ctx, "Gone")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeCreator(ctx, revoked.ID); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		code int
		want string
	}{
		{"bad platform", []string{"channel", "add", "--platform", "telegram", "--id", "1", "--token-file", good}, nil, 2, `--platform "telegram"`},
		{"no platform", []string{"channel", "add", "--id", "1", "--token-file", good}, nil, 2, "--platform is required"},
		{"no id", []string{"channel", "add", "--platform", "messenger", "--token-file", good}, nil, 2, "--id is required"},
		{"phone number for id", addArgs("+49 151 0000", good), nil, 2, "not the phone number"},
		{"id too long", addArgs(strings.Repeat("1", 33), good), nil, 2, "up to 32 digits"},
		{"missing token", []string{"channel", "add", "--platform", "whatsapp", "--id", "1"}, nil, 2, "--token-file is required"},
		{"token file missing", addArgs("1", filepath.Join(t.TempDir(), "none")), nil, 2, "no such file"},
		{"token file is a folder", addArgs("1", t.TempDir()), nil, 2, "is a folder"},
		{"token file empty", addArgs("1", tokenFile(t, "\n")), nil, 2, "access token is empty"},
		{"token file with two lines", addArgs("1", tokenFile(t, "a\nb\n")), nil, 2, "want the token alone"},
		{"token too long", addArgs("1", tokenFile(t, strings.Repeat("x", 5000))), nil, 2, "longer than 4096"},
		{"token as a positional argument", append(addArgs("1", good), "EAAsecret"), nil, 2, "takes no arguments"},
		{"no secret key", addArgs("1", good), map[string]string{"CORRAL_SECRET_KEY": ""}, 2, "keygen"},
		{"bad secret key", addArgs("1", good), map[string]string{"CORRAL_SECRET_KEY": "short"}, 2, "CORRAL_SECRET_KEY"},
		{"empty persona", addArgs("1", good, "--persona", ""), nil, 2, "--persona is empty"},
		{"malformed handle", addArgs("1", good, "--persona", "@a b"), nil, 2, "neither a persona id"},
		{"unknown persona", addArgs("1", good, "--persona", "@nobody"), nil, 1, "no persona @nobody"},
		{"unknown persona id", addArgs("1", good, "--persona", "p_aaaaaaaaaaaaaaaaaaaaaaaaaa"), nil, 1, "no persona p_aaaa"},
		{"unknown creator", addArgs("1", good, "--owner", "c_aaaaaaaaaaaaaaaaaaaaaaaaaa"), nil, 1, "no creator"},
		{"revoked creator", addArgs("1", good, "--owner", revoked.ID), nil, 1, "was revoked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			stdout, _, err := runCLI(t, tt.args...)
			wantExit(t, err, tt.code, tt.want)
			if strings.Contains(err.Error(), "EAA") {
				t.Errorf("error shows a token: %v", err)
			}
			if stdout != "" {
				t.Errorf("stdout %q after a refused add", stdout)
			}
		})
	}
	if chs, err := s.Channels(ctx); err != nil || len(chs) != 0 {
		t.Errorf("refused adds stored channels: %v, %v", chs, err)
	}
}

func TestChannelList(t *testing.T) {
	s := storeEnv(t)
	ctx := t.Context()
	ada, _, err := s.CreateCreator(ctx, "Ada")
	if err != nil {
		t.Fatal(err)
	}
	luna := newPersona(t, s, ada.ID, "luna", persona.Private, true)
	draft := newPersona(t, s, ada.ID, "draft", persona.Public, false)
	gone := newPersona(t, s, ada.ID, "gone", persona.Public, true)
	const secret = "EAAverysecrettoken"
	for id, bound := range map[string]string{"201": "", "202": luna.ID, "203": draft.ID, "204": gone.ID} {
		if _, err := s.PutChannel(ctx, store.Channel{Platform: whatsapp, ID: id, Name: "n" + id, AccessToken: secret}); err != nil {
			t.Fatal(err)
		}
		if bound != "" {
			if err := s.Bind(ctx, store.Operator, whatsapp, id, bound); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.Delete(ctx, ada.ID, gone.ID); err != nil {
		t.Fatal(err)
	}
	lines := func(t *testing.T) map[string]string {
		t.Helper()
		stdout, _, err := runCLI(t, "channel", "list")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(stdout, secret) || strings.Contains(stdout, "EAA") {
			t.Fatalf("list shows a token:\n%s", stdout)
		}
		out := map[string]string{}
		for _, l := range strings.Split(stdout, "\n") {
			if f := strings.Fields(l); len(f) > 1 {
				out[f[1]] = l
			}
		}
		return out
	}
	got := lines(t)
	for id, want := range map[string][]string{
		"201": {"whatsapp", "n201", "default (@assistant)", "sealed, key ok"},
		"202": {"@luna " + luna.ID + " v1"},
		"203": {"@draft", "unpublished: default answers"},
		"204": {gone.ID + " (deleted: default answers)"},
	} {
		for _, w := range want {
			if !strings.Contains(got[id], w) {
				t.Errorf("row of %s %q lacks %q", id, got[id], w)
			}
		}
	}
	t.Setenv("CORRAL_SECRET_KEY", secretkey.Generate())
	if row := lines(t)["201"]; !strings.Contains(row, "sealed, other key") {
		t.Errorf("with another key: %q", row)
	}
	t.Setenv("CORRAL_SECRET_KEY", "")
	if row := lines(t)["201"]; !strings.HasSuffix(strings.TrimSpace(row), "sealed") {
		t.Errorf("without a key: %q", row)
	}
}

func TestChannelBind(t *testing.T) {
	s := storeEnv(t)
	ctx := t.Context()
	ada, _, err := s.CreateCreator(ctx, "Ada")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutChannel(ctx, store.Channel{Platform: whatsapp, ID: "301", AccessToken: "t"}); err != nil {
		t.Fatal(err)
	}
	hidden := newPersona(t, s, ada.ID, "hidden", persona.Private, false)
	bind := func(extra ...string) (string, error) {
		stdout, _, err := runCLI(t, append([]string{"channel", "bind", "--platform", "whatsapp", "--id", "301"}, extra...)...)
		return stdout, err
	}
	for _, tt := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"neither persona nor default", nil, 2, "exactly one of"},
		{"both persona and default", []string{"--persona", "@hidden", "--default"}, 2, "exactly one of"},
		{"malformed handle", []string{"--persona", "@x"}, 2, "neither a persona id"},
		{"unknown persona", []string{"--persona", "@nobody"}, 1, "no persona @nobody"},
		{"unknown persona id", []string{"--persona", "p_aaaaaaaaaaaaaaaaaaaaaaaaaa"}, 1, "no persona"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := bind(tt.args...)
			wantExit(t, err, tt.code, tt.want)
		})
	}
	t.Run("unknown channel", func(t *testing.T) {
		_, _, err := runCLI(t, "channel", "bind", "--platform", "messenger", "--id", "301", "--persona", "@hidden")
		wantExit(t, err, 1, "no messenger channel 301")
	})
	if ch, _ := s.Channel(ctx, whatsapp, "301"); ch.PersonaID != "" {
		t.Fatalf("a refused bind bound %q", ch.PersonaID)
	}

	// A private, unpublished persona can be bound by its handle; the default
	// persona answers until it is published.
	stdout, err := bind("--persona", "@Hidden")
	if err != nil || !strings.Contains(stdout, "not published yet") {
		t.Fatalf("bind: %q, %v", stdout, err)
	}
	if src, _ := resolveSource(t, s, "301"); src != store.FromDefault {
		t.Errorf("unpublished bound persona: Resolve from %s, want default", src)
	}
	if _, err := s.Publish(ctx, ada.ID, hidden.ID, hidden.Revision); err != nil {
		t.Fatal(err)
	}
	if src, id := resolveSource(t, s, "301"); src != store.FromChannel || id != hidden.ID {
		t.Errorf("published bound persona: Resolve = %s %s", src, id)
	}
	if _, err := bind("--persona", hidden.ID); err != nil {
		t.Errorf("bind by id: %v", err)
	}
	for _, back := range [][]string{{"--default"}, {"--persona", "@assistant"}} {
		if stdout, err := bind(back...); err != nil || !strings.Contains(stdout, "built-in default persona") {
			t.Errorf("bind %v: %q, %v", back, stdout, err)
		}
		if src, _ := resolveSource(t, s, "301"); src != store.FromDefault {
			t.Errorf("after bind %v Resolve from %s, want default", back, src)
		}
		if _, err := bind("--persona", "@hidden"); err != nil {
			t.Fatal(err)
		}
	}
}

func TestChannelRemove(t *testing.T) {
	s := storeEnv(t)
	ctx := t.Context()
	if _, err := s.PutChannel(ctx, store.Channel{Platform: corralv1.Platform_PLATFORM_MESSENGER, ID: "401", AccessToken: "t"}); err != nil {
		t.Fatal(err)
	}
	_, _, err := runCLI(t, "channel", "remove", "--platform", "whatsapp", "--id", "401")
	wantExit(t, err, 1, "no whatsapp channel 401")
	_, _, err = runCLI(t, "channel", "remove", "--platform", "messenger")
	wantExit(t, err, 2, "--id is required")
	stdout, _, err := runCLI(t, "channel", "remove", "--platform", "messenger", "--id", "401")
	if err != nil || !strings.Contains(stdout, "removed messenger channel 401") {
		t.Fatalf("remove: %q, %v", stdout, err)
	}
	if _, err := s.Channel(ctx, corralv1.Platform_PLATFORM_MESSENGER, "401"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("channel still there: %v", err)
	}
}

func TestChannelKeygen(t *testing.T) {
	stdout, stderr, err := runCLI(t, "channel", "keygen")
	if err != nil {
		t.Fatal(err)
	}
	if k, err := store.ParseSecretKey(strings.TrimSpace(stdout)); err != nil || len(k) != store.SecretKeySize {
		t.Errorf("keygen printed %q: %v", stdout, err)
	}
	if !strings.Contains(stderr, "CORRAL_SECRET_KEY") {
		t.Errorf("keygen does not say where the key goes: %q", stderr)
	}
	_, _, err = runCLI(t, "channel", "keygen", "extra")
	wantExit(t, err, 2, "takes no arguments")
}

// FuzzReadAccessToken feeds arbitrary token files to the reader: it never
// panics, a token it accepts is one line of printable ASCII, and an error
// never shows the input.
func FuzzReadAccessToken(f *testing.F) {
	for _, seed := range []string{"EAAtoken\n", "", "\n\n", " a b ", "tok\r\n", strings.Repeat("x", 4097), "é", "a\x00b"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		tok, err := readAccessToken(strings.NewReader(in))
		if err != nil {
			if len(in) > 3 && strings.Contains(err.Error(), strings.TrimSpace(in)) && strings.TrimSpace(in) != "" {
				t.Errorf("error %q shows the input", err)
			}
			return
		}
		s := tok.Reveal()
		if s == "" || len(s) > maxAccessToken || s != strings.TrimSpace(in) {
			t.Errorf("accepted %q from %q", s, in)
		}
		for _, r := range s {
			if r <= ' ' || r >= 0x7f {
				t.Errorf("accepted %q with character %q", s, r)
			}
		}
	})
}

// FuzzChannelFlags feeds arbitrary platform, id and persona values to the
// parsers: no panics, and whatever they refuse is a usage error.
func FuzzChannelFlags(f *testing.F) {
	f.Add("whatsapp", "106540352242922", "@luna")
	f.Add("Messenger", "", "p_aaaaaaaaaaaaaaaaaaaaaaaaaa")
	f.Add("telegram", "+49 151", "assistant")
	f.Fuzz(func(t *testing.T, platform, id, ref string) {
		for _, err := range []error{
			func() error { _, err := parsePlatform(platform); return err }(),
			checkChannelID(id),
			func() error { _, err := parsePersonaRef(ref); return err }(),
		} {
			if err != nil && exitCode(err) != 2 {
				t.Errorf("%v is not a usage error", err)
			}
		}
	})
}
