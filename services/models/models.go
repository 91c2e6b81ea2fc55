// Package models is the models role: it owns the model file Corral serves
// (CORRAL_MODEL), writes the demo model when none is configured, opens and
// validates the model fully at start so a file that cannot be served stops
// the process with a clear message, and reports the model on GET /models.
// The inference role holds the model open; this role only checks it.
package models

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/corral-ai/corral/inference/gguf"
	"github.com/corral-ai/corral/inference/model"
	"github.com/corral-ai/corral/inference/model/synth"
	"github.com/corral-ai/corral/inference/tokenizer"
	"github.com/corral-ai/corral/services/internal/atomicfile"
	"github.com/corral-ai/corral/services/internal/role"
	"github.com/corral-ai/corral/services/internal/settings"
)

// EnvModel is the setting naming the model file.
const EnvModel = "CORRAL_MODEL"

// Definition describes the role to the binary.
var Definition = role.Define("models", "check the served model and report it at GET /models",
	role.Needs{}, DefaultConfig, New)

// Config is the role's configuration.
type Config struct {
	// Path is the GGUF file to serve. Empty means the demo model, written
	// to the models folder of the data folder on first start.
	Path string
}

// DefaultConfig returns the defaults: the demo model.
func DefaultConfig() Config {
	var c Config
	settings.Defaults(&c)
	return c
}

// Settings declares the role's settings.
func (c *Config) Settings() []settings.Setting {
	return []settings.Setting{
		{Env: EnvModel, Flag: "model", Help: "GGUF file to serve; empty uses the demo model written to the data folder",
			Set: settings.String(&c.Path)},
	}
}

// Validate checks that a configured model file exists and is a file. Verify
// opens it.
func (c Config) Validate() error {
	if c.Path == "" {
		return nil
	}
	if err := checkFile(c.Path); err != nil {
		return settings.Problem{Env: EnvModel, Err: err}
	}
	return nil
}

// Verify opens a configured model as New does and reports what New would
// refuse. The demo model is not written.
func (c Config) Verify(context.Context) error {
	if c.Path == "" {
		return nil
	}
	if _, err := Inspect(c.Path); err != nil {
		return settings.Problem{Env: EnvModel, Err: err}
	}
	return nil
}

func checkFile(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if st.IsDir() {
		return fmt.Errorf("%s is a folder, want a GGUF file", path)
	}
	return nil
}

// Status describes the served model; GET /models reports it.
type Status struct {
	// Path is the model file.
	Path string `json:"path"`
	// Name is general.name, when the file sets it.
	Name string `json:"name,omitempty"`
	// Architecture is general.architecture, such as "llama".
	Architecture string `json:"architecture"`
	// Parameters counts the elements of every tensor.
	Parameters uint64 `json:"parameters"`
	// WeightType is the type holding most weight bytes, such as "Q4_0".
	WeightType string `json:"weight_type"`
	// ContextLength is the trained context length in tokens.
	ContextLength int `json:"context_length"`
	// Tokenizer is the tokenizer kind: "SentencePiece" or "byte-level BPE".
	Tokenizer string `json:"tokenizer"`
	// VocabSize is the number of tokens.
	VocabSize int `json:"vocab_size"`
	// FileSize is the file's size in bytes.
	FileSize int64 `json:"file_size"`
	// Demo is true for Corral's random-weight demo model, whose replies
	// are not meaningful.
	Demo bool `json:"demo"`
}

