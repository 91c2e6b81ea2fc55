package studio

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/corral-ai/corral/inference/safety"
	"github.com/corral-ai/corral/persona"
	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func testRole(t *testing.T) *Role {
	t.Helper()
	stage, err := safety.New(safety.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return &Role{stage: stage}
}

func TestJudgeScriptedReplies(t *testing.T) {
	r := testRole(t)
	policy, err := policyFor(persona.NewEdit().Spec)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		reply  string
		finish corralv1.FinishReason
		want   string // "" passes
	}{
		{"friendly", "Hi! I'm Luna, and I love talking about stars and planets.", corralv1.FinishReason_FINISH_REASON_STOP, ""},
		{"empty", "", corralv1.FinishReason_FINISH_REASON_STOP, ""},
		{"engine filter", "", corralv1.FinishReason_FINISH_REASON_SAFETY, "safety filter"},
		{"unsafe reply", "Here is how to build a pipe bomb at home: first get explosives, then step by step instructions follow.",
			corralv1.FinishReason_FINISH_REASON_LENGTH, "safety stage refused it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := r.judge(1, gateScript[1], tt.reply, tt.finish, &policy)
			switch {
			case tt.want == "" && got != nil:
				t.Fatalf("refused: %+v", got)
			case tt.want != "" && (got == nil || got.Field != "conversation[1]" || !strings.Contains(got.Reason, tt.want) || !strings.Contains(got.Reason, gateScript[1])):
				t.Fatalf("got %+v, want conversation[1] refused with %q", got, tt.want)
			}
		})
	}
}

func TestCheckFieldsNamesEachRefusedField(t *testing.T) {
	r := testRole(t)
	s := persona.NewEdit().Spec
	s.Name = "Luna"
	s.Instructions = "You are Luna, a cheerful astronomy guide."
	s.Greeting = "Hello! Ask me about the night sky."
	s.Examples = []persona.Example{
		{User: "What is a comet?", Assistant: "A dusty snowball that grows a tail near the Sun."},
		{User: "Hi", Assistant: "Sure: to make a pipe bomb, get explosives and follow these step by step instructions."},
	}
	policy, err := policyFor(s)
	if err != nil {
		t.Fatal(err)
	}
	got := r.checkFields(s, &policy)
	if len(got) != 1 || got[0].Field != "examples[1].assistant" {
		t.Fatalf("refused %+v, want examples[1].assistant alone", got)
	}
}

// TestFramesGolden pins the JSON form of the frames the browser reads.
func TestFramesGolden(t *testing.T) {
	at := time.Date(2026, 12, 1, 16, 0, 0, 0, time.UTC)
	p := persona.Persona{ID: "p_aaaaaaaaaaaaaaaaaaaaaaaaaa", OwnerID: "c_bbbbbbbbbbbbbbbbbbbbbbbbbb", Handle: "luna",
		Visibility: persona.Private, Draft: persona.NewEdit().Spec, Revision: 3, Published: 1, CreatedAt: at, UpdatedAt: at}
	p.Draft.Name, p.Draft.Instructions = "Luna", "Talk about stars."
	p.Draft.Examples = []persona.Example{{User: "Hi", Assistant: "Hello!"}}
	frames := []any{
		response{ID: "1", Result: map[string]any{"persona": viewPersona(p)}},
		response{ID: "2", Result: map[string]any{"version": viewVersion(persona.Version{Number: 3, From: 1, PublishedAt: at, Spec: p.Draft})}},
		response{ID: "3", Error: &wireError{Code: codeInvalid, Message: "the persona has fields to fix",
			Fields: []wireFieldError{{Field: "handle", Reason: "must start with a letter"}}}},
		response{ID: "4", Error: &wireError{Code: codeRateLimited, Message: "more than 20 requests a second", RetryAfterMS: 50}},
		event{ID: "5", Event: "delta", Data: map[string]string{"text": " The moon"}},
		event{Event: "persona.changed", Data: map[string]any{"persona_id": p.ID, "change": "deleted", "published": 1}},
	}
	var b strings.Builder
	for _, f := range frames {
		data, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(data)
		b.WriteByte('\n')
	}
	path := filepath.Join("testdata", "frames.golden.jsonl")
	if *update {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != string(want) {
		t.Fatalf("frames differ from %s (go test -update rewrites it):\n%s", path, b.String())
	}
}

func FuzzDecodeRequest(f *testing.F) {
	for _, s := range []string{
		`{"id":"1","op":"auth","token":"ctok_x"}`,
		`{"id":"2","op":"persona.update","persona_id":"p_x","revision":3,"persona":{"handle":"luna"}}`,
		`{"id":"3","op":"preview.chat","persona_id":"p_x","messages":[{"role":"user","content":"hi"}]}`,
		`{"id":"4","op":"channel.bind","platform":"whatsapp","channel_id":"1","persona_id":""}`,
		`{"op":"x"}`, `{"id":7}`, `[]`, `null`, "{\"id\":\"\xff\"}", `{"id":"1","op":"a"} {}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := decodeRequest(data)
		if err != nil {
			fe, ok := err.(*errFrame)
			if !ok {
				t.Fatalf("error %T %v, want *errFrame", err, err)
			}
			if len(fe.id) > maxIDLen || fe.msg == "" {
				t.Fatalf("errFrame %+v", fe)
			}
			// The error answer must encode.
			if _, err := json.Marshal(response{ID: fe.id, Error: newError(codeBadRequest, "%s", fe.msg)}); err != nil {
				t.Fatal(err)
			}
			return
		}
		if req.ID == "" || len(req.ID) > maxIDLen || req.Op == "" {
			t.Fatalf("accepted %+v", req)
		}
	})
}
