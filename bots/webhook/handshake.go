package webhook

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
)

// Handshake errors, returned by CheckHandshake.
var (
	// ErrHandshakeParams means hub.mode, hub.verify_token or hub.challenge
	// was missing (HTTP 400).
	ErrHandshakeParams = errors.New("verification request is missing hub.* parameters")
	// ErrHandshakeMode means hub.mode was not "subscribe" (HTTP 403).
	ErrHandshakeMode = errors.New("verification request mode is not subscribe")
	// ErrHandshakeToken means hub.verify_token did not match ours (HTTP 403).
	ErrHandshakeToken = errors.New("verification token does not match")
)

// maxChallenge caps the echoed challenge; Meta sends a short number.
const maxChallenge = 1024

// CheckHandshake checks the query of Meta's GET verification request against
// verifyToken (our own secret string, typed into the App Dashboard) and
// returns hub.challenge, which must be echoed back as the plain-text body.
// The token comparison is constant time. An empty verifyToken never matches.
func CheckHandshake(query url.Values, verifyToken string) (challenge string, err error) {
	mode, token, challenge := query.Get("hub.mode"), query.Get("hub.verify_token"), query.Get("hub.challenge")
	if mode == "" || token == "" || challenge == "" {
		return "", ErrHandshakeParams
	}
	if len(challenge) > maxChallenge {
		return "", fmt.Errorf("%w: hub.challenge longer than %d bytes", ErrHandshakeParams, maxChallenge)
	}
	if mode != "subscribe" {
		return "", fmt.Errorf("%w: %q", ErrHandshakeMode, mode)
	}
	if verifyToken == "" || subtle.ConstantTimeCompare([]byte(token), []byte(verifyToken)) != 1 {
		return "", ErrHandshakeToken
	}
	return challenge, nil
}

// HandshakeStatus is the HTTP status for an error of CheckHandshake: 200 for
// nil, 400 for missing parameters, 403 otherwise.
func HandshakeStatus(err error) int {
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, ErrHandshakeParams):
		return http.StatusBadRequest
	default:
		return http.StatusForbidden
	}
}

// Handshake answers a GET verification request on w: 200 with the challenge
// as text/plain, or 400/403 with a short reason. It returns the error of
// CheckHandshake so the caller can log and count failures. Use it from the
// GET branch of a webhook handler, or wrap it with HandshakeHandler.
func Handshake(w http.ResponseWriter, r *http.Request, verifyToken string) error {
	challenge, err := CheckHandshake(r.URL.Query(), verifyToken)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	if err != nil {
		w.WriteHeader(HandshakeStatus(err))
		_, _ = fmt.Fprintln(w, http.StatusText(HandshakeStatus(err)))
		return err
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(challenge))
	return nil
}

// HandshakeHandler returns a handler that answers verification requests with
// Handshake and refuses methods other than GET with 405. onError, if not nil,
// is told about every failed verification.
func HandshakeHandler(verifyToken string, onError func(*http.Request, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if err := Handshake(w, r, verifyToken); err != nil && onError != nil {
			onError(r, err)
		}
	})
}