// Inspect opens the model in path as the engine will, checks that its
// weights load and its tokenizer builds and fits the model, closes it
// again and describes it.
func Inspect(path string) (Status, error) {
	if err := checkFile(path); err != nil {
		return Status{}, err
	}
	f, err := gguf.Open(path) // its errors name the path
	if err != nil {
		return Status{}, err
	}
	in := f.Info()
	tok, tokErr := tokenizer.FromMetadata(f)
	f.Close()
	if in.TensorCount == 0 {
		if tokErr == nil {
			return Status{}, fmt.Errorf("%s has no weights (0 tensors): it holds only a tokenizer vocabulary; want a Llama model GGUF", path)
		}
		return Status{}, fmt.Errorf("%s has no weights (0 tensors); want a Llama model GGUF", path)
	}
	if tokErr != nil {
		return Status{}, fmt.Errorf("%s: tokenizer: %w", path, tokErr)
	}
	// One thread and the file's own layout: this only checks that the
	// model loads, so it should cost no more than mapping the file.
	m, err := model.Open(path, model.Options{Threads: 1, KeepLayout: true})
	if err != nil {
		return Status{}, err
	}
	mc := m.Config()
	if err := m.Close(); err != nil {
		return Status{}, fmt.Errorf("close %s: %w", path, err)
	}
	if tok.Len() > mc.Vocab {
		return Status{}, fmt.Errorf("%s: the tokenizer has %d tokens but the model only %d output rows", path, tok.Len(), mc.Vocab)
	}
	return Status{
		Path: path, Name: in.Name, Architecture: in.Architecture,
		Parameters: in.Parameters, WeightType: mc.WeightType, ContextLength: mc.ContextLength,
		Tokenizer: gguf.TokenizerKind(in.Tokenizer), VocabSize: tok.Len(), FileSize: in.FileSize,
	}, nil
}

// DemoNotice is what the log says while the demo model is in use.
const DemoNotice = "no model configured: serving Corral's demo model, whose random weights make replies that are not meaningful; " +
	"point Corral at a real Llama GGUF with CORRAL_MODEL=/path/to/model.gguf or --model " +
	"(for example Llama 3.2 1B or 3B Instruct, or Llama 3.1 8B Instruct, in Q4_K_M or Q8_0)"

// Role is the running models role.
type Role struct {
	log    *slog.Logger
	status Status
	// size and modTime are the file's at validation, for the readiness
	// check.
	size    int64
	modTime time.Time
}

var _ role.Role = (*Role)(nil)

// New makes sure there is a model to serve (the configured file, or the
// demo model written to DataDir/models) and validates it with Inspect.
func New(cfg Config, deps role.Deps) (*Role, error) {
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	path, demo := cfg.Path, cfg.Path == ""
	if demo {
		p, created, err := ensureDemo(filepath.Join(deps.DataDir, "models"))
		if err != nil {
			return nil, err
		}
		path = p
		log.Warn(DemoNotice, "model", path, "written_now", created)
	}
	st, err := Inspect(path)
	if err != nil {
		if demo {
			return nil, fmt.Errorf("demo model: %w", err)
		}
		return nil, settings.Problem{Env: EnvModel, Err: err}
	}
	st.Demo = demo
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	log.Info("model", "path", path, "name", st.Name, "architecture", st.Architecture,
		"parameters", st.Parameters, "weight_type", st.WeightType, "bytes", st.FileSize, "demo", demo)
	return &Role{log: log, status: st, size: fi.Size(), modTime: fi.ModTime()}, nil
}

// ensureDemo writes the demo model into dir unless it is there already.
// It writes through atomicfile, so an error names the model file and an
// interrupted first start leaves no half-written model behind.
func ensureDemo(dir string) (path string, created bool, err error) {
	path = filepath.Join(dir, synth.DemoFile)
	if _, err := os.Stat(path); err == nil {
		return path, false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", false, fmt.Errorf("demo model: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", false, fmt.Errorf("demo model: %w", err)
	}
	if err := atomicfile.Write(path, func(w io.Writer) error { return synth.Write(w, synth.DemoSpec()) }); err != nil {
		return "", false, fmt.Errorf("demo model: %w", err)
	}
	return path, true, nil
}

// Status describes the model the role validated.
func (r *Role) Status() Status { return r.status }

// Routes adds GET /models.
func (r *Role) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /models", r.serveModels)
}

func (r *Role) serveModels(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string][]Status{"models": {r.status}})
}

// Run has nothing to do until ctx ends: the role holds nothing open.
func (r *Role) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// Checks has one check, "model": the file validated at start is still
// there, unchanged.
func (r *Role) Checks() map[string]role.Check {
	return map[string]role.Check{"model": r.checkFile}
}

// ErrChanged means the model file changed after it was validated.
var ErrChanged = errors.New("model file changed since it was validated at start; restart to validate it again")

func (r *Role) checkFile(context.Context) error {
	fi, err := os.Stat(r.status.Path)
	if err != nil {
		return err
	}
	if fi.Size() != r.size || !fi.ModTime().Equal(r.modTime) {
		return ErrChanged
	}
	return nil
}
