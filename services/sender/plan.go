package sender

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/corral-ai/corral/bots/graph"
	"github.com/corral-ai/corral/bots/split"
	"github.com/corral-ai/corral/inference/safety"
	"github.com/corral-ai/corral/persona/store"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

// piece is one platform message of a reply.
type piece struct {
	// key names the piece in the reply's record: "<part>.<piece>", the
	// same on every redelivery, since splitting and checking are
	// deterministic.
	key     string
	text    string
	quick   []*corralv1.QuickReply // only on a part's last piece
	preview bool
	// refusal is set when the safety stage refused what stood here.
	refusal bool
}

// policy is what a reply's pieces are checked against.
type policy struct {
	p       *safety.Policy
	refusal string
}

// plan cuts m's parts into the pieces the platform accepts, in order, and
// checks each against pol. The first refused part or piece is replaced by
// the refusal and ends the reply: the rest would continue what was refused,
// and what went out before it cannot be recalled.
func (s *Role) plan(m *corralv1.OutboundMessage, pol policy) []piece {
	lim := graph.LimitsFor(m.GetPlatform())
	var out []piece
	for i, part := range m.GetParts() {
		text := strings.TrimSpace(part.GetText())
		if text == "" {
			continue // nothing to show, not even under quick replies
		}
		if r, ok := s.check(text, pol); !ok {
			return append(out, r.at(i, 0))
		}
		texts := split.Text(text, lim.Text)
		quick := part.GetQuickReplies()
		if len(quick) > 0 {
			// A message with buttons takes less text (WhatsApp 1024).
			if last := texts[len(texts)-1]; graph.TextLen(last) > lim.QuickReplyText {
				texts = append(texts[:len(texts)-1], split.Text(last, lim.QuickReplyText)...)
			}
		}
		for j, t := range texts {
			checked, ok := s.check(t, pol)
			if !ok {
				return append(out, checked.at(i, j))
			}
			p := piece{key: pieceKey(i, j), text: checked.text, preview: part.GetPreviewUrl()}
			if j == len(texts)-1 {
				p.quick = quick
			}
			out = append(out, p)
		}
	}
	return out
}

func pieceKey(part, n int) string { return strconv.Itoa(part) + "." + strconv.Itoa(n) }

// checked is a text after the safety stage.
type checked struct {
	text    string
	refusal bool
}

func (c checked) at(part, n int) piece {
	return piece{key: pieceKey(part, n), text: c.text, refusal: c.refusal}
}

// check checks text as a reply under pol: ok is false when it is
// refused, and the result then holds the refusal; a text whose personal
// data the policy masks for users comes back masked.
func (s *Role) check(text string, pol policy) (checked, bool) {
	v := s.safety.Check(text, safety.Assistant, pol.p)
	switch {
	case v.Action == safety.ActionRefuse:
		return checked{text: pol.refusal, refusal: true}, false
	case v.Action == safety.ActionRedact && pol.p.RedactForUser:
		return checked{text: v.Redacted}, true
	}
	return checked{text: text}, true
}

// policies caches each persona version's policy: versions never change.
type policies struct {
	store *store.Store
	mu    sync.Mutex
	cache map[string]policy
}

// maxPolicies bounds the cache; it is emptied when full (rarely: one entry
// per persona version in use).
const maxPolicies = 4096

// baseline is the policy of replies without a persona, or whose persona is
// gone.
func baseline() policy {
	b := safety.Baseline()
	return policy{p: &b, refusal: safety.DefaultRefusal}
}

// forReply returns the policy of m's persona version: its safety settings
// tighten the baseline, and its refusal message replaces refused pieces.
func (ps *policies) forReply(ctx context.Context, m *corralv1.OutboundMessage) (policy, error) {
	id, n := m.GetPersonaId(), m.GetPersonaVersion()
	if id == "" || n == 0 || ps.store == nil {
		return baseline(), nil
	}
	key := id + "@" + strconv.FormatUint(uint64(n), 10)
	ps.mu.Lock()
	pol, ok := ps.cache[key]
	ps.mu.Unlock()
	if ok {
		return pol, nil
	}
	v, err := ps.store.Version(ctx, id, n)
	if errors.Is(err, store.ErrNotFound) {
		return baseline(), nil // deleted and expired: the baseline still applies
	}
	if err != nil {
		return policy{}, fmt.Errorf("persona %s version %d: %w", id, n, err)
	}
	ss := v.Spec.Safety.SafetySettings()
	p, err := safety.Baseline().Tighten(safety.SettingsFromProto(ss))
	if err != nil {
		return policy{}, fmt.Errorf("persona %s version %d safety settings: %w", id, n, err)
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

// quickReplies fits a part's quick replies to the platform: at most as many
// as it takes, titles and payloads cut to its limits, no repeats (a
// missing payload is the title).
func quickReplies(p corralv1.Platform, qs []*corralv1.QuickReply) (titles, payloads []string) {
	lim := graph.LimitsFor(p)
	seen := map[string]bool{}
	for _, q := range qs {
		title := cut(strings.TrimSpace(q.GetTitle()), lim.QuickReplyTitle)
		payload := q.GetPayload()
		if payload == "" {
			payload = title
		}
		payload = cut(payload, lim.QuickReplyPayload)
		if title == "" || payload == "" || seen["t"+title] || seen["p"+payload] {
			continue
		}
		seen["t"+title], seen["p"+payload] = true, true
		titles, payloads = append(titles, title), append(payloads, payload)
		if len(titles) == lim.QuickReplies {
			break
		}
	}
	return titles, payloads
}

// cut shortens s to at most limit characters as graph.TextLen counts them.
func cut(s string, limit int) string {
	n := 0
	for i, r := range s {
		n += graph.RuneLen(r)
		if n > limit {
			return s[:i]
		}
	}
	return s
}
