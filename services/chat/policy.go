package chat

import (
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/corral-ai/corral/inference/safety"
	"github.com/corral-ai/corral/persona"
)

// policy is what a persona version's messages are checked against.
type policy struct {
	p       *safety.Policy
	refusal string
}

// policies caches each persona version's policy: versions never change.
type policies struct {
	mu    sync.Mutex
	cache map[string]policy
}

// maxPolicies bounds the cache; it is emptied when full.
const maxPolicies = 4096

// forVersion returns v's policy: its safety settings tighten the
// baseline, and its refusal message replaces what is refused.
func (ps *policies) forVersion(v persona.Version) (policy, error) {
	key := v.PersonaID + "@" + strconv.FormatUint(uint64(v.Number), 10)
	ps.mu.Lock()
	pol, ok := ps.cache[key]
	ps.mu.Unlock()
	if ok {
		return pol, nil
	}
	ss := v.Spec.Safety.SafetySettings()
	p, err := safety.Baseline().Tighten(safety.SettingsFromProto(ss))
	if err != nil {
		return policy{}, fmt.Errorf("persona %s version %d safety settings: %w", v.PersonaID, v.Number, err)
	}
	pol = policy{p: &p, refusal: safety.DefaultRefusal}
	if r := strings.TrimSpace(ss.GetRefusalMessage()); r != "" {
		pol.refusal = r
	}
	ps.mu.Lock()
	if len(ps.cache) >= maxPolicies {
		clear(ps.cache)
	}
	ps.cache[key] = pol
	ps.mu.Unlock()
	return pol, nil
}
