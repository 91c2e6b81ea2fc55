package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// signWithHMAC is an independent reference for Sign.
func signWithHMAC(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func TestNewVerifier(t *testing.T) {
	if _, err := NewVerifier(); !errors.Is(err, ErrNoSecret) {
		t.Errorf("no secrets: err = %v, want ErrNoSecret", err)
	}
	if _, err := NewVerifier("a", ""); !errors.Is(err, ErrNoSecret) {
		t.Errorf("empty secret: err = %v, want ErrNoSecret", err)
	}
}

func TestVerify(t *testing.T) {
	// Meta signs the \u-escaped text; a re-encoded body would differ.
	body := []byte(`{"object":"page","entry":[{"messaging":[{"message":{"text":"caf\u00e9"}}]}]}`)
	v, err := NewVerifier("old-secret", "new-secret")
	if err != nil {
		t.Fatal(err)
	}
	good := Sign("new-secret", body)
	if good != signWithHMAC("new-secret", body) {
		t.Fatalf("Sign = %s, reference %s", good, signWithHMAC("new-secret", body))
	}
	tests := []struct {
		name   string
		header string
		body   []byte
		want   error
	}{
		{name: "new secret", header: good, body: body},
		{name: "old secret", header: Sign("old-secret", body), body: body},
		{name: "upper-case hex", header: "sha256=" + strings.ToUpper(strings.TrimPrefix(good, "sha256=")), body: body},
		{name: "surrounding space", header: " " + good + " ", body: body},
		{name: "missing", header: "", body: body, want: ErrSignatureMissing},
		{name: "sha1 prefix", header: "sha1=" + strings.TrimPrefix(good, "sha256="), body: body, want: ErrSignatureMalformed},
		{name: "no prefix", header: strings.TrimPrefix(good, "sha256="), body: body, want: ErrSignatureMalformed},
		{name: "short", header: good[:len(good)-2], body: body, want: ErrSignatureMalformed},
		{name: "long", header: good + "00", body: body, want: ErrSignatureMalformed},
		{name: "not hex", header: good[:len(good)-1] + "g", body: body, want: ErrSignatureMalformed},
		{name: "other secret", header: Sign("someone-else", body), body: body, want: ErrSignatureMismatch},
		{name: "body changed", header: good, body: append([]byte(" "), body...), want: ErrSignatureMismatch},
		{name: "re-encoded body", header: good, body: []byte(strings.ReplaceAll(string(body), `\u00e9`, "é")), want: ErrSignatureMismatch},
		{name: "empty body", header: Sign("new-secret", nil), body: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := v.Verify(tt.header, tt.body)
			if tt.want == nil && err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestVerifyConcurrent(t *testing.T) {
	v, _ := NewVerifier("s")
	body := []byte(`{"x":1}`)
	sig := Sign("s", body)
	done := make(chan error)
	for range 8 {
		go func() {
			var err error
			for range 200 {
				if err = v.Verify(sig, body); err != nil {
					break
				}
			}
			done <- err
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

func FuzzVerify(f *testing.F) {
	f.Add("sha256=00", []byte("{}"), false)
	f.Add("", []byte(nil), true)
	f.Add("sha256="+strings.Repeat("ab", 32), []byte(`{"object":"page"}`), true)
	f.Fuzz(func(t *testing.T, header string, body []byte, signIt bool) {
		v, err := NewVerifier("fuzz-secret", "other")
		if err != nil {
			t.Fatal(err)
		}
		if signIt {
			header = Sign("fuzz-secret", body)
		}
		err = v.Verify(header, body)
		want := signWithHMAC("fuzz-secret", body)
		valid := strings.EqualFold(strings.TrimSpace(header), want) || strings.EqualFold(strings.TrimSpace(header), signWithHMAC("other", body))
		if valid != (err == nil) {
			t.Fatalf("Verify(%q) = %v, valid %v", header, err, valid)
		}
		if err != nil && !errors.Is(err, ErrSignatureMissing) && !errors.Is(err, ErrSignatureMalformed) && !errors.Is(err, ErrSignatureMismatch) {
			t.Fatalf("unexpected error kind %v", err)
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	for _, size := range []int{512, 4 << 10, 64 << 10} {
		body := []byte(strings.Repeat("a", size))
		v, _ := NewVerifier("secret")
		sig := Sign("secret", body)
		b.Run(sizeName(size), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if err := v.Verify(sig, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func sizeName(n int) string {
	if n >= 1<<10 {
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}
