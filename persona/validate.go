package persona

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on a persona's fields. Lengths count characters (Unicode code
// points), not bytes, so a name in Japanese gets as many characters as one
// in English.
const (
	HandleMinLen       = 3
	HandleMaxLen       = 30
	NameMaxLen         = 50
	AvatarURLMaxLen    = 500
	DescriptionMaxLen  = 300
	InstructionsMaxLen = 4000
	GreetingMaxLen     = 500
	MaxExamples        = 5
	ExampleUserMaxLen  = 500
	ExampleReplyMaxLen = 1000
	MaxTraits          = 10
	TraitMaxLen        = 40
	MaxAvoidTopics     = 20
	AvoidTopicMaxLen   = 100
	RefusalMaxLen      = 300
	ModelMaxLen        = 100
	TemperatureMax     = 2.0
	MaxReplyTokensMin  = 16
	MaxReplyTokensMax  = 4096
	// emojiMaxRunes bounds one emoji: a family or flag sequence with
	// joiners, skin tones and variation selectors stays well below it.
	emojiMaxRunes = 12
)

// ErrInvalid is what every *ValidationError matches with errors.Is.
var ErrInvalid = errors.New("invalid persona")

// FieldError is one problem with one field.
type FieldError struct {
	// Field is the field's path in the JSON form, e.g. "name",
	// "examples[1].user", "generation.temperature".
	Field string `json:"field"`
	// Reason says what is wrong and what is allowed, for the person editing.
	Reason string `json:"reason"`
}

func (e FieldError) Error() string { return e.Field + ": " + e.Reason }

// ValidationError lists every problem found, in field order, so a form can
// show them all at once.
type ValidationError struct {
	Fields []FieldError
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Error()
	}
	return "invalid persona: " + strings.Join(parts, "; ")
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// Field returns the reason given for field, or "" when it has none.
func (e *ValidationError) Field(field string) string {
	for _, f := range e.Fields {
		if f.Field == field {
			return f.Reason
		}
	}
	return ""
}

// problems collects field errors.
type problems []FieldError

func (p *problems) add(field, format string, args ...any) {
	*p = append(*p, FieldError{Field: field, Reason: fmt.Sprintf(format, args...)})
}

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return &ValidationError{Fields: p}
}

// reservedHandles cannot be taken by creators: the built-in persona's and
// words that read as commands or as the system.
var reservedHandles = []string{"admin", "assistant", "corral", "default", "help", "persona", "reset", "system"}

// Validate checks e and returns a *ValidationError naming every bad field,
// or nil.
func (e Edit) Validate() error {
	var p problems
	p.handle("handle", e.Handle)
	switch e.Visibility {
	case Private, Unlisted, Public:
	default:
		p.add("visibility", "must be %q, %q or %q, not %q", Private, Unlisted, Public, e.Visibility)
	}
	p.spec(e.Spec)
	return p.err()
}

// Validate checks s and returns a *ValidationError naming every bad field,
// or nil.
func (s Spec) Validate() error {
	var p problems
	p.spec(s)
	return p.err()
}

// ValidateHandle checks a handle alone, as users and creators type it
// (without the "@").
func ValidateHandle(handle string) error {
	var p problems
	p.handle("handle", handle)
	return p.err()
}

func (p *problems) handle(field, h string) {
	n := utf8.RuneCountInString(h)
	switch {
	case h == "":
		p.add(field, "is required: %d to %d letters, digits or underscores, starting with a letter", HandleMinLen, HandleMaxLen)
		return
	case n < HandleMinLen || n > HandleMaxLen:
		p.add(field, "must be %d to %d characters long, not %d", HandleMinLen, HandleMaxLen, n)
		return
	}
	for i, r := range h {
		if !isASCIILetter(r) && !('0' <= r && r <= '9') && r != '_' {
			p.add(field, "may hold only ASCII letters, digits and underscores; %q at position %d is not allowed", r, utf8.RuneCountInString(h[:i])+1)
			return
		}
	}
	if !isASCIILetter(rune(h[0])) {
		p.add(field, "must start with a letter")
		return
	}
	if slices.Contains(reservedHandles, HandleKey(h)) {
		p.add(field, "%q is reserved; choose another", h)
	}
}

