// Package whatsapp is Corral's adapter for the WhatsApp Business Cloud API:
// Parse turns a webhook delivery into a webhook.Result (chat messages,
// statuses, business echoes, notices, warnings), and Client sends replies,
// quick-reply buttons and read receipts with typing indicators through the
// Graph API.
//
// Signature checks and the verification handshake are the same for every
// Meta platform and live in bots/webhook; Graph API errors, limits and the
// HTTP transport in bots/graph.
package whatsapp
