package store

import (
	"errors"
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no URL", Config{}, "redis URL is required"},
		{"short key", Config{URL: "redis://x", SecretKey: []byte("short")}, "secret key is 5 bytes, want 32"},
		{"negative TTL", Config{URL: "redis://x", HistoryTTL: -1}, "must not be negative"},
		{"glob in prefix", Config{URL: "redis://x", Prefix: "a*"}, "glob"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v, want %q", err, tt.want)
			}
		})
	}
	if err := (Config{URL: "redis://x", SecretKey: make([]byte, 32)}).Validate(); err != nil {
		t.Errorf("valid config: %v", err)
	}
}

func TestParseSecretKey(t *testing.T) {
	const hexKey = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{hexKey, true},
		{" " + strings.ToUpper(hexKey) + "\n", true},
		{"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", true}, // base64
		{"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", true},  // raw base64
		{hexKey[:62], false},
		{"", false},
		{"not a key", false},
		{"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==", false}, // 31 bytes
	} {
		k, err := ParseSecretKey(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("ParseSecretKey(%q) = %v", tc.in, err)
			continue
		}
		if tc.ok && (len(k) != SecretKeySize || k[1] != 1 || k[31] != 31) {
			t.Errorf("ParseSecretKey(%q) = %x", tc.in, k)
		}
		if !tc.ok && !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("ParseSecretKey(%q) error %v does not match ErrInvalidArgument", tc.in, err)
		}
	}
}

func TestSealer(t *testing.T) {
	s, err := newSealer(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	a, b := s.seal("token", "ctx"), s.seal("token", "ctx")
	if a == b {
		t.Error("two seals of one value are equal: nonces repeat")
	}
	if got, err := s.open(a, "ctx"); err != nil || got != "token" {
		t.Errorf("open = %q, %v", got, err)
	}
	for name, bad := range map[string]string{
		"other context": a,
		"truncated":     a[:len(a)-2],
		"no version":    strings.TrimPrefix(a, sealVersion),
		"not base64":    sealVersion + "!!!",
		"too short":     sealVersion + "AAAA",
	} {
		ctx := "ctx"
		if name == "other context" {
			ctx = "other"
		}
		if _, err := s.open(bad, ctx); !errors.Is(err, ErrSealed) {
			t.Errorf("%s: open = %v, want ErrSealed", name, err)
		}
	}
}

// FuzzParseToken checks the parser of API tokens, which come from outside
// (the studio's sign-in): it never panics, and what it accepts is exactly
// the token format.
func FuzzParseToken(f *testing.F) {
	f.Add(TokenPrefix + strings.Repeat("a", tokenIDLen) + "_" + strings.Repeat("0f", tokenSecret))
	f.Add(TokenPrefix)
	f.Add("")
	f.Add("crl_" + strings.Repeat("_", 100))
	f.Fuzz(func(t *testing.T, token string) {
		id, secret, ok := parseToken(token)
		if !ok {
			return
		}
		if TokenPrefix+id+"_"+secret != token || len(token) != tokenLen || !validID(tokenIDPrefix, tokenIDPrefix+id) {
			t.Fatalf("accepted %q as id %q secret %q", token, id, secret)
		}
	})
}
