package safety

import (
	"context"
	_ "embed"
	"fmt"
	"slices"
	"strings"
	"sync"

	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

// Action is what the caller does with a checked text.
type Action int

const (
	// ActionAllow passes the text on unchanged.
	ActionAllow Action = iota
	// ActionRefuse drops the text; the user gets the persona's refusal.
	ActionRefuse
	// ActionRedact passes the text on, but history and logs keep
	// Verdict.Redacted; the user sees Redacted only when the policy's
	// RedactForUser is set.
	ActionRedact
)

// String returns "allow", "refuse" or "redact".
func (a Action) String() string {
	switch a {
	case ActionRefuse:
		return "refuse"
	case ActionRedact:
		return "redact"
	}
	return "allow"
}

// Role says who wrote the text.
type Role int

const (
	// User is a message from the person chatting.
	User Role = iota
	// Assistant is the persona's (the model's) reply.
	Assistant
)

// Score is one category's score in [0, 1].
type Score struct {
	Category Category
	Score    float64
}

// Evidence says why a category scored: a lexicon phrase, a policy term, the
// classifier's strongest words, or the guard model's answer.
type Evidence struct {
	Category Category
	Source   string // "rule", "policy", "model" or "guard"
	Detail   string
}

// Verdict is the outcome of checking one text.
type Verdict struct {
	Action Action
	// Categories crossed their threshold, most severe first.
	Categories []Score
	// Scores holds every category that scored above zero, most severe first.
	Scores []Score
	// Evidence for the crossed categories (and policy terms).
	Evidence []Evidence
	// Unsafe is the overall probability-like score that the text is harmful.
	Unsafe float64
	// PersonalData lists the personal data found; Redacted is the text with
	// it masked (equal to the text when there is none). Store and log
	// Redacted; show the user the original unless the policy says otherwise.
	PersonalData []Finding
	Redacted     string
	// Reason is a short line for logs; it never quotes the text.
	Reason string
}

// DefaultRefusal is the fixed message that replaces a refused reply (or
// answers a refused message) when the persona has no refusal message of
// its own.
const DefaultRefusal = "Sorry, I can't help with that."

// SupportMessage answers a user who says they want to die or hurt
// themselves, instead of a refusal: a person in crisis must not be turned
// away. It names help lines that answer in many countries and must itself
// pass the check as a reply (TestSupportMessagePasses).
const SupportMessage = "I'm really sorry you're feeling this way, and I'm glad you told me. " +
	"You don't have to go through this alone. Please reach out to someone you trust, or to a crisis line right now: " +
	"in the US call or text 988, in the UK and Ireland call Samaritans on 116 123, " +
	"and anywhere else you can find a free, confidential line at findahelpline.com. " +
	"If you are in immediate danger, call your local emergency number."

// Crisis reports whether a refused user message is about the writer
// harming themselves, so the caller answers with SupportMessage.
func (v Verdict) Crisis() bool {
	for _, s := range v.Categories {
		if s.Category == SelfHarm {
			return true
		}
	}
	return false
}

// Classifier names the rules and weights that decide, for audits.
const Classifier = "corral-safety-1"

// Proto converts the verdict for a message crossing a process boundary.
func (v Verdict) Proto(role Role) *corralv1.SafetyVerdict {
	pv := &corralv1.SafetyVerdict{
		Safe:       len(v.Categories) == 0,
		Classifier: Classifier,
		Reason:     v.Reason,
		Stage:      corralv1.SafetyStage_SAFETY_STAGE_INPUT,
	}
	if role == Assistant {
		pv.Stage = corralv1.SafetyStage_SAFETY_STAGE_OUTPUT
	}
	switch v.Action {
	case ActionRefuse:
		pv.Action = corralv1.SafetyAction_SAFETY_ACTION_BLOCK
	case ActionRedact:
		pv.Action = corralv1.SafetyAction_SAFETY_ACTION_REWRITE
		pv.RewrittenText = v.Redacted
	default:
		pv.Action = corralv1.SafetyAction_SAFETY_ACTION_ALLOW
	}
	for _, s := range v.Categories {
		pv.Categories = append(pv.Categories, s.Category)
	}
	for _, s := range v.Scores {
		pv.Scores = append(pv.Scores, &corralv1.CategoryScore{Category: s.Category, Score: float32(s.Score)})
	}
	return pv
}

//go:embed classifier.weights
var embeddedWeights []byte

// Options configures a Stage.
type Options struct {
	// Weights is a weights file written by Model.MarshalBinary; empty means
	// the committed weights.
	Weights []byte
	// Guard, when set, is asked about texts the fast passes are unsure of.
	Guard *Guard
}

// Stage checks texts against a Policy. It is immutable and safe for
// concurrent use.
type Stage struct {
	model *Model
	guard *Guard
	pool  sync.Pool
}

// New builds a Stage.
func New(o Options) (*Stage, error) {
	w := o.Weights
	if len(w) == 0 {
		w = embeddedWeights
	}
	m, err := UnmarshalModel(w)
	if err != nil {
		return nil, fmt.Errorf("load safety weights: %w", err)
	}
	s := &Stage{model: m, guard: o.Guard}
	s.pool.New = func() any { return new(scratch) }
	return s, nil
}

// scratch is the reusable memory of one check.
type scratch struct {
	words   []string
	kept    []byte
	feats   []uint32
	fbuf    []byte
	matches []match
	rules   ruleResult
}

// analysis is everything the fast passes found in one text.
type analysis struct {
	scores [numClasses]float64
	unsafe float64
	rules  ruleResult
	words  []string
}

// uncertain reports whether the fast passes could not decide with
// confidence, so a guard model is worth asking.
func (a *analysis) uncertain() bool { return a.unsafe > 0.25 && a.unsafe < 0.75 }

func (s *Stage) analyze(sc *scratch, norm string) analysis {
	sc.words = splitWords(sc.words[:0], norm)
	sc.matches = baseRules.evaluate(sc.words, sc.matches, &sc.rules)
	// The classifier sees the text without its harmless look-alikes.
	sc.kept = sc.kept[:0]
	for i, w := range sc.words {
		if sc.rules.masked[i] {
			continue
		}
		if len(sc.kept) > 0 {
			sc.kept = append(sc.kept, ' ')
		}
		sc.kept = append(sc.kept, w...)
	}
	sc.feats, sc.fbuf = appendFeatures(sc.feats[:0], string(sc.kept), sc.fbuf)
	pu, pc := s.model.score(sc.feats)
	pu = modelWeight(pu, &sc.rules)
	a := analysis{rules: sc.rules, words: sc.words}
	top := 0.0
	for _, p := range pc {
		top = max(top, p)
	}
	// A category scores the stronger of its rule score and the
	// classifier's; the classifier's top category gets its whole unsafe
	// probability, the others in proportion to their share.
	var ruleMax float64
	for c := range a.scores {
		r := sc.rules.scores[c]
		ruleMax = max(ruleMax, r)
		a.scores[c] = max(r, pu*pc[c]/top)
	}
	a.unsafe = max(ruleMax, pu)
	return a
}

// modelWeight tempers the classifier's probability when no rule found a
// harmful word, or the text asks how to prevent, detect or survive a harm,
// or names an everyday subject (a recipe, a stain, a trip) and nothing harmful:
// the classifier learned style as well as meaning from its corpus, and on
// its own it must be surer before it refuses.
func modelWeight(p float64, r *ruleResult) float64 {
	floor := modelAloneFloor
	switch {
	case r.define:
		floor = modelDefinitionFloor
	case r.defended:
		floor = modelDefendedFloor
	case r.hits > 0:
		return p
	case r.everyday, r.story, (r.group || r.atrocity) && r.context:
		// An everyday subject, a game, novel or film or a historical
		// question, or a group of people or an atrocity named in a
		// defensive question ("how were they persecuted", "how do we
		// make sure it never happens again").
		floor = modelDefendedFloor
	case (r.request || r.people) && !r.harmless:
		floor = modelRequestFloor
	}
	return max(0, (p-floor)/(1-floor))
}

// The classifier's probability p becomes (p-floor)/(1-floor): with no rule
// hit it must reach 0.725 to refuse at the baseline threshold, 0.65 when
// the text is at least shaped like a request or names a group of people or
// the other party, and 0.8 when it asks how to prevent, detect or survive
// a harm or is about an everyday subject.
const (
	modelAloneFloor    = 0.45
	modelRequestFloor  = 0.3
	modelDefendedFloor = 0.6
	// A question that only asks what a word means ("what is LSD") is
	// refused by the classifier alone above 0.875.
	modelDefinitionFloor = 0.75
)

func splitWords(dst []string, s string) []string {
	for s != "" {
		w, rest, _ := strings.Cut(s, " ")
		if w != "" {
			dst = append(dst, w)
		}
		s = rest
	}
	return dst
}

// Check classifies text written by role under policy p. It never fails:
// the fast passes decide alone. Use CheckContext to also consult the guard
// model.
func (s *Stage) Check(text string, role Role, p *Policy) Verdict {
	v, _ := s.check(context.Background(), text, role, p, false)
	return v
}

// CheckContext is Check, and when the Stage has a Guard and the fast passes
// are unsure, it asks the guard model and lets its answer decide. A guard
// error returns the fast verdict and the error.
func (s *Stage) CheckContext(ctx context.Context, text string, role Role, p *Policy) (Verdict, error) {
	return s.check(ctx, text, role, p, s.guard != nil)
}

func (s *Stage) check(ctx context.Context, text string, role Role, p *Policy, useGuard bool) (Verdict, error) {
	if p == nil {
		b := Baseline()
		p = &b
	}
	sc := s.pool.Get().(*scratch)
	defer s.pool.Put(sc)
	a := s.analyze(sc, Normalize(text))
	var guardErr error
	var guardCats []Category
	guarded := false
	if useGuard && a.uncertain() {
		unsafe, cats, err := s.guard.Classify(ctx, text, role)
		if err != nil {
			guardErr = fmt.Errorf("guard: %w", err)
		} else {
			guarded = true
			guardCats = cats
			if unsafe {
				a.unsafe = max(a.unsafe, 0.9)
				for _, c := range cats {
					a.scores[classOf[c]] = max(a.scores[classOf[c]], 0.9)
				}
			} else {
				a.unsafe = min(a.unsafe, 0.2)
				for c := range a.scores {
					a.scores[c] = min(a.scores[c], 0.2)
				}
			}
		}
	}
	v := s.decide(&a, sc, role, p)
	if guarded {
		v.Reason += " (guard model decided)"
		for _, c := range guardCats {
			v.Evidence = append(v.Evidence, Evidence{Category: c, Source: "guard", Detail: c.LlamaGuardCode()})
		}
	}
	v.Redacted, v.PersonalData = Redact(text)
	if v.Action == ActionAllow && len(v.PersonalData) > 0 {
		v.Action = ActionRedact
	}
	return v, guardErr
}

func (s *Stage) decide(a *analysis, sc *scratch, role Role, p *Policy) Verdict {
	v := Verdict{Unsafe: a.unsafe}
	for i, c := range Categories {
		score := a.scores[i]
		if role == Assistant && c == PromptInjection {
			continue // a reply cannot inject into itself
		}
		if score >= 0.01 {
			v.Scores = append(v.Scores, Score{c, score})
		}
		if score >= p.threshold(c) {
			v.Categories = append(v.Categories, Score{c, score})
			v.Evidence = append(v.Evidence, s.evidence(a, sc, i))
		}
	}
	topics := p.topicsIn(a.words)
	for _, t := range topics {
		v.Evidence = append(v.Evidence, Evidence{Source: "policy", Detail: t})
	}
	if len(topics) > 0 {
		v.Action = ActionRefuse
		v.Reason = "refused: persona topic " + strings.Join(topics, ", ")
	} else if len(v.Categories) > 0 {
		v.Action = ActionRefuse
		names := make([]string, len(v.Categories))
		for i, c := range v.Categories {
			names[i] = fmt.Sprintf("%s %.2f", CategoryName(c.Category), c.Score)
		}
		v.Reason = "refused: " + strings.Join(names, ", ")
	} else {
		v.Reason = fmt.Sprintf("allowed: unsafe %.2f", a.unsafe)
	}
	return v
}

// evidence explains category class: the rule phrase that scored it, or the
// words that pushed the classifier most.
func (s *Stage) evidence(a *analysis, sc *scratch, class int) Evidence {
	c := Categories[class]
	if e := a.rules.evidence[class]; e != "" && a.rules.scores[class] >= 0.5 {
		return Evidence{Category: c, Source: "rule", Detail: e}
	}
	// The three words that push the classifier most, found in one pass.
	var top [3]string
	var weight [3]float64
	for i, w := range a.words {
		if a.rules.masked[i] || stopWords[w] || slices.Contains(top[:], w) {
			continue
		}
		x := s.model.contribution(wordFeature(w))
		for k := range top {
			if x > weight[k] {
				copy(top[k+1:], top[k:2])
				copy(weight[k+1:], weight[k:2])
				top[k], weight[k] = w, x
				break
			}
		}
	}
	var words []string
	for _, w := range top {
		if w != "" {
			words = append(words, w)
		}
	}
	return Evidence{Category: c, Source: "model", Detail: strings.Join(words, " ")}
}
