package inference

import (
	"testing"

	"google.golang.org/protobuf/proto"

	corralv1 "github.com/corral-ai/corral/proto/corral/v1"
)

// FuzzEngineRequest feeds the generate endpoint's decoding: any bytes as a
// GenerateRequest and any Corral-Window value either become a valid engine
// request or a coded error, never a panic.
func FuzzEngineRequest(f *testing.F) {
	seeds := []*corralv1.GenerateRequest{
		{},
		{Input: &corralv1.GenerateRequest_Prompt{Prompt: "hi"}},
		{Input: &corralv1.GenerateRequest_PromptTokens{PromptTokens: &corralv1.TokenIDs{Ids: []int32{1, 2}}},
			Sampling: &corralv1.SamplingOptions{Temperature: ptr[float32](0.5), Seed: ptr[uint64](1), MaxTokens: ptr[int32](9), Stop: []string{"x"}}},
		{Input: &corralv1.GenerateRequest_Chat{Chat: &corralv1.ChatTurns{Turns: []*corralv1.ChatTurn{{Role: corralv1.ChatRole_CHAT_ROLE_USER, Content: "a"}}}},
			Priority: corralv1.Priority_PRIORITY_PREVIEW, ConversationKey: "k", Model: "m"},
		{Input: &corralv1.GenerateRequest_Chat{Chat: &corralv1.ChatTurns{Turns: []*corralv1.ChatTurn{{Content: "a"}}}}, Priority: 7},
	}
	for i, s := range seeds {
		b, err := proto.Marshal(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, []string{"", "32", "1", "99999", "x"}[i])
	}
	f.Fuzz(func(t *testing.T, data []byte, window string) {
		if w, err := windowOf(window); err == nil {
			if w < corralv1.InferenceMinWindow || w > corralv1.InferenceMaxWindow {
				t.Fatalf("window %d from %q", w, window)
			}
		} else if codeOf(err) != corralv1.ErrorCode_ERROR_CODE_INVALID_REQUEST {
			t.Fatalf("window error %v has code %v", err, codeOf(err))
		}
		var r corralv1.GenerateRequest
		if err := proto.Unmarshal(data, &r); err != nil {
			return
		}
		er, err := engineRequest(&r, "m", 2048)
		if err != nil {
			if c := codeOf(err); c != corralv1.ErrorCode_ERROR_CODE_INVALID_REQUEST && c != corralv1.ErrorCode_ERROR_CODE_MODEL_NOT_FOUND {
				t.Fatalf("error %v has code %v", err, c)
			}
			return
		}
		if er.Sampling.MaxTokens < 1 || er.Sampling.MaxTokens > 2048 {
			t.Fatalf("max tokens %d", er.Sampling.MaxTokens)
		}
		if er.Input.Chat == nil && er.Input.IDs == nil && r.GetPrompt() != er.Input.Text {
			t.Fatalf("prompt %q became %q", r.GetPrompt(), er.Input.Text)
		}
	})
}
