// Package messenger is Corral's adapter for the Messenger Platform (a
// Facebook Page): Parse turns a webhook delivery into a webhook.Result (chat
// messages, receipts, echoes and handovers, notices, warnings), and Client
// sends replies with quick replies and sender actions (mark seen, typing)
// through the Send API.
//
// Signature checks and the verification handshake are the same for every
// Meta platform and live in bots/webhook; Graph API errors, limits and the
// HTTP transport in bots/graph.
package messenger
