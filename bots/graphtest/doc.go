// Package graphtest is a fake of Meta's Graph API Send endpoints for
// WhatsApp and Messenger, for integration tests and for `corral loadgen`,
// which runs it as its Send API at run time.
//
// Server accepts both platforms' calls on the real paths and shapes
// (POST /{version}/{phone-number-id}/messages, POST /{version}/me/messages
// and /{version}/{page-id}/messages), checks them as the real API does
// (token, recipient, text and quick-reply limits, messaging type...) and
// answers with the real success bodies or the real error envelope and codes.
// It records every call, so tests can assert that each reply was sent
// exactly once, and it can inject latency, rate limiting with the real codes
// and Retry-After, 5xx bursts, dropped connections and permanent errors, for
// a recipient or at a rate.
package graphtest
