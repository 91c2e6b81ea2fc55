// Package chat is the chat role: it consumes the ChatMessages the gateway
// publishes to JetStream CHAT_IN, answers them in the voice of a persona
// through the inference service, and publishes the replies to CHAT_OUT for
// the sender.
//
// # Order, parallelism and supersession
//
// One durable consumer ("chat", shared by every replica) delivers CHAT_IN.
// Each conversation (platform, channel, user: its subject) has a lane in
// the process: its messages are answered one batch at a time, oldest
// first, while up to CORRAL_CHAT_WORKERS conversations are answered at
// once. A message that arrives while its conversation is being answered
// cancels that answer, generation included, as long as nothing was
// published yet; the next batch holds both messages and one reply answers
// them together (a batch is cancelled at most three times, so a user who
// keeps typing still gets an answer). Messages held in a lane are kept
// alive with in-progress acks; a process that dies stops sending them, and
// JetStream gives its messages to another process after
// CORRAL_CHAT_ACK_WAIT.
//
// Across replicas, a process holds a conversation in Redis while it
// answers it; a replica that receives a message of a conversation another
// one holds hands it back to JetStream until the hold ends, so two
// replicas never answer one conversation at the same time. Order across
// replicas rests on the CHAT_IN stream sequence, which follows the order
// the user wrote in (the gateway publishes a conversation's messages in
// that order): Redis keeps, per conversation, the sequence up to which
// every message is finished (answered or dead-lettered), and before a
// batch is answered the stream is asked for the conversation's messages
// after it. A batch behind an unfinished earlier message that another
// process has (perhaps still waiting there for a worker) waits, giving up
// its worker, until that message is finished; a batch with such a message
// between its own answers the part before it first. Only when the mark is
// lost (Redis) does a batch stop waiting, after twice
// CORRAL_CHAT_ACK_WAIT plus CORRAL_CHAT_GENERATE_TIMEOUT. A message
// dead-lettered on arrival (undecodable, delivered too often) counts as
// finished at once, even when an earlier one is still being answered.
//
// # Answering a batch
//
//  1. Messages whose platform message id was answered before (Redis, kept
//     CORRAL_CHAT_DEDUPE_TTL) are dropped: a webhook Meta retries after
//     JetStream's duplicate window, or a redelivery after a crash that
//     happened after the reply was published.
//  2. Business-side messages (a person answering from the Page inbox or
//     the WhatsApp Business app, a Messenger handover taking the thread)
//     pause the bot in the conversation for CORRAL_CHAT_PAUSE; what the
//     user writes meanwhile is kept in history and marked read. Thread
//     control passed back to Corral resumes it.
//  3. More than CORRAL_CHAT_RATE_LIMIT user messages in a minute get one
//     polite notice for that minute, and nothing else.
//  4. The persona is resolved (the user's /persona pick, else the
//     channel's binding, else the built-in default persona). Commands run
//     in order: /help, /reset (forget the history), /persona (list the
//     public personas), /persona @handle (switch). Texts pass the safety
//     stage as user input (refused ones get the persona's refusal);
//     media, locations and contacts without a caption get a note that the
//     bot reads text only.
//  5. For the texts, a typing indicator is published, the history is read
//     (CORRAL_CHAT_HISTORY messages), the prompt is assembled with the
//     persona's stable prefix and sent to the inference service as a
//     stream (conversation key set, so the engine drops a superseded
//     request too). The reply is screened at every sentence end and as a
//     whole; a refused reply becomes the persona's refusal.
//  6. The first reply of a conversation starts by saying the user talks
//     to an AI.
//  7. Past the commit point nothing cancels the answer: the reply and the
//     turn are written to the outbox under every message id of the batch,
//     the turn is stored (personal data masked) in the persona store's
//     history, the OutboundMessage is published (reply id and Nats-Msg-Id =
//     the dedupe id of the newest message answered), the message ids are
//     recorded as answered and their outbox entries dropped, and only then
//     are the messages acked. A handler given messages that have an outbox
//     entry (the process before it crashed or failed after step 7 began,
//     and a newer message may have joined the batch since) first finishes
//     that delivery: the turn is stored unless the history already ends
//     with it, the same reply is published again (JetStream and the sender
//     drop a copy of one that went out), the ids are recorded; then only
//     the other messages are answered.
//
// Failures of Redis, the inference service (overloaded, restarting, gone)
// or JetStream are tried again in the lane, keeping the order, after an
// exponential back-off (or the service's Retry-After), up to
// CORRAL_CHAT_MAX_ATTEMPTS; then, or at once for a request the service
// calls invalid, the batch's messages go to the DLQ.
//
// # Redis keys
//
// Under the key prefix (default "corral:"), besides the persona store's
// history and choice keys:
//
//	chat:seen:<dedupe id>                 answered platform message; expires CORRAL_CHAT_DEDUPE_TTL
//	chat:outbox:<dedupe id>               a reply decided for the message and not yet recorded as delivered
//	                                      (JSON: the ids it answers, the OutboundMessage, the turn); 24 hours
//	chat:pause:<conversation key>         the bot is paused; expires CORRAL_CHAT_PAUSE after the last human message
//	chat:rate:<conversation key>:<minute> messages in that minute; expires after 2 minutes
//	chat:notice:<conversation key>:<minute> the rate notice of that minute was sent
//	chat:disclosed:<conversation key>     the AI notice was given; expires after 7 days
//	chat:lane:<conversation key>          the process answering the conversation; expires 2×CORRAL_CHAT_ACK_WAIT
//	                                      after the last renewal
//	chat:order:<CHAT_IN subject>          sorted set, one member scored by the stream sequence up to which the
//	                                      conversation is finished; expires an hour after CHAT_IN's max age
//
// # Traces and metrics
//
// Each delivery gets a consumer span continuing the gateway's trace (with
// the platform message id); each batch a "chat.answer" span under the
// newest message's, linked to the others, around the inference client's
// span and the CHAT_OUT publish, whose context the sender continues.
//
//	corral_chat_messages{platform,outcome}     inbound messages by outcome
//	corral_chat_replies{platform,kind}         replies published: generated, command, notice, refusal, note
//	corral_chat_dedupes{platform}              messages dropped as answered before
//	corral_chat_superseded{platform}           answers cancelled by a newer message
//	corral_chat_errors{platform,stage}         failed tries by stage
//	corral_chat_reply_latency{platform}        gateway received -> reply published
//	corral_chat_generation_duration{platform}  one generation
//	corral_chat_first_token{platform}          generate request -> first text
//	corral_chat_active_conversations           conversations held by the process
package chat
