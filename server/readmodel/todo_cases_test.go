package readmodel_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/server/readmodel"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/storage/bolt"
	"github.com/pairsync/pairsync/syncproto"
)

// todoCases is testdata/todo-cases.json: the 待办 rule as cases, asserted
// here against Ledger.Todos and by the web app against src/todo.js
// (mobile/web/test/todo-cases.test.mjs), so the two stay one rule.
type todoCases struct {
	Written  time.Time `json:"written"`
	Pairings []struct {
		ID, Name           string
		Officers, Contacts []string
	} `json:"pairings"`
	Records []struct {
		Pairing, Collection, ID string
		Fields                  map[string]json.RawMessage
	} `json:"records"`
	Cases []struct {
		Name   string
		Person struct{ ID, Role string }
		Now    time.Time
		Todo   []string
	} `json:"cases"`
}

// TestTodoCases: Ledger.Todos counts, for every case of the shared
// fixture, what the phone lists: each kind's items, and the things (each
// link once, whatever its kinds).
func TestTodoCases(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "todo-cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var fx todoCases
	if err := json.Unmarshal(raw, &fx); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	db, err := bolt.Open(ctx, bolt.Config{Path: filepath.Join(t.TempDir(), "todo.db"), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	w := syncproto.Writer{Replica: "todo-cases"}
	at := fx.Written
	puts := map[string][]storage.Put{}
	put := func(pid, coll, id string, fields map[string]json.RawMessage) {
		r, _, err := w.Set(syncproto.NewRecord(coll, id, pid), fields, at)
		if err != nil {
			t.Fatalf("%s/%s: %v", coll, id, err)
		}
		data, err := syncproto.Encode(r)
		if err != nil {
			t.Fatal(err)
		}
		puts[pid] = append(puts[pid], storage.Put{Key: storage.Key{Collection: coll, ID: id}, Data: data})
		at = at.Add(time.Second)
	}
	js := func(v any) json.RawMessage { b, _ := json.Marshal(v); return b }
	for _, p := range fx.Pairings {
		var officers []map[string]any
		for i, o := range p.Officers {
			officers = append(officers, map[string]any{"user_id": o, "primary": i == 0})
		}
		put(pairing.DirectoryScope, pairing.CollPairings, p.ID, map[string]json.RawMessage{"name": js(p.Name), "status": js(pairing.StatusActive),
			"branches": js([]string{"unit-" + p.ID}), "officers": js(officers), "contacts": js(p.Contacts)})
	}
	for _, r := range fx.Records {
		put(r.Pairing, r.Collection, r.ID, r.Fields)
	}
	for pid, ps := range puts {
		if _, err := db.Commit(ctx, storage.Batch{Pairing: pid, Puts: ps}); err != nil {
			t.Fatalf("commit %s: %v", pid, err)
		}
	}
	dir := pairing.NewDirectory(db, func(_ context.Context, unit string) (string, error) { return "/root/" + unit + "/", nil })
	if err := dir.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	l := readmodel.NewLedger(db, dir, nil)
	if err := l.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if len(fx.Cases) < 5 {
		t.Fatalf("read %d cases, want the fixture's", len(fx.Cases))
	}
	for _, c := range fx.Cases {
		var want readmodel.Todo
		things := map[string]bool{}
		for _, item := range c.Todo {
			kind, link, _ := strings.Cut(item, " ")
			n := map[string]*int{"toSign": &want.ToSign, "toRespond": &want.ToRespond, "returnedVisits": &want.ReturnedVisits,
				"dueSoon": &want.DueSoon, "overdue": &want.Overdue, "toConfirm": &want.ToConfirm, "toRate": &want.ToRate, "toAccept": &want.ToAccept}[kind]
			if n == nil {
				t.Fatalf("%s: unknown kind in %q", c.Name, item)
			}
			*n++
			things[link] = true
		}
		want.Things = len(things)
		people, _ := l.Todos(c.Now)
		if got := people[c.Person.ID]; got != want {
			t.Errorf("%s (%s %s at %s): got %+v, want %+v (%v)", c.Name, c.Person.Role, c.Person.ID, c.Now.Format(time.RFC3339), got, want, c.Todo)
		}
	}
}
