// Package corralv1 holds Corral's contracts: the protobuf messages that cross
// a process boundary (ChatMessage, OutboundMessage, GenerateRequest and
// GenerateEvent, Persona, SafetyVerdict...) and, in subjects.go, the NATS
// stream, subject and service names they travel on.
//
// The *.pb.go files are generated from the *.proto files beside them by the
// protoc-gen-go pinned in go.mod; regenerate with `go tool buf generate` from
// the repository root (`task proto`). The tests fail when the generated code
// is stale. Everything else here (subjects.go, hazard.go) is hand-written.
package corralv1
