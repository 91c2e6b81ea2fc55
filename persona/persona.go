package persona

import (
	"strings"
	"time"
)

// Visibility says who can find and pick a persona.
type Visibility string

// Visibilities.
const (
	// Private personas answer only on channels their owner binds them to.
	Private Visibility = "private"
	// Unlisted personas can also be picked by anyone who knows the handle.
	Unlisted Visibility = "unlisted"
	// Public personas are also listed in the directory once published.
	Public Visibility = "public"
)

// Strictness is how readily the safety stage blocks in conversations with
// a persona. A persona can only tighten the platform's baseline, never
// loosen it.
type Strictness string

// Strictness levels, as the safety stage has them.
const (
	// Standard is the platform baseline.
	Standard Strictness = "standard"
	// Strict blocks at 80% of the baseline thresholds.
	Strict Strictness = "strict"
	// Strictest blocks at 60% of them, for young audiences.
	Strictest Strictness = "strictest"
)

// Example is one example exchange that shows the persona's voice.
type Example struct {
	// User is what a user says.
	User string `json:"user"`
	// Assistant is how the persona answers.
	Assistant string `json:"assistant"`
}

// Safety holds a persona's safety choices.
type Safety struct {
	// Strictness of the safety stage; default Standard.
	Strictness Strictness `json:"strictness"`
	// RefusalMessage is sent instead of a blocked reply, in the persona's
	// voice; empty means the safety stage's default refusal.
	RefusalMessage string `json:"refusal_message,omitempty"`
}

// Generation holds a persona's sampling settings.
type Generation struct {
	// Temperature of sampling, 0 (always the likeliest token) to 2.
	Temperature float64 `json:"temperature"`
	// TopP is the nucleus-sampling mass, above 0 and at most 1 (1 is off).
	TopP float64 `json:"top_p"`
	// MaxReplyTokens caps the length of one reply.
	MaxReplyTokens int `json:"max_reply_tokens"`
	// Model names the model to use; empty means the service default.
	Model string `json:"model,omitempty"`
}

// Spec is what a published version freezes: everything that shapes how the
// persona talks. The draft is a Spec too.
type Spec struct {
	// Name is the display name, e.g. "Luna".
	Name string `json:"name"`
	// Avatar is an https URL of an image or a single emoji; may be empty.
	Avatar string `json:"avatar,omitempty"`
	// Description is a short text for creators and listings; the model does
	// not see it.
	Description string `json:"description,omitempty"`
	// Instructions tell the model who the persona is and how it behaves.
	Instructions string `json:"instructions"`
	// Greeting opens every conversation as the persona's first message; may
	// be empty.
	Greeting string `json:"greeting,omitempty"`
	// Examples are example exchanges in the persona's voice.
	Examples []Example `json:"examples,omitempty"`
	// Traits describe tone and personality, e.g. "warm", "dry humour".
	Traits []string `json:"traits,omitempty"`
	// AvoidTopics are topics the persona declines to discuss.
	AvoidTopics []string `json:"avoid_topics,omitempty"`
	// Safety holds the safety choices.
	Safety Safety `json:"safety"`
	// Generation holds the sampling settings.
	Generation Generation `json:"generation"`
}

// Edit is everything a creator sets on a persona: its handle and visibility,
// which belong to the persona, and the draft Spec, which publishing freezes
// into versions. Its JSON form is flat: the Spec's fields sit beside handle
// and visibility.
type Edit struct {
	// Handle is the unique name users pick the persona by ("@luna"), unique
	// ignoring case.
	Handle string `json:"handle"`
	// Visibility says who can find and pick the persona; default Private.
	Visibility Visibility `json:"visibility"`
	Spec
}

