package servertest_test

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"testing"
	"time"

	"github.com/pairsync/pairsync/server/servertest"
	"github.com/pairsync/pairsync/storage"
)

// TestCountingStoreCountsEveryMethod: every method of storage.Store has its
// own counting method in counting.go; one only promoted from the embedded
// store would pass through uncounted and make a request look cheaper.
func TestCountingStoreCountsEveryMethod(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "counting.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	wrapped := map[string]bool{}
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Recv == nil || len(fn.Recv.List) != 1 {
			continue
		}
		if star, ok := fn.Recv.List[0].Type.(*ast.StarExpr); ok {
			if id, ok := star.X.(*ast.Ident); ok && id.Name == "CountingStore" {
				wrapped[fn.Name.Name] = true
			}
		}
	}
	st := reflect.TypeOf((*storage.Store)(nil)).Elem()
	for i := range st.NumMethod() {
		if name := st.Method(i).Name; !wrapped[name] {
			t.Errorf("storage.Store's %s is not counted by CountingStore (add it to counting.go)", name)
		}
	}
}

// TestCountingStoreCounts: calls are counted by method until Reset.
func TestCountingStoreCounts(t *testing.T) {
	db, _ := servertest.OpenStores(t, false)
	c := servertest.Counting(db)
	s := c.WithToucher()
	ctx := t.Context()
	if _, err := s.Head(ctx, "p1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Head(ctx, "p2"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.HeadsSince(ctx, 0, 0); err != nil {
		t.Fatal(err)
	}
	toucher, ok := s.(interface {
		TouchDevices(context.Context, map[string]time.Time) error
	})
	if !ok {
		t.Fatal("the bolt store has TouchDevices; its counting wrapper has not")
	}
	if err := toucher.TouchDevices(ctx, map[string]time.Time{}); err != nil {
		t.Fatal(err)
	}
	n, by := c.Calls()
	if n != 4 || by["Head"] != 2 || by["HeadsSince"] != 1 || by["TouchDevices"] != 1 {
		t.Fatalf("got %d calls %v, want 4: Head 2, HeadsSince 1, TouchDevices 1", n, by)
	}
	c.Reset()
	if n, _ := c.Calls(); n != 0 {
		t.Fatalf("after Reset: got %d calls, want 0", n)
	}
}
