// Package gateway is the gateway role: the HTTP endpoints Meta delivers
// WhatsApp and Messenger webhooks to, which turn each delivery into
// ChatMessages on JetStream CHAT_IN and answer Meta only once they are safe.
//
// Routes (on the process's one listener, CORRAL_HTTP_ADDR):
//
//	GET  /webhooks/whatsapp, /webhooks/messenger   verification handshake (CORRAL_VERIFY_TOKEN)
//	POST /webhooks/whatsapp, /webhooks/messenger   deliveries, signed with CORRAL_APP_SECRET
//
// A POST is answered with:
//
//	413  the body is over the limit (CORRAL_GATEWAY_MAX_BODY, 1 MiB)
//	401  the X-Hub-Signature-256 header is missing, malformed or matches no
//	     app secret (or none is configured); nothing is parsed or published
//	200  signed but not a webhook of the platform: the raw body went to the
//	     DLQ stream (corralv1.WebhookDLQSubject) with the reason in its
//	     Corral-Dlq-* headers, since Meta would retry a refusal forever
//	200  every chat message of the body was published to CHAT_IN and
//	     JetStream acknowledged every publish
//	503  NATS is disconnected or a publish failed or timed out
//	     (CORRAL_GATEWAY_PUBLISH_TIMEOUT): Meta retries, and what was
//	     already published is dropped as a duplicate by its Nats-Msg-Id
//	400  the body could not be read (the client went away)
//
// What a delivery becomes:
//   - each user message: one ChatMessage on ChatInSubject of its
//     conversation, Nats-Msg-Id = DedupeID (platform, channel, message id);
//   - what a person did from the business side (a message typed in the
//     WhatsApp Business app or the Page inbox, a Messenger handover): a
//     ChatMessage of kind BUSINESS_REPLY on the same conversation subject,
//     so the chat role sees it in order and pauses the bot. Echoes of
//     Corral's own Messenger sends (metadata "corral:...") are dropped;
//   - statuses (sent, delivered, read, failed...), reactions and notices:
//     counted in metrics, not published; parser warnings: logged (path and
//     reason, never user text) and counted.
//
// Every message of a body is handed to the NATS connection at once, each
// conversation's in the order the user sent them (one connection keeps
// that order on the way to the stream, so CHAT_IN keeps the
// conversation's order and the chat role can rely on stream sequences),
// and the answer waits for every acknowledgement together. Publishing goes
// through natsbus.BatchPublisher: core NATS publishes whose reply subjects
// are tokens under one inbox of the gateway's, the acknowledgements read
// from a channel subscription by the handlers waiting for them, with no
// goroutine of its own between nats.go's read loop and the handler.
//
// Each delivery gets a server span (continuing a traceparent the caller
// sent) with the platform message ids as attributes; every publish is a
// child producer span whose context travels in the NATS headers.
//
// Metrics (OpenTelemetry, exported on /metrics; counters gain _total):
//
//	corral_gateway_webhooks{platform,outcome}      deliveries by answer: accepted, unauthorized,
//	                                               too_large, bad_request, not_webhook, unavailable
//	corral_gateway_handshakes{platform,outcome}    ok, bad_request, forbidden
//	corral_gateway_messages{platform,kind,outcome} chat messages published or duplicate
//	corral_gateway_statuses{platform,state}        delivery receipts
//	corral_gateway_ignored{platform,reason}        reactions, notices by kind, own echoes
//	corral_gateway_warnings{platform}              items the parser skipped (unknown or malformed)
//	corral_gateway_dead_letters{platform}          bodies sent to the DLQ
//	corral_gateway_ack_duration{platform}          seconds from request to the 200 (all acks)
package gateway
