package inferclient

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

func TestErrorCodes(t *testing.T) {
	for code, sentinel := range sentinels {
		t.Run(code.String(), func(t *testing.T) {
			err := fmt.Errorf("wrapped: %w", &Error{Code: code, Message: "m"})
			if !errors.Is(err, sentinel) {
				t.Fatalf("%v does not match %v", err, sentinel)
			}
			for other, s := range sentinels {
				if other != code && errors.Is(err, s) {
					t.Errorf("%v also matches %v", err, s)
				}
			}
			retry := code == corralv1.ErrorCode_ERROR_CODE_OVERLOADED || code == corralv1.ErrorCode_ERROR_CODE_UNAVAILABLE
			if Retryable(err) != retry {
				t.Errorf("Retryable(%v) = %v", err, !retry)
			}
		})
	}
	if !Retryable(ErrNoService) || !Retryable(fmt.Errorf("x: %w", ErrStalled)) || Retryable(ErrProtocol) || Retryable(nil) {
		t.Error("Retryable of the transport errors")
	}
	if d := RetryAfter(&Error{Code: corralv1.ErrorCode_ERROR_CODE_OVERLOADED, RetryAfter: 3 * time.Second}, time.Second); d != 3*time.Second {
		t.Errorf("RetryAfter with a hint = %v", d)
	}
	if d := RetryAfter(ErrNoService, time.Second); d != time.Second {
		t.Errorf("RetryAfter without a hint = %v", d)
	}
}

func TestHeaderError(t *testing.T) {
	tests := []struct {
		name   string
		header nats.Header
		want   *Error
	}{
		{"none", nats.Header{}, nil},
		{"overloaded with a hint", nats.Header{micro.ErrorCodeHeader: {"4"}, micro.ErrorHeader: {"full"}, corralv1.HeaderRetryAfter: {"1500"}},
			&Error{Code: corralv1.ErrorCode_ERROR_CODE_OVERLOADED, Message: "full", RetryAfter: 1500 * time.Millisecond}},
		{"bad hint", nats.Header{micro.ErrorCodeHeader: {"4"}, corralv1.HeaderRetryAfter: {"soon"}}, &Error{Code: corralv1.ErrorCode_ERROR_CODE_OVERLOADED}},
		{"code not a number", nats.Header{micro.ErrorCodeHeader: {"E42"}, micro.ErrorHeader: {"x"}}, &Error{Code: corralv1.ErrorCode_ERROR_CODE_INTERNAL, Message: "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := headerError(&nats.Msg{Header: tt.header})
			if (got == nil) != (tt.want == nil) || got != nil && *got != *tt.want {
				t.Fatalf("headerError = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestEventError(t *testing.T) {
	tests := []struct {
		name string
		ev   *corralv1.GenerateEvent
		want error
	}{
		{"running", &corralv1.GenerateEvent{}, nil},
		{"stop", &corralv1.GenerateEvent{FinishReason: corralv1.FinishReason_FINISH_REASON_STOP}, nil},
		{"length", &corralv1.GenerateEvent{FinishReason: corralv1.FinishReason_FINISH_REASON_LENGTH}, nil},
		{"error", &corralv1.GenerateEvent{FinishReason: corralv1.FinishReason_FINISH_REASON_ERROR,
			Error: &corralv1.GenerateError{Code: corralv1.ErrorCode_ERROR_CODE_UNAVAILABLE}}, ErrUnavailable},
		{"error without a code", &corralv1.GenerateEvent{FinishReason: corralv1.FinishReason_FINISH_REASON_ERROR}, ErrInternal},
		{"superseded", &corralv1.GenerateEvent{FinishReason: corralv1.FinishReason_FINISH_REASON_CANCELLED,
			Error: &corralv1.GenerateError{Code: corralv1.ErrorCode_ERROR_CODE_SUPERSEDED}}, ErrSuperseded},
		{"cancelled", &corralv1.GenerateEvent{FinishReason: corralv1.FinishReason_FINISH_REASON_CANCELLED}, ErrCancelled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := eventError(tt.ev)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("eventError = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestNew(t *testing.T) {
	if _, err := New(nil, Options{}); err == nil {
		t.Error("New without a connection")
	}
	nc := &nats.Conn{}
	if _, err := New(nc, Options{Namespace: "a.b"}); err == nil {
		t.Error("New with a namespace holding a dot")
	}
	c, err := New(nc, Options{Namespace: "t1", Window: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if c.generate != "t1."+corralv1.SubjectInferenceGenerate || c.o.Window != corralv1.InferenceMaxWindow ||
		c.o.StallTimeout != DefaultStallTimeout || c.o.RequestTimeout != DefaultRequestTimeout {
		t.Errorf("client %+v", c)
	}
}
