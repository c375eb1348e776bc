package notify

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestEveryEventHasTitle: every Event constant of the package has a title
// in both languages, so no robot message falls back to the generic one.
func TestEveryEventHasTitle(t *testing.T) {
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		{
			ast.Inspect(f, func(node ast.Node) bool {
				vs, ok := node.(*ast.ValueSpec)
				if !ok {
					return true
				}
				for i, name := range vs.Names {
					if !strings.HasPrefix(name.Name, "Event") || i >= len(vs.Values) {
						continue
					}
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						continue
					}
					ev, _ := strconv.Unquote(lit.Value)
					n++
					if tt, ok := Titles[ev]; !ok || tt[0] == "" || tt[1] == "" {
						t.Errorf("event %s (%s) has no title in both languages", name.Name, ev)
					}
				}
				return true
			})
		}
	}
	if n < 3 {
		t.Fatalf("found %d event constants, want the package's events", n)
	}
}
