package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"
	"sync"
)

// SignatureHeader is the header Meta signs every webhook POST with:
// "sha256=" and the lowercase hex HMAC-SHA256 of the raw body keyed with the
// app secret.
const SignatureHeader = "X-Hub-Signature-256"

const signaturePrefix = "sha256="

// Signature errors. Verify wraps one of them; all mean "reject with 401".
var (
	// ErrNoSecret means a Verifier was built without any app secret.
	ErrNoSecret = errors.New("no app secret configured")
	// ErrSignatureMissing means the request had no X-Hub-Signature-256 header.
	ErrSignatureMissing = errors.New("signature header missing")
	// ErrSignatureMalformed means the header was not "sha256=" and 64 hex digits.
	ErrSignatureMalformed = errors.New("signature header malformed")
	// ErrSignatureMismatch means the signature matched none of the app secrets.
	ErrSignatureMismatch = errors.New("signature does not match")
)

// Verifier checks webhook signatures against one or more app secrets: during
// a secret rotation both the old and the new secret are configured, and
// deliveries of several Meta apps may share one endpoint. It is safe for
// concurrent use.
type Verifier struct {
	keys []*macPool
}

// macPool reuses keyed HMAC states: building one hashes the key pads, which
// costs as much as a short body.
type macPool struct{ pool sync.Pool }

func newMACPool(secret []byte) *macPool {
	key := append([]byte(nil), secret...)
	return &macPool{pool: sync.Pool{New: func() any { return hmac.New(sha256.New, key) }}}
}

func (p *macPool) sum(body []byte, out []byte) []byte {
	h := p.pool.Get().(hash.Hash)
	h.Reset()
	h.Write(body)
	out = h.Sum(out)
	p.pool.Put(h)
	return out
}

// NewVerifier returns a Verifier accepting a signature made with any of
// secrets. Empty secrets are refused: an empty key would accept forgeries made
// by anyone who guesses the configuration is missing.
func NewVerifier(secrets ...string) (*Verifier, error) {
	if len(secrets) == 0 {
		return nil, ErrNoSecret
	}
	v := &Verifier{}
	for i, s := range secrets {
		if s == "" {
			return nil, fmt.Errorf("app secret %d: %w", i+1, ErrNoSecret)
		}
		v.keys = append(v.keys, newMACPool([]byte(s)))
	}
	return v, nil
}

// Verify checks header (the X-Hub-Signature-256 value, "sha256=<hex>")
// against body, the exact bytes received. It returns nil when any configured
// secret produced the signature, else an error wrapping ErrSignatureMissing,
// ErrSignatureMalformed or ErrSignatureMismatch. The comparison is constant
// time and every secret is tried, so timing tells nothing about which one
// matched or how many bytes did.
func (v *Verifier) Verify(header string, body []byte) error {
	if header == "" {
		return ErrSignatureMissing
	}
	var want [sha256.Size]byte
	if err := decodeSignature(header, want[:]); err != nil {
		return err
	}
	var buf [sha256.Size]byte
	ok := 0
	for _, k := range v.keys {
		ok |= hmacEqual(k.sum(body, buf[:0]), want[:])
	}
	if ok == 0 {
		return ErrSignatureMismatch
	}
	return nil
}

func hmacEqual(a, b []byte) int {
	if hmac.Equal(a, b) {
		return 1
	}
	return 0
}

// decodeSignature parses "sha256=<64 hex>" into out. Upper-case hex is
// accepted: the value is the same MAC.
func decodeSignature(header string, out []byte) error {
	header = strings.TrimSpace(header)
	prefix, digest, ok := strings.Cut(header, "=")
	if !ok || !strings.EqualFold(prefix, "sha256") {
		return fmt.Errorf("%w: want %q prefix", ErrSignatureMalformed, signaturePrefix)
	}
	if len(digest) != hex.EncodedLen(sha256.Size) {
		return fmt.Errorf("%w: %d hex digits, want %d", ErrSignatureMalformed, len(digest), hex.EncodedLen(sha256.Size))
	}
	if _, err := hex.Decode(out, []byte(digest)); err != nil {
		return fmt.Errorf("%w: not hex", ErrSignatureMalformed)
	}
	return nil
}

// Sign returns the X-Hub-Signature-256 value Meta would send for body signed
// with secret. Tests and the load generator sign their webhooks with it.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return signaturePrefix + hex.EncodeToString(m.Sum(nil))
}
