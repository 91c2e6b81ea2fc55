package telemetry

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// TestLabelsCountsPerCombination checks that cached options keep the
// combinations apart: each series counts only its own measurements.
func TestLabelsCountsPerCombination(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	c, err := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)).Meter("t").Int64Counter("c")
	if err != nil {
		t.Fatal(err)
	}
	var l Labels
	ctx := context.Background()
	adds := []struct {
		platform, outcome string
		n                 int64
	}{{"whatsapp", "accepted", 1}, {"whatsapp", "accepted", 2}, {"messenger", "accepted", 5}, {"whatsapp", "unauthorized", 7}}
	for _, a := range adds {
		c.Add(ctx, a.n, l.Option(attribute.String("platform", a.platform), attribute.String("outcome", a.outcome)))
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, dp := range rm.ScopeMetrics[0].Metrics[0].Data.(metricdata.Sum[int64]).DataPoints {
		p, _ := dp.Attributes.Value("platform")
		o, _ := dp.Attributes.Value("outcome")
		got[p.AsString()+"/"+o.AsString()] = dp.Value
	}
	want := map[string]int64{"whatsapp/accepted": 3, "messenger/accepted": 5, "whatsapp/unauthorized": 7}
	if len(got) != len(want) {
		t.Fatalf("series %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("series %v, want %v", got, want)
		}
	}
}