// Persona is the stored state of one persona: its identity, its draft and
// where its versions stand. Published versions are separate Version values.
type Persona struct {
	// ID is the stable id, shared by the draft and every version.
	ID string
	// OwnerID is the creator who owns the persona; only they change it.
	OwnerID string
	// Handle is the unique name users pick the persona by.
	Handle string
	// Visibility says who can find and pick the persona.
	Visibility Visibility
	// Draft is the working copy the creator edits.
	Draft Spec
	// Revision grows by one with every change (edit, publish, rollback), so
	// a change based on an older revision can be refused.
	Revision uint64
	// Published is the newest version number, which chats use; 0 means
	// never published.
	Published uint32
	// CreatedAt is when the persona was created.
	CreatedAt time.Time
	// UpdatedAt is when it last changed.
	UpdatedAt time.Time
}

// Edit returns the creator-editable part of p.
func (p Persona) Edit() Edit {
	return Edit{Handle: p.Handle, Visibility: p.Visibility, Spec: p.Draft.Clone()}
}

// Apply returns p with e applied and the revision advanced. It does not
// validate e.
func (p Persona) Apply(e Edit, at time.Time) Persona {
	p.Handle, p.Visibility, p.Draft = e.Handle, e.Visibility, e.Spec.Clone()
	p.Revision++
	p.UpdatedAt = at
	return p
}

// Listed reports whether p belongs in the public directory: public and
// published.
func (p Persona) Listed() bool { return p.Visibility == Public && p.Published > 0 }

// Pickable reports whether end users may pick p by its handle: unlisted or
// public, and published.
func (p Persona) Pickable() bool {
	return (p.Visibility == Public || p.Visibility == Unlisted) && p.Published > 0
}

// Version is an immutable published version of a persona. Chats always use
// a published version, never the draft.
type Version struct {
	// PersonaID is the persona's id.
	PersonaID string
	// OwnerID is the persona's owner when the version was published.
	OwnerID string
	// Number counts versions from 1 in publishing order.
	Number uint32
	// Spec is the frozen persona.
	Spec Spec
	// PublishedAt is when the version was published.
	PublishedAt time.Time
	// From is, for a version made by Rollback, the version it republished;
	// 0 for versions published from the draft.
	From uint32
}

// Publish freezes p's draft into the next version and returns p advanced to
// it. It does not validate the draft.
func (p Persona) Publish(at time.Time) (Persona, Version) {
	p.Published++
	p.Revision++
	p.UpdatedAt = at
	v := Version{PersonaID: p.ID, OwnerID: p.OwnerID, Number: p.Published, Spec: p.Draft.Clone(), PublishedAt: at}
	return p, v
}

// Rollback republishes old as p's next version, so that chats use it again
// while the version history keeps growing and stays immutable. The draft is
// left as it is, so unpublished work is not lost.
func (p Persona) Rollback(old Version, at time.Time) (Persona, Version) {
	p.Published++
	p.Revision++
	p.UpdatedAt = at
	v := Version{PersonaID: p.ID, OwnerID: p.OwnerID, Number: p.Published, Spec: old.Spec.Clone(), PublishedAt: at, From: old.Number}
	return p, v
}

// Clone returns a deep copy of s, so that changing one never changes the
// other's slices.
func (s Spec) Clone() Spec {
	s.Examples = cloneSlice(s.Examples)
	s.Traits = cloneSlice(s.Traits)
	s.AvoidTopics = cloneSlice(s.AvoidTopics)
	return s
}

// cloneSlice copies s, keeping nil and empty apart from each other only as
// far as JSON needs: both become nil.
func cloneSlice[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return append([]T(nil), s...)
}

// DefaultGeneration returns the sampling settings of a new persona.
func DefaultGeneration() Generation {
	return Generation{Temperature: 0.7, TopP: 0.9, MaxReplyTokens: 300}
}

// NewEdit returns the settings a new persona starts from: private, standard
// safety, default generation settings, everything else empty.
func NewEdit() Edit {
	return Edit{
		Visibility: Private,
		Spec: Spec{
			Safety:     Safety{Strictness: Standard},
			Generation: DefaultGeneration(),
		},
	}
}

// HandleKey returns the form of a handle under which uniqueness is decided:
// its lower case, with a leading "@" removed, as users type it.
func HandleKey(handle string) string {
	return strings.ToLower(strings.TrimPrefix(handle, "@"))
}
