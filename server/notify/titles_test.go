package notify

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"strconv"
	"strings"
	"testing"
)

// TestEveryEventHasTitle: every Event constant of the package has a title
// in both languages, so no robot message falls back to the generic one.
func TestEveryEventHasTitle(t *testing.T) {
	pkgs, err := parser.ParseDir(token.NewFileSet(), ".", func(fi fs.FileInfo) bool {
		return !strings.HasSuffix(fi.Name(), "_test.go")
	}, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, pkg := range pkgs {
		for _, f := range pkg.Files {
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
