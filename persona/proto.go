package persona

import (
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

// Baseline threshold of the safety stage (inference/safety), and the
// factors its strictness levels apply to it. Kept here as numbers, since
// persona imports nothing of inference.
const (
	baselineThreshold = 0.5
	strictFactor      = 0.8
	strictestFactor   = 0.6
)

// Threshold returns the blocking threshold s stands for, as
// SafetySettings.threshold carries it: the score at or above which a
// category counts as violated, or 0 for the safety stage's baseline
// (Standard and unknown values).
func (s Strictness) Threshold() float32 {
	switch s {
	case Strict:
		return baselineThreshold * strictFactor
	case Strictest:
		return baselineThreshold * strictestFactor
	}
	return 0
}

// SafetySettings returns s as the safety stage takes it: input and output
// are always checked; strictness sets the threshold.
func (s Safety) SafetySettings() *corralv1.SafetySettings {
	return &corralv1.SafetySettings{
		CheckInput:     true,
		CheckOutput:    true,
		Threshold:      s.Strictness.Threshold(),
		RefusalMessage: s.RefusalMessage,
	}
}

// Sampling returns g as the sampling options of a GenerateRequest.
func (g Generation) Sampling() *corralv1.SamplingOptions {
	return &corralv1.SamplingOptions{
		Temperature: proto.Float32(float32(g.Temperature)),
		TopP:        proto.Float32(float32(g.TopP)),
		MaxTokens:   proto.Int32(int32(min(g.MaxReplyTokens, 1<<30))),
	}
}

// Proto returns the draft of p as a protobuf Persona (version 0, status
// draft).
func (p Persona) Proto() *corralv1.Persona {
	m := specProto(p.Draft)
	m.Id, m.OwnerId, m.Handle = p.ID, p.OwnerID, p.Handle
	m.Status = corralv1.PersonaStatus_PERSONA_STATUS_DRAFT
	m.Visibility = p.Visibility.proto()
	m.Revision, m.PublishedVersion = p.Revision, p.Published
	m.CreatedTime, m.UpdatedTime = timestamp(p.CreatedAt), timestamp(p.UpdatedAt)
	return m
}

// Proto returns v as a protobuf Persona (status published). Handle and
// visibility belong to the persona, not the version, and are left empty.
func (v Version) Proto() *corralv1.Persona {
	m := specProto(v.Spec)
	m.Id, m.OwnerId, m.Version = v.PersonaID, v.OwnerID, v.Number
	m.Status = corralv1.PersonaStatus_PERSONA_STATUS_PUBLISHED
	m.RepublishedFrom = v.From
	m.UpdatedTime = timestamp(v.PublishedAt)
	return m
}

// PersonaFromProto returns the persona whose draft m is.
func PersonaFromProto(m *corralv1.Persona) Persona {
	return Persona{
		ID:         m.GetId(),
		OwnerID:    m.GetOwnerId(),
		Handle:     m.GetHandle(),
		Visibility: visibilityFromProto(m.GetVisibility()),
		Draft:      SpecFromProto(m),
		Revision:   m.GetRevision(),
		Published:  m.GetPublishedVersion(),
		CreatedAt:  fromTimestamp(m.GetCreatedTime()),
		UpdatedAt:  fromTimestamp(m.GetUpdatedTime()),
	}
}

// VersionFromProto returns the published version m is.
func VersionFromProto(m *corralv1.Persona) Version {
	return Version{
		PersonaID:   m.GetId(),
		OwnerID:     m.GetOwnerId(),
		Number:      m.GetVersion(),
		Spec:        SpecFromProto(m),
		PublishedAt: fromTimestamp(m.GetUpdatedTime()),
		From:        m.GetRepublishedFrom(),
	}
}

// SpecFromProto returns the Spec fields of m. Unset sampling fields take
// the defaults of DefaultGeneration.
func SpecFromProto(m *corralv1.Persona) Spec {
	s := Spec{
		Name:         m.GetName(),
		Avatar:       m.GetAvatar(),
		Description:  m.GetDescription(),
		Instructions: m.GetSystemPrompt(),
		Greeting:     m.GetGreeting(),
		Traits:       cloneSlice(m.GetTraits()),
		AvoidTopics:  cloneSlice(m.GetAvoidTopics()),
		Safety: Safety{
			Strictness:     strictnessFromProto(m.GetSafetyStrictness()),
			RefusalMessage: m.GetSafety().GetRefusalMessage(),
		},
		Generation: DefaultGeneration(),
	}
	for _, ex := range m.GetExamples() {
		s.Examples = append(s.Examples, Example{User: ex.GetUser(), Assistant: ex.GetAssistant()})
	}
	if g := m.GetSampling(); g != nil {
		samplingInto(&s.Generation, g)
	}
	s.Generation.Model = m.GetModel()
	return s
}

// samplingInto copies the set fields of g into gen.
func samplingInto(gen *Generation, g *corralv1.SamplingOptions) {
	if g.Temperature != nil {
		gen.Temperature = widen(g.GetTemperature())
	}
	if g.TopP != nil {
		gen.TopP = widen(g.GetTopP())
	}
	if g.MaxTokens != nil {
		gen.MaxReplyTokens = int(g.GetMaxTokens())
	}
}

func specProto(s Spec) *corralv1.Persona {
	m := &corralv1.Persona{
		Name:             s.Name,
		Avatar:           s.Avatar,
		Description:      s.Description,
		SystemPrompt:     s.Instructions,
		Greeting:         s.Greeting,
		Model:            s.Generation.Model,
		Sampling:         s.Generation.Sampling(),
		Safety:           s.Safety.SafetySettings(),
		SafetyStrictness: s.Safety.Strictness.proto(),
		Traits:           cloneSlice(s.Traits),
		AvoidTopics:      cloneSlice(s.AvoidTopics),
	}
	for _, ex := range s.Examples {
		m.Examples = append(m.Examples, &corralv1.PersonaExample{User: ex.User, Assistant: ex.Assistant})
	}
	return m
}

func (v Visibility) proto() corralv1.PersonaVisibility {
	switch v {
	case Private:
		return corralv1.PersonaVisibility_PERSONA_VISIBILITY_PRIVATE
	case Unlisted:
		return corralv1.PersonaVisibility_PERSONA_VISIBILITY_UNLISTED
	case Public:
		return corralv1.PersonaVisibility_PERSONA_VISIBILITY_PUBLIC
	}
	return corralv1.PersonaVisibility_PERSONA_VISIBILITY_UNSPECIFIED
}

func visibilityFromProto(v corralv1.PersonaVisibility) Visibility {
	switch v {
	case corralv1.PersonaVisibility_PERSONA_VISIBILITY_UNLISTED:
		return Unlisted
	case corralv1.PersonaVisibility_PERSONA_VISIBILITY_PUBLIC:
		return Public
	}
	return Private
}

func (s Strictness) proto() corralv1.SafetyStrictness {
	switch s {
	case Standard:
		return corralv1.SafetyStrictness_SAFETY_STRICTNESS_STANDARD
	case Strict:
		return corralv1.SafetyStrictness_SAFETY_STRICTNESS_STRICT
	case Strictest:
		return corralv1.SafetyStrictness_SAFETY_STRICTNESS_STRICTEST
	}
	return corralv1.SafetyStrictness_SAFETY_STRICTNESS_UNSPECIFIED
}

func strictnessFromProto(s corralv1.SafetyStrictness) Strictness {
	switch s {
	case corralv1.SafetyStrictness_SAFETY_STRICTNESS_STRICT:
		return Strict
	case corralv1.SafetyStrictness_SAFETY_STRICTNESS_STRICTEST:
		return Strictest
	}
	return Standard
}

// widen converts a float32 to the float64 with the same shortest decimal
// form, so 0.7 comes back as 0.7, not 0.699999988079071.
func widen(f float32) float64 {
	v, err := strconv.ParseFloat(strconv.FormatFloat(float64(f), 'g', -1, 32), 64)
	if err != nil {
		return float64(f)
	}
	return v
}

func timestamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func fromTimestamp(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.AsTime()
}
