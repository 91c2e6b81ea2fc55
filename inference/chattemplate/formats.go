package chattemplate

import "github.com/corral-ai/corral/inference/tokenizer"

// Llama3 is the format of Llama 3 Instruct models:
//
//	<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n{system}<|eot_id|>
//	<|start_header_id|>user<|end_header_id|>\n\n{user}<|eot_id|>
//	...
//	<|start_header_id|>assistant<|end_header_id|>\n\n
//
// Message texts are trimmed, as the template's "| trim" does. The reply ends
// with <|eot_id|> (or <|end_of_text|>, or <|eom_id|> after a tool call).
// Llama 3.1 and 3.2 templates are recognised as this format; their optional
// "Cutting Knowledge Date" system preamble is not added.
var Llama3 = &Template{
	name:    "llama3",
	markers: []string{"<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"},
	render: func(c Conversation) []segment {
		segs := []segment{{kind: segBOS}}
		msg := func(role, content string) {
			segs = append(segs, special("<|start_header_id|>"), text(role), special("<|end_header_id|>"),
				text("\n\n"+strip(content)), special("<|eot_id|>"))
		}
		if c.System != "" {
			msg("system", c.System)
		}
		for _, t := range c.Turns {
			msg(string(t.Role), t.Content)
		}
		return append(segs, special("<|start_header_id|>"), text("assistant"), special("<|end_header_id|>"), text("\n\n"))
	},
	stops: func(tok *tokenizer.Tokenizer) []int32 {
		return lookup(tok, "<|eot_id|>", "<|end_of_text|>", "<|eom_id|>")
	},
}

// Llama2 is the format of Llama 2 Chat models: every exchange opens with
// BOS, as the model was trained (so a prompt with earlier exchanges holds one
// BOS per user turn, the first at the start), and the system prompt sits
// inside the first user message:
//
//	<s>[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST] {assistant} </s><s>[INST] {user} [/INST]
//
// Message texts are stripped, as the template's .strip() does. The reply
// ends with EOS. An opening assistant turn is rendered as the answer to an
// empty user message, which then carries the system prompt alone.
var Llama2 = &Template{
	name:    "llama2",
	markers: []string{"[INST]", "[/INST]", "<<SYS>>"},
	render: func(c Conversation) []segment {
		var segs []segment
		turns := c.Turns
		if turns[0].Role == Assistant {
			turns = append([]Turn{{Role: User}}, turns...)
		}
		for i, t := range turns {
			content := t.Content
			if t.Role == Assistant {
				segs = append(segs, text(" "+strip(content)+" "), segment{kind: segEOS})
				continue
			}
			if i == 0 && c.System != "" {
				content = "<<SYS>>\n" + c.System + "\n<</SYS>>\n\n" + content
			}
			segs = append(segs, segment{kind: segBOS}, text("[INST] "+strip(content)+" [/INST]"))
		}
		return segs
	},
	stops: func(*tokenizer.Tokenizer) []int32 { return nil },
}

// ChatML is the format of Qwen, Hermes and many fine-tunes:
//
//	<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n...<|im_start|>assistant\n
//
// preceded by BOS when the vocabulary asks for one (add_bos_token). Texts
// are not trimmed. The reply ends with <|im_end|>.
var ChatML = &Template{
	name:    "chatml",
	markers: []string{"<|im_start|>", "<|im_end|>"},
	render: func(c Conversation) []segment {
		segs := []segment{{kind: segBOSIfWanted}}
		msg := func(role, content string) {
			segs = append(segs, special("<|im_start|>"), text(role+"\n"+content), special("<|im_end|>"), text("\n"))
		}
		if c.System != "" {
			msg("system", c.System)
		}
		for _, t := range c.Turns {
			msg(string(t.Role), t.Content)
		}
		return append(segs, special("<|im_start|>"), text("assistant\n"))
	},
	stops: func(tok *tokenizer.Tokenizer) []int32 { return lookup(tok, "<|im_end|>") },
}
