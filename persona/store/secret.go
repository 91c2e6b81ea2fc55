package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
)

// SecretKeySize is the size of the key that seals channel access tokens
// (AES-256).
const SecretKeySize = 32

// ParseSecretKey decodes a secret key as an operator writes it in an
// environment variable (the service reads CORRAL_SECRET_KEY): 64 hex
// digits, or standard or URL-safe base64 of 32 bytes. Generate one with
// `openssl rand -hex 32`.
func ParseSecretKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) == 2*SecretKeySize {
		if k, err := hex.DecodeString(s); err == nil {
			return k, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil && len(k) == SecretKeySize {
			return k, nil
		}
	}
	return nil, fmt.Errorf("secret key must be %d bytes as 64 hex digits or base64 (e.g. from `openssl rand -hex 32`): %w",
		SecretKeySize, ErrInvalidArgument)
}

// Secret is a credential, such as a channel's access token. Printing,
// logging or JSON-encoding it shows a mask; Reveal returns the value.
type Secret string

const mask = "[redacted]"

// Reveal returns the secret's value, for the one call that needs it.
func (s Secret) Reveal() string { return string(s) }

// String returns a mask, so the secret does not leak through %v or %s.
func (s Secret) String() string { return mask }

// GoString returns a mask, for %#v.
func (s Secret) GoString() string { return mask }

// Format writes a mask for every verb, %q and %x included.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(mask)) }

// LogValue returns a mask for log/slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(mask) }

// MarshalJSON writes a mask.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + mask + `"`), nil }

// MarshalText writes a mask, for encoders that use it.
func (s Secret) MarshalText() ([]byte, error) { return []byte(mask), nil }

var (
	_ fmt.Stringer   = Secret("")
	_ fmt.Formatter  = Secret("")
	_ slog.LogValuer = Secret("")
)

// sealer encrypts access tokens with AES-256-GCM. A sealed value is
// "v1:" + base64(nonce || ciphertext || tag); the channel it belongs to is
// the additional data, so a sealed token copied to another channel does
// not open.
type sealer struct{ aead cipher.AEAD }

const sealVersion = "v1:"

func newSealer(key []byte) (*sealer, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	return &sealer{aead: aead}, nil
}

func (s *sealer) seal(plain Secret, context string) string {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails
	out := s.aead.Seal(nonce, nonce, []byte(plain), []byte(context))
	return sealVersion + base64.RawStdEncoding.EncodeToString(out)
}

func (s *sealer) open(sealed, context string) (Secret, error) {
	body, ok := strings.CutPrefix(sealed, sealVersion)
	if !ok {
		return "", fmt.Errorf("unknown format: %w", ErrSealed)
	}
	raw, err := base64.RawStdEncoding.DecodeString(body)
	if err != nil || len(raw) < s.aead.NonceSize()+s.aead.Overhead() {
		return "", fmt.Errorf("damaged: %w", ErrSealed)
	}
	n := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, raw[:n], raw[n:], []byte(context))
	if err != nil {
		return "", ErrSealed
	}
	return Secret(plain), nil
}
