package graph

import (
	"encoding/json"
	"net/http"
	"time"
)

// Usage is what the rate-limit headers of a Graph answer say. Meta throttles
// at 100 percent; a sender slows down before that. Both headers are
// optional and their layout is read leniently: unknown keys are ignored.
type Usage struct {
	// AppPercent is the highest percentage in X-App-Usage (call count,
	// total time, CPU time); -1 when the header was absent.
	AppPercent int
	// BusinessPercent is the highest percentage over every business object
	// and type in X-Business-Use-Case-Usage; -1 when absent.
	BusinessPercent int
	// RegainAccess is the longest estimated_time_to_regain_access in
	// X-Business-Use-Case-Usage; 0 when not throttled.
	RegainAccess time.Duration
}

// Header names of the usage headers.
const (
	HeaderAppUsage        = "X-App-Usage"
	HeaderBusinessUseCase = "X-Business-Use-Case-Usage"
)

// ParseUsage reads the usage headers of h.
func ParseUsage(h http.Header) Usage {
	u := Usage{AppPercent: -1, BusinessPercent: -1}
	if v := h.Get(HeaderAppUsage); v != "" {
		var m map[string]json.Number
		if json.Unmarshal([]byte(v), &m) == nil {
			u.AppPercent = maxPercent(m, u.AppPercent)
		}
	}
	if v := h.Get(HeaderBusinessUseCase); v != "" {
		var objs map[string][]map[string]json.RawMessage
		if json.Unmarshal([]byte(v), &objs) == nil {
			for _, list := range objs {
				for _, item := range list {
					for k, raw := range item {
						var n json.Number
						if json.Unmarshal(raw, &n) != nil {
							continue
						}
						if k == "estimated_time_to_regain_access" {
							if f, err := n.Float64(); err == nil && f > 0 {
								u.RegainAccess = max(u.RegainAccess, time.Duration(f*float64(time.Minute)))
							}
							continue
						}
						u.BusinessPercent = maxPercent(map[string]json.Number{k: n}, u.BusinessPercent)
					}
				}
			}
		}
	}
	return u
}

func maxPercent(m map[string]json.Number, cur int) int {
	for _, n := range m {
		if f, err := n.Float64(); err == nil && int(f) > cur {
			cur = int(f)
		}
	}
	return cur
}
