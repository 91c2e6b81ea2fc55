// Package engine runs generation requests over a loaded model: it owns the
// loop from a prompt to a finished reply, so every caller (the CLI, the
// NATS inference service, the OpenAI-compatible API, the studio preview)
// gets the same tokens, the same text and the same finish reasons.
//
// # Using it
//
// Load opens a GGUF file as a Bundle: the model, the tokenizer read from
// the same file and the chat template recognised in it (or named in
// LoadOptions). New starts an Engine over a bundle; Submit queues a
// Request; Close drains or cancels what is in flight. Close the engine
// before the bundle.
//
//	b, err := engine.Load(path, engine.LoadOptions{Threads: 4})
//	e, err := engine.New(b, engine.Options{})
//	s, err := e.Submit(ctx, engine.Request{
//		Input:    engine.Input{Chat: []engine.Turn{{Role: engine.User, Content: "hi"}}},
//		Sampling: sample.Options{Temperature: 0.8, TopP: 0.95, MaxTokens: 256},
//	})
//	for ev := range s.Events() {
//		// show ev.Text; on ev.Final() read ev.Finish, ev.Usage, ev.Timings
//	}
//
// A Request's Input is a conversation (rendered with the chat template,
// whose end-of-turn tokens then stop the reply), raw text, or token ids.
// Submit validates and tokenizes in the caller's goroutine and fails at once
// with a typed error (ErrInvalidRequest, ErrPromptTooLong, ErrOverloaded,
// ErrClosed); nothing is queued then.
//
// # The event contract
//
// An accepted request yields events on its Stream and ends with exactly one
// final event (Event.Final), which carries the FinishReason, Usage,
// Timings and the seed used. Before it, events carry Text (new text, always
// whole UTF-8 characters) and Tokens (new token ids). The engine never
// waits for a reader: what the reader has not taken yet is merged into its
// next event, so a slow reader gets fewer, larger events and cannot slow
// down other requests, and a reader that goes away costs only the memory
// of its reply. To stop a request, cancel its context, call Stream.Cancel,
// or leave the range loop over Stream.Events; the final event
// (FinishCancelled, with the cause in Err) follows within one step:
// cancellation is checked between prompt chunks, inside forward passes
// between layers, and between tokens.
//
// Why a generation finished is decided in one place, in this order after
// each token: a stop token (FinishStop; the vocabulary's end-of-generation
// tokens, the chat template's, Sampling.StopTokens), a stop string
// (FinishStopString; the text ends before it, and no event ever shows part
// of it), the output filter (FinishSafety), Sampling.MaxTokens
// (FinishLength), the end of the context (FinishContextLength), then
// cancellation (FinishCancelled). A failing forward pass ends it with
// FinishError.
//
// # The output filter
//
// A Request may carry an OutputFilter (the safety stage implements it). The
// engine then calls Screen with the whole reply so far each time it reaches
// a sentence end (terminal punctuation followed by whitespace, or a line
// break) and once more at the end, and releases text to the stream only up
// to the last sentence end the filter passed; token ids wait for the final
// event. When the filter blocks, generation stops and the final event has
// Finish FinishSafety and Retract set: the reader discards every Text and
// Tokens it got before, and shows the final event's Text instead (the
// request's SafeReply, the engine's Options.SafeReply, or
// DefaultSafeReply). Stream.Collect applies that rule. Screen runs on the
// engine's worker, never concurrently for one request, so it should be
// fast.
//
// # Scheduling
//
// One worker goroutine runs steps. Each step packs into one forward pass
// the next token of every running sequence, then chunks of prompts
// (already admitted ones first, then new admissions) up to
// Options.PrefillChunk tokens in all, so a long prompt never stalls
// everyone's decode. Waiting requests are admitted by Request.Priority
// (live before preview before batch) and in arrival order inside a class,
// up to Options.MaxRunning sequences, when the key/value cache can hold
// their prompt; a live request may preempt lower classes to get in.
// Submit refuses at once with ErrOverloaded past Options.QueueSize
// waiting requests or Options.QueueTokens waiting prompt tokens.
//
// Keys and values live in a paged cache (inference/kvcache) of
// Options.KVMemory bytes of Options.KVType elements. A new sequence reuses
// every cached full block of its prompt's prefix (Usage.CachedPromptTokens)
// and computes only the rest; Warm computes and pins a prefix ahead of
// time. When a step needs a block and none is free, the lowest-priority,
// newest sequence is preempted: its blocks go back (published ones stay
// cached) and it is recomputed later from its prompt and reply so far,
// with its sampler's state kept, so nothing is dropped and its tokens do
// not change. A cancelled sequence's blocks are freed at the next step.
//
// Seeded outputs are the same whatever else runs in the batch: the
// model's kernels are batch invariant, each sequence samples with its own
// sampler, and cached keys and values are bit-identical to recomputed
// ones. F32 elements reproduce the reference implementation bit for bit;
// F16 rounds each key and value once when stored.
package engine
