// Package natsbus is Corral's JetStream plumbing: it creates the chat
// streams, publishes protobuf messages with dedupe ids and trace context, and
// runs durable pull consumers that retry, back off and dead-letter.
//
// Streams (EnsureStreams) — names and subjects come from package corralv1:
//
//	CHAT_IN   chat.in.>   limits retention, file storage, max age 24h, discard new
//	CHAT_OUT  chat.out.>  limits retention, file storage, max age 24h, discard new
//	CHAT_DLQ  chat.dlq.>  limits retention, file storage, max age 14 days, discard old
//
// Why these choices:
//   - Limits retention (not work-queue): a stream can have several durable
//     consumers (the chat workers, an auditor, a test) with overlapping
//     filters, messages survive while no consumer exists yet, and each
//     consumer tracks its own progress through acks.
//   - 24 hours: WhatsApp and Messenger only accept free-form replies within 24
//     hours of the user's message, so older chat events are useless.
//   - Discard new on the chat streams: when a stream is full, publishing fails
//     and the gateway answers Meta with an error, so Meta retries later rather
//     than the stream silently dropping unanswered messages. The DLQ keeps the
//     newest poison messages instead.
//   - A duplicate window (default 10 minutes, at least 2) drops a second
//     publish with the same Nats-Msg-Id, the first line of defence against
//     webhook retries; longer-lived dedupe is the gateway's job (Redis).
//   - Only stream fields nats-server 2.9 understands are set.
//
// Message flow for a consumer (Consume): each delivery gets a consumer span
// whose parent is the producer span carried in the message headers; the
// handler's error decides what happens next:
//
//	nil                         ack
//	error, attempts left        nak with a back-off delay (ConsumerConfig.Backoff)
//	RetryAfter(error, d)        nak with delay d (the handler's own back-off)
//	error on the last attempt   copy to the DLQ with Corral-Dlq-* headers, then term
//	Permanent(error)            copy to the DLQ at once, then term
//
// A message whose handler never answers (a worker crashed or hung) is
// redelivered after AckWait by the server; once it has been delivered more
// than MaxDeliver times it goes to the DLQ without calling the handler again.
// While a handler runs, natsbus sends in-progress acks so that long work is
// not redelivered.
//
// Publishing: Publish and PublishMsg wait for one acknowledgement through
// jetstream; BatchPublisher (the webhook gateway's) publishes many
// messages from many callers with less work per message and no goroutine
// of its own.
//
// Shutdown: cancel the context given to Consume; it stops fetching, hands
// messages not yet started back to the server (nak), waits for running
// handlers, and returns. Then Drain the connection.
package natsbus
