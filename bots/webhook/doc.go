// Package webhook holds what WhatsApp and Messenger webhooks share: the
// X-Hub-Signature-256 check over the raw body, the GET verification handshake,
// and the Result a platform parser (bots/whatsapp, bots/messenger) turns one
// delivery into.
//
// A gateway handles a delivery in this order: read the raw body (capped),
// Verifier.Verify it against the header, then the platform's Parse. Parse
// fails only when the body is not a webhook at all (ErrNotWebhook, which the
// gateway sends to the dead-letter stream); everything it can read is sorted
// into the Result's lists, and every item it skipped is a Warning to log.
package webhook
