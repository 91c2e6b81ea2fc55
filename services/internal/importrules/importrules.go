// Package importrules checks which way the module's imports point
// (docs/architecture.md):
//
//   - proto/** imports nothing of ours;
//   - inference/** imports only inference and proto;
//   - persona/** imports only persona and proto;
//   - bots/** imports only bots, persona and proto;
//   - services/** and deploy/** may import anything of ours, but a role,
//     services/<role>/**, is imported only by services/corral and by the
//     role itself (services/internal/** is shared by every role);
//   - no package lives outside the fixed top level.
//
// Test files count like the rest of their package, with one exception: an
// external test package (package x_test) of persona may also import the
// inference packages that render and count prompts (chattemplate,
// tokenizer, gguf, shareddata), so prompt golden files are checked against
// the real chat templates. Nothing outside that test package can reach them
// through it. The package's own test
// runs the check over `go list -deps -test` of the whole module, so `go
// test ./...` (and CI) fails on a wrong import.
//
// It lives under services/ because it is the one package that knows every
// layer by name, and services is the one layer allowed to depend on all of
// them; internal/ keeps it out of anyone's API.
package importrules

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
)

// Package is what the check needs of a package.
type Package struct {
	// Path is the import path relative to the module, such as
	// "inference/model"; a test variant is folded onto its package.
	Path string
	// Imports are the module-relative paths of the module's packages it
	// imports (its in-package test files' imports included).
	Imports []string
	// XTest marks the external test package (package x_test) of Path.
	XTest bool
}

// Violation is one import (or one package) that breaks a rule.
type Violation struct {
	From string // module-relative path of the importing package
	To   string // module-relative path of the imported package; "" for a misplaced package
	Rule string // the rule broken, as a sentence
}

func (v Violation) String() string {
	if v.To == "" {
		return fmt.Sprintf("%s: %s", v.From, v.Rule)
	}
	return fmt.Sprintf("%s imports %s: %s", v.From, v.To, v.Rule)
}

// The rules, as Violation.Rule states them.
const (
	RuleTopLevel  = "packages live in services, bots, persona, inference, proto or deploy"
	RuleProto     = "proto imports nothing of ours"
	RuleInference = "inference imports nothing of ours but inference and proto (never services, bots or persona)"
	RulePersona   = "persona imports nothing of ours but persona and proto (never bots or services)"
	RuleBots      = "bots imports nothing of ours but bots, persona and proto (never inference or services)"
	RuleRole      = "only services/corral imports a role (services/<role>); roles share services/internal"
)

// xtestMayImport lists, for each top-level folder, the packages of other
// areas its external test packages may import besides its own rules.
var xtestMayImport = map[string][]string{
	"persona": {"inference/chattemplate", "inference/tokenizer", "inference/gguf", "inference/shareddata"},
}

// mayImport lists, for each top-level folder, the folders its packages may
// import; nil means any.
var mayImport = map[string][]string{
	"proto":     {"proto"},
	"inference": {"inference", "proto"},
	"persona":   {"persona", "proto"},
	"bots":      {"bots", "persona", "proto"},
	"services":  nil,
	"deploy":    nil,
}

var areaRule = map[string]string{
	"proto":     RuleProto,
	"inference": RuleInference,
	"persona":   RulePersona,
	"bots":      RuleBots,
}

// Check returns every import among pkgs that breaks a rule, and every
// package outside the fixed top level, sorted.
func Check(pkgs []Package) []Violation {
	var out []Violation
	for _, p := range pkgs {
		if _, ok := mayImport[top(p.Path)]; !ok {
			out = append(out, Violation{From: p.Path, Rule: RuleTopLevel})
			continue
		}
		for _, to := range p.Imports {
			if p.XTest && slices.Contains(xtestMayImport[top(p.Path)], to) {
				continue
			}
			if rule := Rule(p.Path, to); rule != "" {
				out = append(out, Violation{From: p.Path, To: to, Rule: rule})
			}
		}
	}
	slices.SortFunc(out, func(a, b Violation) int {
		return strings.Compare(a.String(), b.String())
	})
	return slices.Compact(out)
}

// Rule returns the rule that the import of to by from breaks, or "" when
// it is allowed. Both are module-relative package paths.
func Rule(from, to string) string {
	allowed, known := mayImport[top(from)]
	if !known {
		return RuleTopLevel
	}
	if allowed != nil && !slices.Contains(allowed, top(to)) {
		return areaRule[top(from)]
	}
	if r := role(to); r != "" && r != role(from) && !within(from, "services/corral") {
		return RuleRole
	}
	return ""
}

// top returns the first element of a module-relative path.
func top(path string) string {
	first, _, _ := strings.Cut(path, "/")
	return first
}

// role returns "services/<role>" for a path inside a role's folder, and ""
// for services/internal/**, services/corral/** and anything outside
// services. services/corral is the binary, not a role others may import.
func role(path string) string {
	parts := strings.SplitN(path, "/", 3)
	if len(parts) < 2 || parts[0] != "services" || parts[1] == "internal" || parts[1] == "corral" {
		return ""
	}
	return parts[0] + "/" + parts[1]
}

// within reports whether path is dir or inside it.
func within(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, dir+"/")
}

// listed is one record of `go list -json=ImportPath,Imports`.
type listed struct {
	ImportPath string
	Imports    []string
}

// List runs `go list -deps -test` over ./... in dir, the root of a module,
// and returns the module's packages with their imports of the module's
// packages, test variants folded onto their package.
func List(ctx context.Context, dir string) ([]Package, error) {
	mod, err := goList(ctx, dir, "-m")
	if err != nil {
		return nil, err
	}
	module := strings.TrimSpace(string(mod))
	raw, err := goList(ctx, dir, "-deps", "-test", "-json=ImportPath,Imports", "./...")
	if err != nil {
		return nil, err
	}
	byPath := map[string]*Package{}
	var order []string
	dec := json.NewDecoder(bytes.NewReader(raw))
	for {
		var l listed
		if err := dec.Decode(&l); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("read go list output: %w", err)
		}
		path, ok := relative(module, l.ImportPath)
		if !ok || strings.HasSuffix(l.ImportPath, ".test") {
			continue // outside the module, or a generated test main
		}
		trimmed := strings.TrimSuffix(path, "_test") // external test package
		xtest := trimmed != path
		key := path
		path = trimmed
		p := byPath[key]
		if p == nil {
			p = &Package{Path: path, XTest: xtest}
			byPath[key] = p
			order = append(order, key)
		}
		for _, imp := range l.Imports {
			if to, ok := relative(module, imp); ok && to != path && !slices.Contains(p.Imports, to) {
				p.Imports = append(p.Imports, to)
			}
		}
	}
	pkgs := make([]Package, len(order))
	for i, key := range order {
		pkgs[i] = *byPath[key]
		slices.Sort(pkgs[i].Imports)
	}
	return pkgs, nil
}

// relative returns the module-relative path of an import path (a test
// variant's " [x.test]" suffix dropped), and false outside the module. The
// module's root package is ".".
func relative(module, importPath string) (string, bool) {
	importPath, _, _ = strings.Cut(importPath, " ")
	if importPath == module {
		return ".", true
	}
	rest, ok := strings.CutPrefix(importPath, module+"/")
	return rest, ok
}

func goList(ctx context.Context, dir string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "go", append([]string{"list"}, args...)...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list %s in %s: %w: %s", strings.Join(args, " "), dir, err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}
