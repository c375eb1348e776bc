package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/syncproto"
)

// oldStore writes records as the code before photo grants wrote them,
// straight through storage: each record made by a phone's Writer at the
// given times (received_at set by the server when it first stored it).
type oldStore struct {
	t     *testing.T
	store storage.Store
}

// put commits a record whose writes happened at the given times, each
// write a map of field values; receivedAt (zero: none) is what the server
// stamped when it first stored the record.
func (o *oldStore) put(coll, id, pid string, receivedAt time.Time, writes ...struct {
	at     time.Time
	values map[string]any
}) {
	o.t.Helper()
	r := syncproto.NewRecord(coll, id, pid)
	w := syncproto.Writer{Replica: syncproto.ReplicaID("old-phone-" + id[:min(len(id), 40)])} // one phone per record: its own clock
	for i, wr := range writes {
		vals := wr.values
		if i == 0 && !receivedAt.IsZero() {
			vals["received_at"] = receivedAt.UTC().Format("2006-01-02T15:04:05.000Z07:00")
		}
		jv, err := jsonValues(vals)
		if err != nil {
			o.t.Fatal(err)
		}
		if r, _, err = w.Set(r, jv, wr.at); err != nil {
			o.t.Fatal(err)
		}
	}
	data, err := syncproto.Encode(r)
	if err != nil {
		o.t.Fatal(err)
	}
	var expect uint64
	if cur, err := o.store.Get(o.t.Context(), storage.Key{Collection: coll, ID: id}); err == nil {
		expect = cur.Seq
	}
	if _, err := o.store.Commit(o.t.Context(), storage.Batch{Pairing: pid, Puts: []storage.Put{{Key: storage.Key{Collection: coll, ID: id}, Expect: expect, Data: data}}}); err != nil {
		o.t.Fatal(err)
	}
}

func write(at time.Time, values map[string]any) struct {
	at     time.Time
	values map[string]any
} {
	return struct {
		at     time.Time
		values map[string]any
	}{at, values}
}

