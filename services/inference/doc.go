// Package inference is the inference role (`corral inference`, and inside
// `corral serve`): it owns the model Corral serves and runs the engine over
// it, behind two APIs.
//
//   - The NATS service "inference" (nats.go micro, queue group "inference",
//     so replicas share the work) with the endpoints generate, warm, count,
//     models and stats. generate streams GenerateEvents to the request's reply
//     subject under credit-based flow control and cancels the sequence of a
//     client that went away; docs/inference-protocol.md is the protocol, and
//     services/internal/inferclient its Go client.
//   - The OpenAI-compatible HTTP API on the main listener:
//     POST /v1/chat/completions, POST /v1/completions (both also as
//     server-sent events), GET /v1/models, with OpenAI's error objects and
//     an optional bearer key (CORRAL_API_KEY).
//
// GET /models reports the served model for operators.
//
// The model (CORRAL_MODEL) is validated fully at start (Inspect), so a file
// that cannot be served stops the process with a clear message; with none
// configured the role writes Corral's demo model into the data folder and
// says in its log that its replies are not meaningful.
//
// Both APIs map the engine's errors to the same stable codes
// (corralv1.ErrorCode): invalid request, model not found, prompt too long,
// overloaded (HTTP 429 with Retry-After), unavailable, internal. Metrics:
// corral_inference_requests and corral_inference_request_duration by api,
// endpoint and outcome; corral_inference_streams, _flow_waits,
// _clients_gone and _engine_running; the engine adds its own
// (corral_engine_*).
package inference
