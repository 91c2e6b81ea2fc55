package persona

// The built-in default persona answers on channels that have no persona
// bound, so a fresh install replies at once. It is not stored; its handle is
// reserved so no creator can take it.
const (
	// DefaultID is the persona id of the built-in default persona. Stored
	// personas never have it.
	DefaultID = "builtin-default"
	// DefaultHandle is the built-in default persona's handle.
	DefaultHandle = "assistant"
)

// Default returns the built-in default persona's only version: a helpful,
// concise assistant.
func Default() Version {
	return Version{
		PersonaID: DefaultID,
		Number:    1,
		Spec: Spec{
			Name:        "Assistant",
			Avatar:      "🤖",
			Description: "A helpful, concise assistant.",
			Instructions: "Help the user with whatever they ask. Keep replies short and clear, a few sentences " +
				"that read well on a phone, and use lists only when they help. Answer in the language the user " +
				"writes in. If you do not know something, say so instead of guessing.",
			Traits:     []string{"helpful", "concise", "friendly"},
			Safety:     Safety{Strictness: Standard},
			Generation: DefaultGeneration(),
		},
	}
}
