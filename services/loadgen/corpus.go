package loadgen

import (
	_ "embed"
	"fmt"
	"os"
	"strings"
	"unicode/utf8"
)

//go:embed corpus.txt
var builtinCorpus string

// maxMessage bounds a corpus line: WhatsApp takes 4096 characters.
const maxMessage = 4096

// Corpus is the messages users send.
type Corpus []string

// BuiltinCorpus is the corpus that ships with Corral.
func BuiltinCorpus() Corpus {
	c, err := ParseCorpus(builtinCorpus)
	if err != nil {
		panic(err) // the embedded file is checked by a test
	}
	return c
}

// LoadCorpus reads a corpus file; empty path is the built-in corpus.
func LoadCorpus(path string) (Corpus, error) {
	if path == "" {
		return BuiltinCorpus(), nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: read corpus: %w", ErrScenario, err)
	}
	c, err := ParseCorpus(string(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// ParseCorpus reads one message a line, skipping blank lines and lines
// starting with #. Commands (lines starting with /) are refused: they
// would change the deployment's state rather than talk to it.
func ParseCorpus(text string) (Corpus, error) {
	var c Corpus
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(strings.TrimSuffix(line, "\r"))
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
			continue
		case !utf8.ValidString(line):
			return nil, bad("corpus line %d: not UTF-8", i+1)
		case strings.HasPrefix(line, "/"):
			return nil, bad("corpus line %d: %q is a command; write messages only", i+1, line)
		case utf8.RuneCountInString(line) > maxMessage:
			return nil, bad("corpus line %d: longer than %d characters", i+1, maxMessage)
		}
		c = append(c, line)
	}
	if len(c) == 0 {
		return nil, bad("corpus holds no message")
	}
	return c, nil
}
