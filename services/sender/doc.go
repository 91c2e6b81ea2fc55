// Package sender is the sender role: it consumes the replies the chat role
// publishes to JetStream CHAT_OUT and sends them through the WhatsApp Cloud
// API and the Messenger Send API, exactly once per piece as far as Meta's API
// allows, in order per conversation, without letting one slow conversation
// hold up the others.
//
// # A reply
//
// For each OutboundMessage without an action (see corralv1.OutboundMessage
// for the publisher's rules):
//
//  1. The conversation is taken in Redis for this message (its CHAT_OUT
//     sequence). When an earlier reply of the same conversation holds it
//     (being sent, or waiting for a retry), this one is handed back to
//     JetStream to come back later (natsbus.RetryAfter), so replies of one
//     conversation go out in order across all sender replicas, and the
//     worker moves on to other conversations meanwhile.
//  2. The reply is planned: every part is split at the platform's limit
//     (bots/split, limits from bots/graph: 4096 characters on WhatsApp, 2000
//     on Messenger, 1024 for a WhatsApp message with buttons) into pieces
//     keyed "<part>.<piece>", and every part and piece passes the safety
//     stage (inference/safety, the persona version's settings tightening
//     the baseline). The first refused one is replaced by the persona's
//     refusal message (or safety.DefaultRefusal) and ends the reply. A
//     part's quick replies go on its last piece (WhatsApp: up to 3 reply
//     buttons; Messenger: up to 13 quick replies).
//  3. The channel's access token comes from the persona store (sealed with
//     CORRAL_SECRET_KEY), else CORRAL_ACCESS_TOKEN.
//  4. The pieces not yet recorded as sent go out in order; WhatsApp quotes
//     in_reply_to on the first piece, Messenger sends RESPONSE messages whose
//     metadata ("corral:<reply id>:<piece>") lets the gateway drop their
//     echoes. After each accepted call the piece is recorded in Redis, so a
//     redelivered reply (a crashed sender, a retry) never sends a recorded
//     piece again. The window between Meta accepting a call and the record
//     being written (and a call that timed out but was delivered) is the
//     one place a piece can go out twice; Meta's API offers no idempotency
//     key to close it.
//  5. A failure is classified by bots/graph: rate limits, 5xx, timeouts and
//     network errors are tried again after an exponential back-off with
//     jitter (CORRAL_SENDER_RETRY_MIN..MAX), or Meta's Retry-After when it
//     is longer, while the conversation stays held; permanent errors
//     (outside the 24-hour window, user unavailable, bad token, permissions,
//     invalid request) are never retried: they are counted, logged and the
//     reply goes to the DLQ with the Graph error (code, subcode, fbtrace id)
//     in its Corral-Dlq-Error header. After CORRAL_SENDER_MAX_ATTEMPTS failed
//     tries the reply goes to the DLQ too.
//
// # Actions
//
// An OutboundMessage with an action (TYPING, MARK_READ, TYPING_OFF) and no
// parts is carried out once, best effort: WhatsApp gets one read receipt of
// in_reply_to (with a typing indicator for TYPING), Messenger mark_seen and
// typing_on (or typing_off). It is skipped when older than ActionMaxAge or
// when any piece of its reply_id was sent already, and a failed call is
// counted, never retried.
//
// # Redis keys
//
// Under the key prefix (default "corral:"):
//
//	sender:reply:<escaped reply id>   hash    "<part>.<piece>" -> platform message id; "attempts";
//	                                          expires ReplyTTL (48 h) after the last change
//	sender:conv:<conversation key>    string  CHAT_OUT sequence of the message holding the
//	                                          conversation; expires (2 min lease, or the retry's wait)
//
// # Metrics
//
//	corral_sender_replies{platform,outcome}         sent, duplicate, failed, gave_up, invalid, retry, held
//	corral_sender_parts{platform}                   platform messages sent
//	corral_sender_send_errors{platform,kind,code}   failed Send API calls by Graph code
//	corral_sender_retries{platform,kind}            tries scheduled again
//	corral_sender_dead_letters{platform,reason}     replies sent to the DLQ
//	corral_sender_actions{platform,action,outcome}  typing and read receipts
//	corral_sender_safety_replaced{platform}         pieces replaced by the refusal
//	corral_sender_send_duration{platform}           seconds per Send API call
//	corral_sender_e2e_latency{platform}             gateway received -> last piece sent
//	corral_sender_reply_latency{platform}           chat finished the reply -> last piece sent
package sender
