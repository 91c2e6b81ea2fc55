package telemetry

import (
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// maxLabels is the most labels a Labels cache keys on.
const maxLabels = 3

// Labels caches the measurement option of each combination of label values
// of a hot metric: building an attribute set (copy, sort, hash) for every
// measurement costs more than the measurement. Only for labels whose values
// come from closed sets, since every combination stays cached. The zero
// value is ready to use.
type Labels struct {
	mu   sync.RWMutex
	opts map[[2 * maxLabels]string]metric.MeasurementOption
}

// Option returns the option of kvs (string values, at most three; more are
// not cached).
func (l *Labels) Option(kvs ...attribute.KeyValue) metric.MeasurementOption {
	if len(kvs) > maxLabels {
		return metric.WithAttributes(kvs...)
	}
	var key [2 * maxLabels]string
	for i, kv := range kvs {
		key[2*i], key[2*i+1] = string(kv.Key), kv.Value.String()
	}
	l.mu.RLock()
	opt, ok := l.opts[key]
	l.mu.RUnlock()
	if ok {
		return opt
	}
	opt = metric.WithAttributeSet(attribute.NewSet(kvs...))
	l.mu.Lock()
	if l.opts == nil {
		l.opts = map[[2 * maxLabels]string]metric.MeasurementOption{}
	}
	l.opts[key] = opt
	l.mu.Unlock()
	return opt
}
