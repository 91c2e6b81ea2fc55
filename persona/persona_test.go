package persona_test

import (
	"reflect"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/corral-ai/corral/persona"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func newPersona() persona.Persona {
	e := validEdit()
	return persona.Persona{ID: "p1", OwnerID: "c1", CreatedAt: t0}.Apply(e, t0)
}

func TestPublishAndRollback(t *testing.T) {
	p := newPersona()
	if p.Revision != 1 || p.Published != 0 {
		t.Fatalf("new persona: revision %d, published %d", p.Revision, p.Published)
	}
	p, v1 := p.Publish(t0.Add(time.Minute))
	if v1.Number != 1 || p.Published != 1 || p.Revision != 2 || v1.From != 0 {
		t.Fatalf("after publish: %+v, persona published %d revision %d", v1, p.Published, p.Revision)
	}
	// Editing the draft never reaches into a published version.
	e := p.Edit()
	e.Name = "Luna II"
	e.Traits[0] = "changed"
	p = p.Apply(e, t0.Add(2*time.Minute))
	if v1.Spec.Name != "Luna" || v1.Spec.Traits[0] != "calm" {
		t.Errorf("version 1 changed with the draft: %+v", v1.Spec)
	}
	p, v2 := p.Publish(t0.Add(3 * time.Minute))
	if v2.Number != 2 || v2.Spec.Name != "Luna II" {
		t.Fatalf("version 2 = %+v", v2)
	}
	p, v3 := p.Rollback(v1, t0.Add(4*time.Minute))
	if v3.Number != 3 || v3.From != 1 || !reflect.DeepEqual(v3.Spec, v1.Spec) || p.Published != 3 {
		t.Errorf("rollback gave %+v, persona published %d", v3, p.Published)
	}
	if p.Draft.Name != "Luna II" {
		t.Errorf("rollback changed the draft to %q", p.Draft.Name)
	}
	if p.Revision != 5 {
		t.Errorf("revision %d after 5 changes", p.Revision)
	}
}

func TestListedAndPickable(t *testing.T) {
	for _, tc := range []struct {
		vis              persona.Visibility
		published        uint32
		listed, pickable bool
	}{
		{persona.Public, 1, true, true},
		{persona.Public, 0, false, false},
		{persona.Unlisted, 2, false, true},
		{persona.Private, 3, false, false},
	} {
		p := persona.Persona{Visibility: tc.vis, Published: tc.published}
		if p.Listed() != tc.listed || p.Pickable() != tc.pickable {
			t.Errorf("%s published %d: listed %v pickable %v, want %v %v", tc.vis, tc.published, p.Listed(), p.Pickable(), tc.listed, tc.pickable)
		}
	}
}

func TestProtoRoundTrip(t *testing.T) {
	p := newPersona()
	p.Published = 4
	m := p.Proto()
	if m.GetStatus() != corralv1.PersonaStatus_PERSONA_STATUS_DRAFT || m.GetVersion() != 0 {
		t.Errorf("draft proto status %v version %d", m.GetStatus(), m.GetVersion())
	}
	if m.GetSafety().GetThreshold() != persona.Strict.Threshold() || !m.GetSafety().GetCheckInput() {
		t.Errorf("safety settings %v", m.GetSafety())
	}
	// Through the wire format, as it crosses processes.
	wire, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var back corralv1.Persona
	if err := proto.Unmarshal(wire, &back); err != nil {
		t.Fatal(err)
	}
	if got := persona.PersonaFromProto(&back); !reflect.DeepEqual(got, p) {
		t.Errorf("persona round trip:\n%+v\nwant\n%+v", got, p)
	}

	_, v := p.Rollback(persona.Version{Number: 2, Spec: p.Draft}, t0)
	vm := v.Proto()
	if vm.GetStatus() != corralv1.PersonaStatus_PERSONA_STATUS_PUBLISHED || vm.GetVersion() != 5 || vm.GetRepublishedFrom() != 2 {
		t.Errorf("version proto: status %v version %d from %d", vm.GetStatus(), vm.GetVersion(), vm.GetRepublishedFrom())
	}
	if got := persona.VersionFromProto(vm); !reflect.DeepEqual(got, v) {
		t.Errorf("version round trip:\n%+v\nwant\n%+v", got, v)
	}
}

func TestSpecFromProtoDefaults(t *testing.T) {
	s := persona.SpecFromProto(&corralv1.Persona{Name: "x"})
	if s.Generation != persona.DefaultGeneration() || s.Safety.Strictness != persona.Standard {
		t.Errorf("unset fields gave %+v %+v", s.Generation, s.Safety)
	}
}

func TestDefaultPersona(t *testing.T) {
	d := persona.Default()
	if err := d.Spec.Validate(); err != nil {
		t.Fatalf("default persona invalid: %v", err)
	}
	if d.PersonaID != persona.DefaultID || d.Number != 1 {
		t.Errorf("default persona id %q version %d", d.PersonaID, d.Number)
	}
	if err := persona.ValidateHandle(persona.DefaultHandle); err == nil {
		t.Errorf("the default persona's handle %q is not reserved", persona.DefaultHandle)
	}
}
