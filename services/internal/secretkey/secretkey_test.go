package secretkey

import (
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"strings"
	"testing"

	"github.com/corral-ai/corral/persona/store"
	"github.com/corral-ai/corral/services/internal/settings"
)

// holder is a component that needs the key, as a role does.
type holder struct{ key []byte }

func (h *holder) Settings() []settings.Setting { return []settings.Setting{Setting(&h.key)} }
func (*holder) Validate() error                { return nil }

func apply(t *testing.T, value string, comps ...settings.Component) error {
	t.Helper()
	cat := settings.New(comps...)
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	cat.Bind(fs, func(k string) string {
		if k == Env {
			return value
		}
		return ""
	})
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	return cat.Apply(fs)
}

func TestSetting(t *testing.T) {
	hexKey := Generate()
	raw := make([]byte, store.SecretKeySize)
	for i := range raw {
		raw[i] = byte(i)
	}
	tests := []struct {
		name    string
		value   string
		wantLen int
		wantErr bool
	}{
		{"unset", "", 0, false},
		{"hex", hexKey, store.SecretKeySize, false},
		{"base64", base64.StdEncoding.EncodeToString(raw), store.SecretKeySize, false},
		{"too short", "abcd", 0, true},
		{"not hex", strings.Repeat("zz", 32), 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chat, sender := &holder{}, &holder{}
			err := apply(t, tt.value, chat, sender)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Apply = %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				if !strings.Contains(err.Error(), Env) || !strings.Contains(err.Error(), "keygen") || strings.Contains(err.Error(), tt.value) {
					t.Errorf("error %q should name %s, say how to make a key and not echo the value", err, Env)
				}
				return
			}
			if len(chat.key) != tt.wantLen || string(chat.key) != string(sender.key) {
				t.Errorf("keys %x and %x, want the same %d bytes in both", chat.key, sender.key, tt.wantLen)
			}
		})
	}
}

func TestGenerate(t *testing.T) {
	a, b := Generate(), Generate()
	if a == b {
		t.Error("two keys alike")
	}
	if k, err := store.ParseSecretKey(a); err != nil || len(k) != store.SecretKeySize {
		t.Errorf("generated key %q does not parse: %v", a, err)
	}
}

func TestExplain(t *testing.T) {
	other := errors.New("boom")
	if Explain(other) != other || Explain(nil) != nil {
		t.Error("Explain changed an unrelated error")
	}
	for _, sentinel := range []error{store.ErrNoSecretKey, store.ErrSealed} {
		err := Explain(fmt.Errorf("put channel: %w", sentinel))
		if !errors.Is(err, sentinel) || !strings.Contains(err.Error(), Env) {
			t.Errorf("Explain(%v) = %v: want the sentinel kept and %s named", sentinel, err, Env)
		}
	}
}
