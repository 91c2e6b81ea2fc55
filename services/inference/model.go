package inference

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/corral-ai/corral/inference/gguf"
	"github.com/corral-ai/corral/inference/model"
	"github.com/corral-ai/corral/inference/model/synth"
	"github.com/corral-ai/corral/inference/tokenizer"
	"github.com/corral-ai/corral/services/internal/atomicfile"
)

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