// TestPhotoGrantsMigration (the old data), on bolt and
// MongoDB: a store as the code before grants left it — photos stored with
// receipts that predate grants, cited by records of two pairings, no
// grant — is migrated when the server starts. Each photo opens to the
// pairing of its earliest citation (the likely uploader's) and stays shut
// to a later citation in another pairing, also one added by an edit to a
// record older than the first citation; a photo stored with grants is
// left alone; a second start changes nothing.
func TestPhotoGrantsMigration(t *testing.T) {
	for _, ad := range adapters() {
		t.Run(ad.name, func(t *testing.T) {
			e := newFaultEnv(t, Config{}, ad.open(t), true)
			pairingsFixture(t, e)
			ctx := t.Context()
			old := &oldStore{t: t, store: e.s.store}
			t0 := e.now().Add(-30 * 24 * time.Hour).Truncate(time.Second)
			photoA, photoB, photoNew := testJPEG(t, 41, 4<<10), testJPEG(t, 42, 4<<10), testJPEG(t, 43, 4<<10)
			for _, p := range [][]byte{photoA, photoB, photoNew} {
				if _, err := e.s.photos.PutPhoto(ctx, sumOf(p), int64(len(p)), bytes.NewReader(p)); err != nil {
					t.Fatal(err)
				}
			}
			// Receipts as the old code wrote them: no "grants".
			for _, p := range [][]byte{photoA, photoB} {
				old.put(pairing.CollPhotos, sumOf(p), pairing.PhotoScope, time.Time{}, write(t0.Add(time.Minute), map[string]any{
					"sha256": sumOf(p), "stored": true, "size": len(p), "type": "image/jpeg", "at": t0.Add(time.Minute).Format(time.RFC3339)}))
			}
			manifest := func(p []byte) []map[string]any { return manifestOf("image/jpeg", p) }
			// photoA: p1's visit cites it first; p2's visit a day later;
			// p2's issue, received long before, cites it only by a later
			// edit (the edit's stamp counts, not the record's age).
			old.put(pairing.CollVisits, "v-old-p1", "p1", t0, write(t0, map[string]any{"mode": "onsite", "photos": manifest(photoA)}))
			old.put(pairing.CollVisits, "v-old-p2", "p2", t0.Add(24*time.Hour), write(t0.Add(24*time.Hour), map[string]any{"mode": "onsite", "photos": manifest(photoA)}))
			old.put(pairing.CollIssues, "i-old-p2", "p2", t0.Add(-24*time.Hour),
				write(t0.Add(-24*time.Hour), map[string]any{"title": "旧诉求"}),
				write(t0.Add(48*time.Hour), map[string]any{"photos": manifest(photoA)}))
			// photoB: p2 first, p1 later (the rule is the stamp, not the
			// pairing's name).
			old.put(pairing.CollVisits, "v-old-p2b", "p2", t0.Add(time.Hour), write(t0.Add(time.Hour), map[string]any{"mode": "onsite", "photos": manifest(photoB)}))
			old.put(pairing.CollProjects, "pr-old-p1b", "p1", time.Time{}, write(t0.Add(3*time.Hour), map[string]any{"title": "旧项目", "photos": manifest(photoB)}))
			// photoNew: stored with grants (to p2), cited later by p1:
			// not the migration's to change.
			if err := e.s.writeReceipt(ctx, pairing.PhotoReceipt{SHA256: sumOf(photoNew), Stored: true, Size: int64(len(photoNew)), Type: "image/jpeg"}); err != nil {
				t.Fatal(err)
			}
			grantPhotoForTest(t, e, "p2", sumOf(photoNew))
			old.put(pairing.CollVisits, "v-old-p2n", "p2", t0, write(t0, map[string]any{"mode": "onsite", "photos": manifest(photoNew)}))
			old.put(pairing.CollVisits, "v-old-p1n", "p1", t0.Add(time.Hour), write(t0.Add(time.Hour), map[string]any{"mode": "onsite", "photos": manifest(photoNew)}))

			// Before the migration, citing opens nothing (no fallback).
			tokA, tokB := e.login("officerA").AccessToken, e.login("officerB").AccessToken
			for _, tok := range []string{tokA, tokB} {
				if r := e.call("GET", "/v1/photos/"+sumOf(photoA), tok, nil); r.status != 404 {
					t.Errorf("photoA before the migration: got %d, want 404 (a citation alone opens nothing)", r.status)
				}
			}

			rep, err := e.s.MigratePhotoGrants(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !rep.Ran || rep.Granted != 2 || rep.LeftUngranted != 2 || rep.Uncited != 0 {
				t.Errorf("first start: got %+v, want ran, 2 photos granted, 2 (photo, other pairing) citations left ungranted", rep)
			}
			for _, c := range []struct {
				what  string
				photo []byte
				token string
				want  int
			}{
				{"photoA by p1's officer (earliest citer)", photoA, tokA, 200},
				{"photoA by p2's officer (later citer)", photoA, tokB, 404},
				{"photoB by p2's officer (earliest citer)", photoB, tokB, 200},
				{"photoB by p1's officer (later citer)", photoB, tokA, 404},
				{"photoNew by p2's officer (granted)", photoNew, tokB, 200},
				{"photoNew by p1's officer (cites, holds no grant)", photoNew, tokA, 404},
			} {
				if r := e.call("GET", "/v1/photos/"+sumOf(c.photo), c.token, nil); r.status != c.want {
					t.Errorf("%s: got %d %.80q, want %d", c.what, r.status, r.body, c.want)
				} else if c.want == 200 && !bytes.Equal(r.body, c.photo) {
					t.Errorf("%s: got other bytes (%d)", c.what, len(r.body))
				}
			}

			// A second start (a new server on the same store) changes nothing.
			head, err := e.s.store.Head(ctx, pairing.PhotoScope)
			if err != nil {
				t.Fatal(err)
			}
			s2, err := New(Config{}, Deps{Store: e.s.store, Photos: e.s.photos, Now: e.now, PasswordParams: fastPasswords})
			if err != nil {
				t.Fatal(err)
			}
			rep2, err := s2.MigratePhotoGrants(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if rep2.Ran || rep2.Granted != 0 {
				t.Errorf("second start: got %+v, want nothing run", rep2)
			}
			if head2, err := e.s.store.Head(ctx, pairing.PhotoScope); err != nil || head2 != head {
				t.Errorf("second start: photo scope head got %d (%v), want %d (nothing written)", head2, err, head)
			}
			// The record that it ran is in storage.
			sr, err := e.s.store.Get(ctx, storage.Key{Collection: pairing.CollMigrations, ID: photoGrantsMigration})
			if err != nil {
				t.Fatalf("migration record: %v", err)
			}
			var rec syncproto.Record
			if rec, err = syncproto.DecodeRecord(sr.Data, syncproto.Limits{}); err != nil {
				t.Fatal(err)
			}
			var granted int
			if err := json.Unmarshal(rec.Value("granted"), &granted); err != nil || granted != 2 {
				t.Errorf("migration record says granted %s, want 2", rec.Value("granted"))
			}
		})
	}
}

// TestMaintenanceMigratesPhotoGrants: the server's start-up work (the
// first maintenance pass) runs the grants migration without being asked.
func TestMaintenanceMigratesPhotoGrants(t *testing.T) {
	e := newDomainEnv(t)
	pairingsFixture(t, e)
	ctx := t.Context()
	photo := testJPEG(t, 44, 4<<10)
	if _, err := e.s.photos.PutPhoto(ctx, sumOf(photo), int64(len(photo)), bytes.NewReader(photo)); err != nil {
		t.Fatal(err)
	}
	old := &oldStore{t: t, store: e.s.store}
	t0 := e.now().Add(-time.Hour)
	old.put(pairing.CollPhotos, sumOf(photo), pairing.PhotoScope, time.Time{}, write(t0, map[string]any{"sha256": sumOf(photo), "stored": true, "size": len(photo), "type": "image/jpeg"}))
	old.put(pairing.CollVisits, "v-old", "p1", t0, write(t0, map[string]any{"mode": "onsite", "photos": manifestOf("image/jpeg", photo)}))
	tok := e.login("officerA").AccessToken
	if r := e.call("GET", "/v1/photos/"+sumOf(photo), tok, nil); r.status != 404 {
		t.Fatalf("before the server's start-up work: got %d, want 404", r.status)
	}
	if err := e.s.ledger.Load(ctx); err != nil { // as RunSLALoop does at start
		t.Fatal(err)
	}
	mctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); e.s.RunMaintenance(mctx, time.Hour) }()
	defer func() { stop(); <-done }()
	giveUp := time.After(time.Minute) // a bound on a hang, not a speed figure: the pass takes milliseconds
	for {
		_, err := e.s.store.Get(ctx, storage.Key{Collection: pairing.CollMigrations, ID: photoGrantsMigration})
		if err == nil {
			break
		}
		if !errors.Is(err, storage.ErrNotFound) {
			t.Fatal(err)
		}
		select {
		case <-giveUp:
			t.Fatal("the maintenance pass did not record the migration within a minute")
		case <-time.After(10 * time.Millisecond):
		}
	}
	if r := e.call("GET", "/v1/photos/"+sumOf(photo), tok, nil); r.status != 200 {
		t.Fatalf("after the start-up work: p1's officer got %d, want 200", r.status)
	}
}