func isASCIILetter(r rune) bool { return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' }

func (p *problems) spec(s Spec) {
	p.text("name", s.Name, textRule{required: true, max: NameMaxLen})
	p.avatar("avatar", s.Avatar)
	p.text("description", s.Description, textRule{max: DescriptionMaxLen, multiline: true})
	p.text("instructions", s.Instructions, textRule{required: true, max: InstructionsMaxLen, multiline: true})
	p.text("greeting", s.Greeting, textRule{max: GreetingMaxLen, multiline: true})
	if len(s.Examples) > MaxExamples {
		p.add("examples", "at most %d examples, not %d", MaxExamples, len(s.Examples))
	}
	for i, ex := range s.Examples {
		p.text(fmt.Sprintf("examples[%d].user", i), ex.User, textRule{required: true, max: ExampleUserMaxLen, multiline: true})
		p.text(fmt.Sprintf("examples[%d].assistant", i), ex.Assistant, textRule{required: true, max: ExampleReplyMaxLen, multiline: true})
	}
	p.list("traits", s.Traits, MaxTraits, TraitMaxLen)
	p.list("avoid_topics", s.AvoidTopics, MaxAvoidTopics, AvoidTopicMaxLen)
	switch s.Safety.Strictness {
	case Standard, Strict, Strictest:
	default:
		p.add("safety.strictness", "must be %q, %q or %q, not %q", Standard, Strict, Strictest, s.Safety.Strictness)
	}
	p.text("safety.refusal_message", s.Safety.RefusalMessage, textRule{max: RefusalMaxLen, multiline: true})
	p.generation(s.Generation)
}

func (p *problems) generation(g Generation) {
	if t := g.Temperature; math.IsNaN(t) || t < 0 || t > TemperatureMax {
		p.add("generation.temperature", "must be from 0 (most predictable) to %g (most varied), not %g", TemperatureMax, t)
	}
	if v := g.TopP; math.IsNaN(v) || v <= 0 || v > 1 {
		p.add("generation.top_p", "must be above 0 and at most 1 (1 turns the filter off), not %g", v)
	}
	if n := g.MaxReplyTokens; n < MaxReplyTokensMin || n > MaxReplyTokensMax {
		p.add("generation.max_reply_tokens", "must be from %d to %d tokens, not %d", MaxReplyTokensMin, MaxReplyTokensMax, n)
	}
	if g.Model == "" {
		return
	}
	if n := utf8.RuneCountInString(g.Model); n > ModelMaxLen {
		p.add("generation.model", "at most %d characters, not %d", ModelMaxLen, n)
		return
	}
	for _, r := range g.Model {
		if r <= ' ' || r == 0x7f || r > 0x7e {
			p.add("generation.model", "must be a model name as the inference service lists it: printable ASCII without spaces")
			return
		}
	}
}

// textRule describes a free-text field.
type textRule struct {
	required  bool // must hold something besides white space
	max       int  // characters
	multiline bool // newlines and tabs allowed
}

func (p *problems) text(field, s string, r textRule) {
	if reason := checkText(s, r); reason != "" {
		p.add(field, "%s", reason)
	}
}

func checkText(s string, r textRule) string {
	if !utf8.ValidString(s) {
		return "is not valid UTF-8 text"
	}
	if strings.TrimSpace(s) == "" {
		if r.required {
			return "is required"
		}
		if s != "" {
			return "holds only white space; leave it empty or write something"
		}
		return ""
	}
	if n := utf8.RuneCountInString(s); n > r.max {
		return fmt.Sprintf("at most %d characters, not %d", r.max, n)
	}
	for i, c := range s {
		if c == '\n' || c == '\t' || c == '\r' {
			if !r.multiline {
				return "must be a single line"
			}
			continue
		}
		if unicode.IsControl(c) {
			return fmt.Sprintf("holds the control character %U at position %d; remove it", c, utf8.RuneCountInString(s[:i])+1)
		}
	}
	return ""
}

// list checks a list of short single-line entries, unique ignoring case.
func (p *problems) list(field string, items []string, maxItems, maxLen int) {
	if len(items) > maxItems {
		p.add(field, "at most %d entries, not %d", maxItems, len(items))
	}
	seen := make(map[string]int, len(items))
	for i, it := range items {
		f := fmt.Sprintf("%s[%d]", field, i)
		if reason := checkText(it, textRule{required: true, max: maxLen}); reason != "" {
			p.add(f, "%s", reason)
			continue
		}
		key := strings.ToLower(strings.TrimSpace(it))
		if j, dup := seen[key]; dup {
			p.add(f, "repeats %s[%d]", field, j)
			continue
		}
		seen[key] = i
	}
}

func (p *problems) avatar(field, a string) {
	if a == "" {
		return
	}
	if !utf8.ValidString(a) {
		p.add(field, "is not valid UTF-8 text")
		return
	}
	if strings.Contains(a, "://") || strings.HasPrefix(a, "http") {
		if reason := checkAvatarURL(a); reason != "" {
			p.add(field, "%s", reason)
		}
		return
	}
	if !isEmoji(a) {
		p.add(field, "must be an https:// image URL or a single emoji")
	}
}

func checkAvatarURL(a string) string {
	if n := utf8.RuneCountInString(a); n > AvatarURLMaxLen {
		return fmt.Sprintf("URL at most %d characters, not %d", AvatarURLMaxLen, n)
	}
	u, err := url.Parse(a)
	if err != nil {
		return "is not a valid URL"
	}
	if u.Scheme != "https" {
		return fmt.Sprintf("URL must use https, not %q", u.Scheme)
	}
	if u.Host == "" || u.User != nil {
		return "URL must name a host and hold no user name or password"
	}
	for _, c := range a {
		if c <= ' ' || c == 0x7f {
			return "URL must not hold spaces or control characters"
		}
	}
	return ""
}

// isEmoji reports whether s is one emoji: pictographic symbols with the
// joiners, variation selectors, skin-tone modifiers, keycap marks, regional
// indicators and tags that emoji sequences are built from.
func isEmoji(s string) bool {
	var n, bases, joiners, flags int
	keycapBase, keycap := false, false
	for _, r := range s {
		n++
		switch {
		case r == 0x200D: // zero-width joiner
			joiners++
		case r == 0xFE0F: // emoji presentation selector
		case r == 0x20E3: // combining keycap
			keycap = true
		case r >= 0x1F3FB && r <= 0x1F3FF: // skin-tone modifiers
		case r >= 0xE0020 && r <= 0xE007F: // tags (subdivision flags)
		case r >= 0x1F1E6 && r <= 0x1F1FF: // regional indicators: two make a flag
			flags++
		case unicode.Is(unicode.So, r):
			bases++
		case n == 1 && (r == '#' || r == '*' || '0' <= r && r <= '9'):
			keycapBase = true
		default:
			return false
		}
	}
	switch {
	case n > emojiMaxRunes:
		return false
	case keycapBase:
		return keycap && n <= 3
	case flags > 0:
		return flags == 2 && bases == 0 && joiners == 0
	}
	return bases >= 1 && bases <= joiners+1 && !keycap
}
