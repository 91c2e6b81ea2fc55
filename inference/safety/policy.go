package safety

import (
	"fmt"
	"slices"
	"strings"

	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

// Strictness scales every category's threshold down.
type Strictness int

const (
	// Standard is the platform baseline.
	Standard Strictness = iota
	// Strict refuses at 80% of the baseline thresholds.
	Strict
	// Strictest refuses at 60% of them (personas for young audiences).
	Strictest
)

// BaselineThreshold is the score at or above which the platform baseline
// refuses a category.
const BaselineThreshold = 0.5

// Topic is a persona's own blocked subject: any of its terms in a message
// refuses it. Terms are phrases, normalised like messages ("*" at a word's
// end matches longer words).
type Topic struct {
	Name  string
	Terms []string
}

// PersonaSettings are a persona's safety choices. They can only tighten the
// baseline: thresholds above the baseline's are ignored.
type PersonaSettings struct {
	// Strictness lowers every threshold.
	Strictness Strictness
	// Threshold, when above zero, is this persona's threshold for every
	// category (used only where it is below the baseline's).
	Threshold float64
	// BlockedCategories are categories the persona is especially strict on:
	// their threshold drops to 70% of what it would otherwise be.
	BlockedCategories []Category
	// BlockedTopics and ExtraTerms refuse messages that mention them.
	BlockedTopics []Topic
	ExtraTerms    []string
	// RedactForUser shows the user the redacted text as well (personal data
	// masked); by default only history and logs get it.
	RedactForUser bool
}

// Policy is what Stage checks against: the platform baseline, possibly
// tightened for one persona. Build it with Baseline and Tighten; it is
// immutable after that and safe for concurrent use.
type Policy struct {
	thresholds [numClasses]float64
	topics     *ruleSet
	topicTerms []topicTerm // what topics was built from, for a later Tighten
	// RedactForUser says the user sees personal data masked too.
	RedactForUser bool
}

type topicTerm struct{ topic, term string }

// Baseline returns the platform policy every persona starts from: every
// category refused at BaselineThreshold.
func Baseline() Policy {
	var p Policy
	for i := range p.thresholds {
		p.thresholds[i] = BaselineThreshold
	}
	return p
}

// Tighten returns p with a persona's settings applied. Nothing in s can
// raise a threshold or remove a term. Terms that normalise to nothing are
// an error, and p is returned unchanged with it.
func (p Policy) Tighten(s PersonaSettings) (Policy, error) {
	orig := p
	if s.Threshold < 0 || s.Threshold > 1 {
		return orig, fmt.Errorf("threshold %v not in [0, 1]", s.Threshold)
	}
	factor := 1.0
	switch s.Strictness {
	case Standard:
	case Strict:
		factor = 0.8
	case Strictest:
		factor = 0.6
	default:
		return orig, fmt.Errorf("unknown strictness %d", s.Strictness)
	}
	for i, c := range Categories {
		t := p.thresholds[i] * factor
		if s.Threshold > 0 {
			t = min(t, s.Threshold)
		}
		if slices.Contains(s.BlockedCategories, c) {
			t *= 0.7
		}
		p.thresholds[i] = min(p.thresholds[i], t)
	}
	topics := s.BlockedTopics
	if len(s.ExtraTerms) > 0 {
		topics = append(slices.Clone(topics), Topic{Name: "extra terms", Terms: s.ExtraTerms})
	}
	if len(topics) > 0 {
		rs := newRuleSet()
		for _, t := range p.topicTerms {
			pat, err := rs.add(t.term, kindTerm, allClasses, 1)
			if err != nil {
				return orig, err
			}
			pat.text = t.topic + ": " + strings.TrimSpace(t.term)
		}
		p.topicTerms = slices.Clone(p.topicTerms)
		for _, t := range topics {
			for _, term := range t.Terms {
				pat, err := rs.add(term, kindTerm, allClasses, 1)
				if err != nil {
					return orig, fmt.Errorf("topic %q: %w", t.Name, err)
				}
				pat.text = t.Name + ": " + strings.TrimSpace(term)
				p.topicTerms = append(p.topicTerms, topicTerm{t.Name, term})
			}
		}
		p.topics = rs
	}
	p.RedactForUser = p.RedactForUser || s.RedactForUser
	return p, nil
}

// threshold returns the score at or above which category c is refused.
func (p *Policy) threshold(c Category) float64 { return p.thresholds[classOf[c]] }

// topicsIn returns the persona topics (with the matching term) that words
// mention.
func (p *Policy) topicsIn(words []string) []string {
	if p.topics == nil {
		return nil
	}
	var out []string
	for _, m := range p.topics.find(nil, words) {
		if !slices.Contains(out, m.p.text) {
			out = append(out, m.p.text)
		}
	}
	return out
}

// SettingsFromProto converts a persona's stored safety settings.
func SettingsFromProto(s *corralv1.SafetySettings) PersonaSettings {
	if s == nil {
		return PersonaSettings{}
	}
	return PersonaSettings{
		Threshold:         float64(s.GetThreshold()),
		BlockedCategories: s.GetBlockedCategories(),
	}
}
