package readmodel_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/server/readmodel"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/syncproto"
)

// TestLedgerPhotos: which pairings cite a photo, and visits pending
// evidence until every photo of their manifest has a stored receipt.
func TestLedgerPhotos(t *testing.T) {
	h := newHarness(t)
	h.paths["u1"] = "/r/u1/"
	h.addPairings(testPairing{ID: "p1", Branches: []string{"u1"}, Counterparties: []string{"c1"}, Officers: []string{"o1"}},
		testPairing{ID: "p2", Branches: []string{"u1"}, Counterparties: []string{"c2"}, Officers: []string{"o1"}})
	a, b, c := strings.Repeat("a", 64), strings.Repeat("b", 64), strings.Repeat("c", 64)
	manifest := func(sums ...string) []map[string]any {
		var out []map[string]any
		for _, s := range sums {
			out = append(out, map[string]any{"sha256": s, "size": 100, "type": "image/jpeg"})
		}
		return out
	}
	h.set("p1", pairing.CollVisits, "v1", mar(2, 9), "mode", "onsite", "visited_at", mar(2, 9), "photos", manifest(a, b))
	h.set("p2", pairing.CollVisits, "v2", mar(3, 9), "mode", "onsite", "visited_at", mar(3, 9), "photos", manifest(b))
	h.set("p2", pairing.CollIssueEvents, "e1", mar(3, 9), "issue", "i1", "type", "responded", "evidence", []string{c})
	l := h.ledger(nil)
	refresh(t, h, l)
	all := []string{"p1", "p2"}
	pending := func() int {
		return l.Figures(all, readmodel.MonthOf(mar(1, 0)), readmodel.MonthOf(mar(1, 0))+1, mar(20, 0)).VisitsPendingEvidence
	}
	receipt := func(sum string, stored bool) {
		h.set(pairing.PhotoScope, pairing.CollPhotos, sum, mar(5, 9), "sha256", sum, "stored", stored, "size", 100, "type", "image/jpeg")
		refresh(t, h, l)
	}
	must := func(v any, err error) any {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	check := func(what string, got, want any) {
		t.Helper()
		if !equalJSON(got, want) {
			t.Fatalf("%s: got %v, want %v", what, got, want)
		}
	}
	check("pairings citing b", must(l.PhotoPairings(h.ctx, b)), []string{"p1", "p2"})
	check("pairings citing c (event evidence)", must(l.PhotoPairings(h.ctx, c)), []string{"p2"})
	check("an uncited photo", must(l.PhotoCited(h.ctx, strings.Repeat("d", 64))), false)
	check("pending before any upload", pending(), 2)
	receipt(a, true)
	check("a stored: v1 still misses b", pending(), 2)
	v1, _ := visit(t, l, "v1")
	check("v1 missing", l.MissingPhotos(v1.Photos), []string{b})
	receipt(b, true)
	check("a and b stored", pending(), 0)
	check("b stored", l.PhotoStored(b), true)
	receipt(b, false)
	check("b collected again: v1 and v2 pending", pending(), 2)
	// A deleted visit keeps citing its photos until it is purged.
	h.del("p1", pairing.CollVisits, "v1", mar(6, 9))
	refresh(t, h, l)
	check("deleted v1 still cites a", slices.Contains(must(l.PhotoPairings(h.ctx, a)).([]string), "p1"), true)
	m, ok, err := l.PhotoManifest(h.ctx, b)
	check("manifest error", err, nil)
	check("manifest of b", m.Type+" "+map[bool]string{true: "found"}[ok], "image/jpeg found")
}

// TestLedgerPhotosInConflicts: a photo named only by a conflict entry (the
// losing value of two concurrent writes of a record's photos) is cited,
// whichever way the Ledger reads the record (visits, issues and issue
// events each have their own reader).
func TestLedgerPhotosInConflicts(t *testing.T) {
	h := newHarness(t)
	h.paths["u1"] = "/r/u1/"
	h.addPairings(testPairing{ID: "p1", Branches: []string{"u1"}, Counterparties: []string{"c1"}, Officers: []string{"o1"}})
	manifest := func(sum string) []map[string]any {
		return []map[string]any{{"sha256": sum, "size": 100, "type": "image/jpeg"}}
	}
	cases := []struct {
		coll, id, field string
		value           func(sum string) any
		other           []any
	}{
		{pairing.CollVisits, "v1", "photos", func(s string) any { return manifest(s) }, []any{"mode", "onsite", "visited_at", mar(2, 9)}},
		{pairing.CollIssues, "i1", "photos", func(s string) any { return manifest(s) }, []any{"title", "路灯不亮", "raised_at", mar(2, 9)}},
		{pairing.CollIssueEvents, "e1", "evidence", func(s string) any { return []string{s} }, []any{"issue", "i1", "type", "responded", "at", mar(2, 9)}},
	}
	losers := map[string]string{}
	for i, c := range cases {
		loser, winner := strings.Repeat(string(rune('a'+i)), 64), strings.Repeat(string(rune('d'+i)), 64)
		losers[c.coll] = loser
		h.set("p1", c.coll, c.id, mar(2, 9), append(c.other, c.field, c.value(loser))...)
		h.flush()
		// Another phone wrote the field concurrently, later: its value wins.
		other := syncproto.Writer{Replica: "other-phone"}
		theirs, _, err := other.Set(syncproto.NewRecord(c.coll, c.id, "p1"), values(t, c.field, c.value(winner)), mar(2, 10))
		if err != nil {
			t.Fatal(err)
		}
		cur := h.recs[storage.Key{Collection: c.coll, ID: c.id}]
		cur.r = syncproto.Merge(cur.r, theirs)
		h.set("p1", c.coll, c.id, mar(2, 11), "note", "合并之后")
		h.flush()
		if got := cur.r.ConflictsOf(c.field); len(got) != 1 {
			t.Fatalf("%s: %d conflict entries on %s, want 1", c.coll, len(got), c.field)
		}
	}
	l := h.ledger(nil)
	refresh(t, h, l)
	for coll, loser := range losers {
		cited, err := l.PhotoCited(t.Context(), loser)
		if err != nil || !cited {
			t.Fatalf("%s: the photo of the conflict entry: cited %v (%v), want cited", coll, cited, err)
		}
	}
}
