package engine

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/corral-ai/corral/inference/chattemplate"
	"github.com/corral-ai/corral/inference/model"
	"github.com/corral-ai/corral/inference/tokenizer"
)

// LoadOptions configures Load.
type LoadOptions struct {
	// Threads is how many threads run the matrix products: 0 means every
	// CPU the process may use (GOMAXPROCS); more than that is capped to it,
	// with a warning in the log (extra threads only spin); negative is an
	// error. See Threads.
	Threads int
	// KeepLayout uses Q4_0 and Q8_0 weights as laid out in the file instead
	// of copying them once into the faster interleaved layout
	// (model.Options.KeepLayout).
	KeepLayout bool
	// ChatTemplate names the chat format (chattemplate.Names) to use
	// instead of the one recognised in the model's own template.
	ChatTemplate string
	// Logger receives warnings; nil discards them.
	Logger *slog.Logger
}

// Threads resolves a requested number of worker threads: 0 means
// GOMAXPROCS (the CPUs the process may use), a larger request is capped to
// GOMAXPROCS, and a negative one is an error. Callers that want to tell
// their user about a cap compare the result with the request.
func Threads(requested int) (int, error) {
	n := runtime.GOMAXPROCS(0)
	switch {
	case requested < 0:
		return 0, fmt.Errorf("%w: %d threads", ErrInvalidOptions, requested)
	case requested == 0 || requested > n:
		return n, nil
	}
	return requested, nil
}

// Bundle is one servable model: the weights, the tokenizer read from the
// same file and the chat template chosen for it. It is safe for concurrent
// use; an Engine runs requests over it.
type Bundle struct {
	m       model.Model
	tok     *tokenizer.Tokenizer
	tmpl    *chattemplate.Template
	tmplErr error // why there is no template, for chat requests
	id      string
}

// Load opens the GGUF model at path with its tokenizer and chat template.
func Load(path string, o LoadOptions) (*Bundle, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	threads, err := Threads(o.Threads)
	if err != nil {
		return nil, err
	}
	if o.Threads > threads {
		log.Warn("fewer worker threads than asked: more threads than CPUs only spin", "asked", o.Threads, "threads", threads)
	}
	if o.ChatTemplate != "" {
		// Refuse a wrong name before the slow part.
		if _, err := chattemplate.ByName(o.ChatTemplate); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidOptions, err)
		}
	}
	m, err := model.Open(path, model.Options{Threads: threads, KeepLayout: o.KeepLayout})
	if err != nil {
		return nil, err
	}
	tok, err := tokenizer.FromMetadata(m.File())
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("load tokenizer of %s: %w", path, err)
	}
	b, err := NewBundle(m, tok, o.ChatTemplate)
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	b.id = strings.TrimSuffix(filepath.Base(path), ".gguf")
	return b, nil
}

// NewBundle makes a bundle of a loaded model and its tokenizer; on success
// the bundle owns m (Bundle.Close closes it). chatTemplate names a chat format to use
// instead of the one recognised in the tokenizer's template; a model
// without a template still serves text and token prompts.
func NewBundle(m model.Model, tok *tokenizer.Tokenizer, chatTemplate string) (*Bundle, error) {
	if tok.Len() > m.Config().Vocab {
		return nil, fmt.Errorf("%w: the tokenizer has %d tokens, the model's output only %d", model.ErrFormat, tok.Len(), m.Config().Vocab)
	}
	b := &Bundle{m: m, tok: tok, id: m.Config().Name}
	b.tmpl, b.tmplErr = chattemplate.Select(tok.ChatTemplate(), chatTemplate)
	if b.tmplErr != nil && chatTemplate != "" {
		return nil, fmt.Errorf("%w: %w", ErrInvalidOptions, b.tmplErr)
	}
	return b, nil
}

// Model returns the model, for callers that run forward passes themselves
// (benchmarks of the model alone).
func (b *Bundle) Model() model.Model { return b.m }

// Tokenizer returns the model's tokenizer.
func (b *Bundle) Tokenizer() *tokenizer.Tokenizer { return b.tok }

// Template returns the chat format, or why there is none.
func (b *Bundle) Template() (*chattemplate.Template, error) { return b.tmpl, b.tmplErr }

