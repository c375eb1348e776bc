package mobile

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/pairsync/pairsync/syncproto"
)

// TestRecentWritesBuildTheSamePush: a push built with the engine's own
// recent writes (recent.go) is byte for byte the push built from the
// outbox alone, whatever happened to the records: new ones, edits and a
// delete on records with a base, a second write to a record, and a base
// that a pull changed after the write.
func TestRecentWritesBuildTheSamePush(t *testing.T) {
	e, err := Open(filepath.Join(t.TempDir(), "recent.db"), Config{})
	must(t, err)
	defer e.Close()
	const me = "01a20328-1c27-7db3-9c66-98296b6b063a"
	other := &syncproto.Writer{Replica: "01a20329-aaaa-7db3-9c66-98296b6b063a"}
	at := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	bases := map[string]syncproto.Record{}
	must(t, e.db.Update(func(tx *bolt.Tx) error {
		if err := saveJSON(tx, keyWriter, writerState{Replica: me}); err != nil {
			return err
		}
		for _, id := range []string{"b1", "b2", "b3"} {
			r, _, err := other.Set(syncproto.NewRecord("visits", id, "p1"), pairedVisit(len(bases)), at)
			if err != nil {
				return err
			}
			bases[id] = r
			if err := putBase(tx, r); err != nil {
				return err
			}
		}
		return nil
	}))
	set := func(id string, i int) {
		t.Helper()
		must(t, e.Set("visits", id, "p1", pairedVisit(100+i)))
	}
	set("n1", 1)
	set("b1", 2)
	must(t, e.Delete("visits", "b2"))
	set("b3", 3)
	set("n2", 4)
	// A pull changes b3's base after the write: its change must be rebuilt.
	must(t, e.db.Update(func(tx *bolt.Tx) error {
		r, _, err := other.Set(bases["b3"], map[string]json.RawMessage{"title": json.RawMessage(`"改过"`)}, at.Add(time.Minute))
		if err != nil {
			return err
		}
		return putBase(tx, syncproto.Merge(bases["b3"], r))
	}))
	set("n1", 5) // a second write to n1: the push ends before it
	if n := len(e.recent.m); n != 5 {
		t.Fatalf("%d recent writes kept, want 5 (every write but n1's second)", n)
	}
	s := &syncRun{e: e}
	fast, _, err := s.buildPush(maxChanges)
	must(t, err)
	if hits := e.recent.hits.Load(); hits != 4 {
		t.Errorf("%d changes taken from recent writes, want 4 (all but b3's, whose base changed)", hits)
	}
	e.recent.clear()
	slow, _, err := s.buildPush(maxChanges)
	must(t, err)
	if len(fast) != 5 || len(slow) != 5 {
		t.Fatalf("pushes of %d and %d changes, want 5", len(fast), len(slow))
	}
	for i := range slow {
		fw, _ := syncproto.Encode(fast[i].w)
		sw, _ := syncproto.Encode(slow[i].w)
		if string(fast[i].enc) != string(slow[i].enc) || string(fw) != string(sw) {
			t.Errorf("change %d (%s/%s): from recent writes\n%s\nfrom the outbox\n%s", i, slow[i].w.Collection, slow[i].w.ID, fast[i].enc, slow[i].enc)
		}
		if fc, _ := syncproto.Encode(fast[i].ch.Record); string(fc) != fmt.Sprint(slow[i].ch.Record) {
			t.Errorf("change %d: records differ", i)
		}
	}
}

// TestRecentWritesBounded: the recent writes never hold more than
// recentBytes, and forget what they drop.
func TestRecentWritesBounded(t *testing.T) {
	var r recentWrites
	enc := make([]byte, 10<<10)
	n := 0
	for c := uint64(1); c <= 1000; c++ {
		r.add(&recentWrite{enc: enc, w: syncproto.Write{Dot: syncproto.Dot{Replica: "a", Counter: c}}})
		if r.bytes > recentBytes {
			t.Fatalf("after %d writes: %d bytes held, over %d", c, r.bytes, recentBytes)
		}
		n = len(r.m)
	}
	if n == 0 || n == 1000 {
		t.Fatalf("%d of 1000 writes kept, want some, bounded", n)
	}
	var all []uint64
	for c := range r.m {
		all = append(all, c)
	}
	r.drop(all)
	if r.bytes != 0 || len(r.m) != 0 {
		t.Errorf("after dropping all: %d bytes, %d writes", r.bytes, len(r.m))
	}
}
