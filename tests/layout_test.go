package tests

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/ledgerline/ledgerline"

// TestDependencyRule enforces DESIGN.md's layout: inner packages never reach
// outward. It parses every non-test Go file of the inner folders.
func TestDependencyRule(t *testing.T) {
	rules := []struct {
		dir     string
		allowed func(path string) bool
	}{
		{"domain", func(p string) bool {
			return isStdlib(p) || p == "github.com/google/uuid" || strings.HasPrefix(p, module+"/domain")
		}},
		{"eventstore", func(p string) bool {
			return isStdlib(p) || p == "github.com/google/uuid" || strings.HasPrefix(p, "golang.org/x/crypto") ||
				strings.HasPrefix(p, module+"/eventstore")
		}},
		{"commands", func(p string) bool {
			return !strings.HasPrefix(p, module+"/adapters") && !strings.HasPrefix(p, module+"/cmd")
		}},
		{"projections", func(p string) bool {
			return !strings.HasPrefix(p, module+"/adapters") && !strings.HasPrefix(p, module+"/cmd")
		}},
		{"adapters", func(p string) bool { return !strings.HasPrefix(p, module+"/cmd") }},
	}
	checked := 0
	for _, r := range rules {
		root := filepath.Join("..", r.dir)
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
			if err != nil {
				return err
			}
			checked++
			for _, imp := range f.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				if !r.allowed(p) {
					t.Errorf("%s imports %s: %s/ must not depend on it (DESIGN.md dependency rule)", path, p, r.dir)
				}
			}
			return nil
		})
		if err != nil && !strings.Contains(err.Error(), "no such file") {
			t.Fatalf("walk %s: %v", root, err)
		}
	}
	if checked == 0 {
		t.Fatal("no Go files checked: is the test running from tests/?")
	}
}

func isStdlib(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}
