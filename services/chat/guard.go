package chat

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/corral-ai/corral/inference/engine"
	"github.com/corral-ai/corral/inference/safety"
)

// guardModel is a Llama Guard 3 model served in this process by an engine
// of its own: the safety stage asks it about user messages its fast passes
// are unsure of.
type guardModel struct {
	bundle *engine.Bundle
	engine *engine.Engine
}

// openGuard loads the guard model at path with every CPU the process has.
func openGuard(path string) (*guardModel, error) {
	threads, err := engine.Threads(0)
	if err != nil {
		return nil, fmt.Errorf("guard model: %w", err)
	}
	b, err := engine.Load(path, engine.LoadOptions{Threads: threads})
	if err != nil {
		return nil, fmt.Errorf("guard model: %w", err)
	}
	e, err := engine.New(b, engine.Options{})
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("guard model %s: %w", path, err)
	}
	return &guardModel{bundle: b, engine: e}, nil
}

// asGuard is the safety stage's view of g; nil for no guard model.
func (g *guardModel) asGuard() *safety.Guard {
	if g == nil {
		return nil
	}
	return safety.NewGuard(g.engine)
}

// close stops the engine, letting verdicts in flight finish for a while,
// and unmaps the model.
func (g *guardModel) close() error {
	if g == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return errors.Join(g.engine.Close(ctx), g.bundle.Close())
}
