// Package studio is the studio role (`corral studio`, and inside `corral
// serve`): where creators build personas in a browser.
//
// Routes (on the process's one listener):
//
//	GET /studio          the studio page (static files embedded from static/)
//	GET /studio/<file>   its script and style sheet
//	GET /studio/ws       the websocket of the studio protocol
//
// The protocol (docs/studio-protocol.md) is JSON text frames: every request
// has an id and an op and gets one answer, a result or a typed error
// (validation errors name each field); a preview also streams "delta"
// events with its id before its answer, and changes to a creator's
// personas are pushed to every connection of that creator (they arrive on
// NATS persona.updated, so a change made through any process shows).
//
// A connection must sign in with a creator token (auth) within 30s. Its
// frames are at most CORRAL_STUDIO_MAX_FRAME bytes (a larger one closes it
// with 1009), its requests limited per second (CORRAL_STUDIO_RATE, _BURST;
// more are answered rate_limited), its Origin must be the studio's own or
// one of CORRAL_STUDIO_ORIGINS. Every frame to the browser goes through a
// bounded queue (CORRAL_STUDIO_SEND_QUEUE) that one writer goroutine
// drains; a browser that lets it fill, or takes longer than
// CORRAL_STUDIO_WRITE_TIMEOUT over one frame, is dropped (1008), so it never
// holds up the engine or anyone else. Pings go every
// CORRAL_STUDIO_PING_INTERVAL; a connection silent for two is closed.
//
// Previews run the draft at the engine's studio-preview priority
// (PRIORITY_PREVIEW) through services/internal/inferclient; cancelling one,
// or closing its connection, cancels its engine sequence at once.
//
// Publishing passes a gate first: the draft's instructions, greeting and
// examples go through the safety stage (inference/safety) under the
// persona's own strictness, then a short scripted conversation (gateScript)
// is held with the draft, greedy, and each reply must pass too. What is
// refused comes back as fields with reasons. The draft published is the
// one the gate saw: an edit in between is a conflict. After publishing (or
// rolling back) the studio asks the inference service to warm the new
// version's prefix; a service that cannot (UNSUPPORTED) is logged, and the
// version is live either way.
//
// Metrics (OpenTelemetry, on /metrics; counters gain _total):
//
//	corral_studio_connections                open websockets
//	corral_studio_requests{op,outcome}       requests by op and outcome (ok or error code)
//	corral_studio_request_duration{op}       seconds to answer
//	corral_studio_disconnects{reason}        client, slow, write_timeout, ping_timeout, too_big, auth_timeout, shutdown, ...
//	corral_studio_refused_upgrades           upgrades refused for their Origin
//	corral_studio_previews{outcome}          finished, cancelled, failed
//	corral_studio_preview_first_token        seconds to a preview's first text
//	corral_studio_publish_gate{outcome}      passed, refused, unavailable
//	corral_studio_warms{outcome}             warmed, unsupported, failed
//	corral_studio_changes_dropped            pushes lost to a burst of changes
package studio
