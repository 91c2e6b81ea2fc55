// Package store keeps Corral's personas in Redis, with the creators who
// own them, the channels they answer on, users' picks of a persona and
// conversation histories. Callers see only the persona package's types and
// this package's; go-redis stays inside.
//
// Open connects to Redis itself; New builds a Store on a client the caller
// already holds (a role's shared client) and leaves closing it to the caller.
//
// # Consistency
//
// Every change is a WATCH/MULTI transaction, so it works alike on Redis 7
// and on the embedded miniredis-based server. Edits carry the revision they
// were based on: an edit based on an older revision fails with ErrConflict
// instead of overwriting. Handles are unique ignoring case; claiming one is
// part of the same transaction. Only a persona's owner (an active creator)
// may change, publish, roll back or delete it.
//
// # Versions, references and deletion
//
// Publishing copies the draft into version N+1, written once and never
// changed; Rollback republishes an old version's content as version N+1.
// Chats record every reply with Use, which counts usage per version and
// adds a reference (conversation, version) that lives Config.ReferenceTTL.
// Delete frees the handle and hides the persona at once, but keeps its
// versions readable until the newest reference expires (Redis expiry), so
// conversations that were using it can still read it.
//
// # Caching
//
// Cache is the read path of chat processes. Every committed change is
// announced as a corralv1.PersonaEvent on corralv1.SubjectPersonaUpdated
// (NATSNotifier); caches drop what it touched, and expire entries after a
// TTL in case an event is lost.
//
// # Redis keys
//
// Every key starts with Config.Prefix (default "corral:"). Ids the store
// makes are "p_", "c_", "t_" plus 26 characters of [a-z2-7]; ids that come
// from platforms are escaped with corralv1.EscapeToken.
//
//	persona:<id>                  string  JSON persona: owner, handle, visibility, draft,
//	                                      revision, newest version; deleted_at while kept
//	persona:<id>:v:<n>            string  JSON published version n (immutable)
//	persona:<id>:usage            hash    v<n>.replies, v<n>.conversations, v<n>.prompt_tokens,
//	                                      v<n>.cached_prompt_tokens counters
//	persona:<id>:refs             zset    "<n>:<conversation hash>" scored by expiry (unix ms)
//	handle:<lower-case handle>    string  persona id
//	directory                     zset    lower-case handles of public published personas, score 0
//	                                      (read in lexical order)
//	creators                      zset    creator ids scored by creation (unix ms)
//	creator:<id>                  string  JSON creator: name, created, revoked
//	creator:<id>:personas         zset    persona ids scored by creation (unix ms)
//	creator:<id>:tokens           set     token ids
//	token:<token id>              string  JSON: creator id, SHA-256 of the secret, created
//	channels                      set     "<platform>.<escaped channel id>"
//	channel:<platform>.<esc id>   string  JSON channel: name, owner, sealed access token
//	                                      (AES-256-GCM), bound persona id
//	choice:<conversation key>     string  persona id the user picked; expires after ChoiceTTL
//	history:<conversation key>    list    JSON messages, oldest first; trimmed to
//	                                      HistoryLimit, expires HistoryTTL after the last append
//
// <conversation key> is corralv1.Conversation.Key(): platform, channel and
// user, escaped. The conversation hash in refs is a truncated SHA-256 of it,
// so persona keys hold no user ids.
package store
