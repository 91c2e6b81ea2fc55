// Package loadgen is `corral loadgen`: the load harness that tells an
// operator how many conversations a deployment carries before its users
// notice, and whether any reply was lost or sent twice.
//
// # Deployment mode
//
// A Scenario (flags, a YAML file, or both) describes simulated users: how
// many, closed loop (each sends, waits for the whole reply, thinks, sends
// again) or open loop (Poisson arrivals at a rate, in ramp stages), how
// long, which platforms, what they say (a corpus; the built-in one is
// corpus.txt), how long a conversation lasts, which personas they ask for.
// The seed decides all of it, so a run can be repeated; a run id goes into
// every user and message id, so two runs never share a conversation or a
// dedupe key.
//
// Messages go to the gateway (--target) as signed webhooks in the shapes
// Meta delivers (X-Hub-Signature-256 over the body with --app-secret); a
// refused delivery is retried with back-off as Meta does, and --replay-rate
// delivers accepted webhooks again to prove deduplication. The deployment's
// sender is pointed at loadgen's own fake Graph API (--graph-listen, the
// bots/graphtest server with the scenario's latency, rate limits and error
// codes), and the Tracker matches every Send API call to the message that
// caused it (see Tracker for how).
//
// # Measures
//
// Latencies go into log-bucketed histograms (HDR style, under 1% error):
// end to end (webhook sent → last reply part at the Graph API), first reply
// part, and the gateway's acknowledgement. In open loop they are measured
// from each message's intended send time, so a loop that falls behind
// counts the delay against the deployment instead of hiding it
// (coordinated omission); the uncorrected numbers are reported beside
// them. A reply is complete when no part came for --settle; a message with
// no part when the drain ends is lost, and a piece that arrives twice is a
// duplicate.
//
// # Engine mode
//
// With --engine URL it measures an OpenAI-compatible server instead:
// streaming chat completions at concurrency 1, 2, 4, ... N, reporting
// time to first token, time per output token and token throughput.
//
// # Output
//
// A live progress line, a text summary, a JSON report (--out) and a
// self-contained HTML report with charts drawn by gonum/plot (--html).
// --slo objectives such as "p99<2s,lost=0,dup=0" make a missed run exit
// with status 3.
package loadgen
