// Package inferclient is the Go client of the NATS service "inference"
// (services/inference), for the roles that generate text: chat and the
// studio preview. docs/inference-protocol.md is the protocol it speaks.
//
//	c, err := inferclient.New(nc, inferclient.Options{})
//	s, err := c.Generate(ctx, &corralv1.GenerateRequest{...})
//	if inferclient.Retryable(err) { /* retry after inferclient.RetryAfter(err, time.Second) */ }
//	defer s.Close()
//	for {
//		ev, err := s.Recv()
//		if err == io.EOF { break }
//		// use ev.Text; the last event has ev.FinishReason, ev.Usage; err
//		// is an *Error when it failed (errors.Is(err, ErrSuperseded) ...)
//	}
//
// Flow control is the client's side of the protocol: events the service
// sent as requests are acknowledged when Recv hands them over, so the
// service never has more than Options.Window events unread, and the
// engine merges what a slow reader has not taken into fewer, larger
// events. Probes are answered as they arrive, whatever the reader does. A
// stream whose context ends, or that is closed, tells the service to
// cancel at once; one whose service goes silent for StallTimeout ends with
// ErrStalled.
package inferclient
