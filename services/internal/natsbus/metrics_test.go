package natsbus_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
	"github.com/corral-ai/corral/services/internal/natsbus"
)

var (
	readerOnce sync.Once
	reader     *sdkmetric.ManualReader
)

// meterReader installs, once per test binary, a meter provider whose
// readings the tests can collect.
func meterReader() *sdkmetric.ManualReader {
	readerOnce.Do(func() {
		reader = sdkmetric.NewManualReader()
		otel.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))
	})
	return reader
}

// counterValue sums the data points of an Int64 counter whose attributes
// include every one of want.
func counterValue(t *testing.T, name string, want ...attribute.KeyValue) int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := meterReader().Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			sum, ok := m.Data.(metricdata.Sum[int64])
			if !ok {
				t.Fatalf("%s is %T, want an int64 sum", name, m.Data)
			}
		dp:
			for _, p := range sum.DataPoints {
				for _, kv := range want {
					if v, ok := p.Attributes.Value(kv.Key); !ok || v != kv.Value {
						continue dp
					}
				}
				total += p.Value
			}
		}
	}
	return total
}

func TestMetricsCountPublishOutcomes(t *testing.T) {
	meterReader()
	js, cfg := setup(t)
	stream := attribute.String("stream", cfg.StreamName(corralv1.StreamChatIn))
	okBefore := counterValue(t, "corral_bus_published", stream, attribute.String("outcome", "ok"))
	dupBefore := counterValue(t, "corral_bus_published", stream, attribute.String("outcome", "duplicate"))

	m := chatMessage("9", "wamid.metrics")
	subject := cfg.Subject(corralv1.ChatInSubject(m.Conversation()))
	for range 3 {
		if _, err := natsbus.Publish(t.Context(), js, subject, m.DedupeID(), m); err != nil {
			t.Fatal(err)
		}
	}
	if got := counterValue(t, "corral_bus_published", stream, attribute.String("outcome", "ok")) - okBefore; got != 1 {
		t.Errorf("ok publishes counted %d, want 1", got)
	}
	if got := counterValue(t, "corral_bus_published", stream, attribute.String("outcome", "duplicate")) - dupBefore; got != 2 {
		t.Errorf("duplicate publishes counted %d, want 2", got)
	}
	if _, err := natsbus.Publish(t.Context(), js, "no.stream.listens.here", "", m); err == nil {
		t.Fatal("publish to a subject without a stream succeeded")
	} else if errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if got := counterValue(t, "corral_bus_published", attribute.String("outcome", "error")); got < 1 {
		t.Errorf("failed publish not counted")
	}
}