// Info describes a bundle for listings (the models endpoint).
type Info struct {
	// ID names the model: the file name without .gguf, or the model's own
	// name when it was not loaded from a file.
	ID string
	// Config is the model's shape, context length and weight type.
	Config model.Config
	// ChatTemplate is the chat format's name, "" when there is none.
	ChatTemplate string
}

// Info describes the bundle.
func (b *Bundle) Info() Info {
	i := Info{ID: b.id, Config: b.m.Config()}
	if b.tmpl != nil {
		i.ChatTemplate = b.tmpl.Name()
	}
	return i
}

// Close releases the model.
func (b *Bundle) Close() error { return b.m.Close() }

// Prompt is an Input turned into tokens.
type Prompt struct {
	// IDs are the prompt's tokens.
	IDs []int32
	// StopTokens end the reply: the vocabulary's end-of-generation tokens,
	// and for a conversation the chat template's end-of-turn tokens.
	StopTokens []int32
	// Template is the chat format used, "" for text and token prompts.
	Template string
}

// Prompt turns an input into token ids and the tokens that end its reply.
// It does not check the length against a context: Submit does.
func (b *Bundle) Prompt(in Input) (Prompt, error) {
	forms := 0
	for _, set := range []bool{in.Chat != nil, in.Text != "", in.IDs != nil} {
		if set {
			forms++
		}
	}
	switch {
	case forms == 0:
		return Prompt{}, fmt.Errorf("%w: the prompt is empty", ErrInvalidRequest)
	case forms > 1:
		return Prompt{}, fmt.Errorf("%w: give the prompt as chat turns, text or token ids, only one", ErrInvalidRequest)
	}
	p := Prompt{StopTokens: b.tok.EOG()}
	switch {
	case in.IDs != nil:
		vocab := b.m.Config().Vocab
		for i, id := range in.IDs {
			if id < 0 || int(id) >= vocab {
				return Prompt{}, fmt.Errorf("%w: prompt token %d (at %d) is not a token id of this model (0..%d)", ErrInvalidRequest, id, i, vocab-1)
			}
		}
		p.IDs = append([]int32(nil), in.IDs...)
	case in.Text != "":
		p.IDs = b.tok.Encode(in.Text, tokenizer.EncodeOptions{AddBOS: b.tok.AddBOS(), ParseSpecial: in.ParseSpecial})
	default:
		if b.tmpl == nil {
			return Prompt{}, fmt.Errorf("%w: a conversation needs a chat template: %w", ErrInvalidRequest, b.tmplErr)
		}
		c, err := conversation(in.Chat)
		if err != nil {
			return Prompt{}, err
		}
		r, err := b.tmpl.Apply(b.tok, c)
		if err != nil {
			if errors.Is(err, chattemplate.ErrMissingToken) {
				return Prompt{}, fmt.Errorf("render conversation: %w", err)
			}
			return Prompt{}, fmt.Errorf("%w: %w", ErrInvalidRequest, err)
		}
		p.IDs, p.Template = r.IDs, b.tmpl.Name()
		for _, id := range b.tmpl.StopTokens(b.tok) {
			if !b.tok.IsEOG(id) {
				p.StopTokens = append(p.StopTokens, id)
			}
		}
	}
	if len(p.IDs) == 0 {
		return Prompt{}, fmt.Errorf("%w: the prompt has no tokens", ErrInvalidRequest)
	}
	return p, nil
}

// conversation maps turns to the template's form: the system turn apart,
// the rest as they come (the template checks their order).
func conversation(turns []Turn) (chattemplate.Conversation, error) {
	var c chattemplate.Conversation
	for i, t := range turns {
		switch t.Role {
		case System:
			if i != 0 {
				return c, fmt.Errorf("%w: turn %d is a system turn; only the first turn may be", ErrInvalidRequest, i)
			}
			c.System = t.Content
		case User:
			c.Turns = append(c.Turns, chattemplate.Turn{Role: chattemplate.User, Content: t.Content})
		case Assistant:
			c.Turns = append(c.Turns, chattemplate.Turn{Role: chattemplate.Assistant, Content: t.Content})
		default:
			return c, fmt.Errorf("%w: turn %d has role %q (want system, user or assistant)", ErrInvalidRequest, i, t.Role)
		}
	}
	return c, nil
}
