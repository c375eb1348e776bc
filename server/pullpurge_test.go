package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/syncproto"
)

// purgeDuringPage is a store that runs a tombstone sweep (by another
// server, as another replica's maintenance would) just before the first
// page of pairing it is asked for after a cursor: the interleaving of a
// purge between the pull's horizon check and its page, made deterministic.
type purgeDuringPage struct {
	storage.Store
	pairing string
	sweep   func()
	once    sync.Once
}

func (p *purgeDuringPage) Changes(ctx context.Context, pairing string, after uint64, lim storage.PageLimit) (storage.Page, error) {
	if pairing == p.pairing && after > 0 {
		p.once.Do(p.sweep)
	}
	return p.Store.Changes(ctx, pairing, after, lim)
}

// TestPurgeDuringPull: a tombstone purged after a pull checked the horizon
// and before it read the page is not skipped silently: the device whose
// cursor predates the purged delete is told to resync, never handed the
// records after it with a cursor past it (it would keep the deleted record
// for good).
func TestPurgeDuringPull(t *testing.T) {
	e := newIDEnv(t)
	pairingsFixture(t, e)
	hooked := &purgeDuringPage{Store: e.db, pairing: "p1"}
	s2, err := New(Config{}, Deps{Store: hooked, Photos: e.s.photos, Now: e.now, PasswordParams: fastPasswords, ProtocolOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	other := &idEnv{t: t, s: s2, db: e.db, base: serve(t, s2), units: e.units, users: e.users}

	offA := e.device(t, "officerA")
	conA := other.device(t, "adminA") // pulls through the hooked server
	offA.push(offA.set("visits", "v1", "p1", map[string]any{"notes": "待删除"}))
	conA.pull() // holds v1
	del, w, err := offA.w.Delete(offA.view["visits/v1"], time.Now())
	if err != nil {
		t.Fatal(err)
	}
	offA.view["visits/v1"] = del
	offA.push(syncproto.Change{Dot: w.Dot, HLC: w.HLC, Record: del})
	offA.push(offA.set("visits", "v2", "p1", map[string]any{"notes": "删除之后"}))

	purged := 0
	hooked.sweep = func() {
		n, err := e.s.SweepTombstones(context.Background(), time.Now().Add(time.Hour))
		if err != nil {
			t.Errorf("sweep: %v", err)
		}
		purged = n
	}
	body, _ := syncproto.Encode(&syncproto.PullRequest{V: 1, Cursor: conA.cursor})
	r := other.call("POST", "/v1/sync/pull", conA.token, body)
	if r.status != 200 {
		t.Fatalf("pull: got %d %s, want 200", r.status, r.body)
	}
	if purged != 1 {
		t.Fatalf("the sweep between the horizon check and the page purged %d records, want 1 (v1's tombstone)", purged)
	}
	ans, err := syncproto.DecodePullAnswer(r.body, syncproto.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var p1 []string
	for _, pr := range ans.Records {
		if pr.Pairing == "p1" {
			p1 = append(p1, pr.Record.ID)
		}
	}
	if !slices.Contains(ans.Resync, "p1") || len(p1) > 0 {
		t.Fatalf("pull during a purge: got resync %v and p1 records %v (cursor %v → %v), want resync [p1] and no p1 records",
			ans.Resync, p1, conA.cursor["p1"], ans.Cursor["p1"])
	}
}

// feedReads is a store that counts the records the changes feeds hand out,
// per scope.
type feedReads struct {
	storage.Store
	mu   sync.Mutex
	read map[string]int
}

func (f *feedReads) Changes(ctx context.Context, pairing string, after uint64, lim storage.PageLimit) (storage.Page, error) {
	p, err := f.Store.Changes(ctx, pairing, after, lim)
	f.mu.Lock()
	f.read[pairing] += len(p.Records)
	f.mu.Unlock()
	return p, err
}

// TestSweepReadsOnlyTombstones: the hourly tombstone sweep reads no
// pairing's records (the ledger, warm, knows the tombstones); it purges
// the one deleted record, and a second sweep purges nothing.
func TestSweepReadsOnlyTombstones(t *testing.T) {
	e := newIDEnv(t)
	pairingsFixture(t, e)
	off := e.device(t, "officerA")
	var chs []syncproto.Change
	for i := range 40 {
		chs = append(chs, off.set("visits", fmt.Sprintf("v%02d", i), "p1", map[string]any{"notes": i}))
	}
	off.push(chs...)
	del, w, err := off.w.Delete(off.view["visits/v07"], time.Now())
	if err != nil {
		t.Fatal(err)
	}
	off.view["visits/v07"] = del
	off.push(syncproto.Change{Dot: w.Dot, HLC: w.HLC, Record: del})

	counted := &feedReads{Store: e.db, read: map[string]int{}}
	s2, err := New(Config{}, Deps{Store: counted, Photos: e.s.photos, Now: e.now, PasswordParams: fastPasswords, ProtocolOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.dir.Refresh(t.Context()); err != nil { // as at start-up
		t.Fatal(err)
	}
	if err := s2.ledger.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	counted.read = map[string]int{}
	n, err := s2.SweepTombstones(t.Context(), time.Now().Add(time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("sweep: purged %d (%v), want 1 (v07)", n, err)
	}
	for scope, read := range counted.read {
		if scope != pairing.DirectoryScope && read > 0 {
			t.Errorf("the sweep read %d records of %s, want none (reads %v)", read, scope, counted.read)
		}
	}
	if _, err := e.db.Get(t.Context(), storage.Key{Collection: "visits", ID: "v07"}); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("v07 after the sweep: %v, want not found", err)
	}
	if n, err := s2.SweepTombstones(t.Context(), time.Now().Add(time.Hour)); err != nil || n != 0 {
		t.Fatalf("second sweep: purged %d (%v), want 0", n, err)
	}
}
