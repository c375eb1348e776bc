package server

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/syncproto"
)

// photoCommitHook is a store that runs a function around the nth commit
// into the photo scope (the photo collection's marks and removals): a
// push and an upload question landing on another replica at that exact
// point of a collection, made deterministic without sleeps.
type photoCommitHook struct {
	storage.Store
	mu     sync.Mutex
	n      int  // commits into the photo scope so far
	at     int  // run fn around the at-th one (1-based)
	before bool // before it (else after)
	fn     func()
	fired  bool
}

func (h *photoCommitHook) Commit(ctx context.Context, b storage.Batch) (storage.Committed, error) {
	run := func(before bool) {
		h.mu.Lock()
		fire := !h.fired && h.n == h.at && h.before == before && h.fn != nil
		if fire {
			h.fired = true
		}
		h.mu.Unlock()
		if fire {
			h.fn()
		}
	}
	if b.Pairing != pairing.PhotoScope {
		return h.Store.Commit(ctx, b)
	}
	h.mu.Lock()
	h.n++
	h.mu.Unlock()
	run(true)
	c, err := h.Store.Commit(ctx, b)
	run(false)
	return c, err
}

// TestPhotoCollectionRacesCitation: a photo nobody cites is being
// collected when a record citing it lands on another replica and its phone
// asks whether to upload. Whatever point of the collection the citation
// and the question fall at (before its first commit into the photo scope,
// between its first and second, after its second), a phone told "stored"
// finds the photo kept, and a photo removed was never answered "stored".
func TestPhotoCollectionRacesCitation(t *testing.T) {
	for _, c := range []struct {
		name   string
		at     int
		before bool
	}{
		{"before the first commit", 1, true},
		{"after the first commit", 1, false},
		{"after the second commit", 2, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnvWith(t, true, nil)
			pid, _ := domainFixture(t, e)
			off := e.device(t, "officerA")
			off.pull()
			at := time.Now().UTC().Format(time.RFC3339)
			photo := testJPEG(t, 90, 20<<10)
			sum := sumOf(photo)
			visit := func(id string, photos ...[]byte) {
				t.Helper()
				m := manifestOf("image/jpeg", photos...)
				if m == nil {
					m = []map[string]any{}
				}
				_, ans := off.push(off.set("visits", id, pid, map[string]any{"mode": "onsite", "visited_at": at, "officers": []string{"u-officerA"},
					"location": map[string]any{"lat": 32, "lng": 118.8}, "photos": m}))
				wantWritten(t, "visit "+id, ans)
			}
			visit("v1", photo)
			if r := off.phoneUpload(photo, "image/jpeg", 0); r.status != 200 {
				t.Fatalf("upload: %d %s", r.status, r.body)
			}
			visit("v1")            // nobody cites it now
			e.advance(time.Minute) // past the collecting replica's grace of 1 ns

			// The collecting replica: its own Server on the same store,
			// through the hook.
			hook := &photoCommitHook{Store: e.db, at: c.at, before: c.before}
			gcs, err := New(Config{PhotoGCGrace: time.Nanosecond}, Deps{Store: hook, Photos: e.s.photos, Now: e.now, PasswordParams: fastPasswords})
			if err != nil {
				t.Fatal(err)
			}
			var answer uploadAnswer
			status := 0
			hook.fn = func() {
				// On the serving replica: the phone pushes a visit citing
				// the photo, then asks what to upload.
				visit("v2", photo)
				r := e.call("POST", "/v1/photos/"+sum+"/uploads", off.token, map[string]any{"size": len(photo), "type": "image/jpeg"})
				status = r.status
				if r.status == http.StatusOK {
					r.json(t, &answer)
				}
				t.Logf("the phone's question during the collection: %d %s", r.status, r.body)
			}
			rep, err := gcs.CollectPhotos(t.Context(), false)
			if err != nil {
				t.Fatal(err)
			}
			if !hook.fired {
				t.Fatalf("the collection made %d commits into the photo scope; the citation never landed during it (report %+v)", hook.n, rep)
			}
			_, statErr := e.s.photos.StatPhoto(t.Context(), sum)
			kept := statErr == nil
			if status == http.StatusOK && answer.Stored && !kept {
				t.Fatalf("the phone was told the photo is stored (so it drops its copy), and the collection removed it (report %+v)", rep)
			}
			if status != http.StatusOK && status != http.StatusServiceUnavailable {
				t.Fatalf("the phone's question: got %d, want 200 or 503", status)
			}
			// Whatever happened, the phone that still holds its copy ends
			// with the photo stored.
			if !(status == http.StatusOK && answer.Stored) {
				if r := off.phoneUpload(photo, "image/jpeg", 0); r.status != 200 {
					t.Fatalf("upload after the collection: %d %s", r.status, r.body)
				}
			}
			if _, err := e.s.photos.StatPhoto(t.Context(), sum); err != nil {
				t.Fatalf("the cited photo after the collection: %v, want stored", err)
			}
			if err := e.s.ledger.Refresh(t.Context()); err != nil {
				t.Fatal(err)
			}
			if !e.s.ledger.PhotoStored(sum) {
				t.Fatal("the cited photo's receipt says not stored after the collection")
			}
			// A second collection removes nothing: the photo is cited.
			rep, err = gcs.CollectPhotos(t.Context(), false)
			if err != nil || len(rep.Orphan) != 0 {
				t.Fatalf("second collection: %+v, %v; want nothing removed", rep, err)
			}
		})
	}
}

// TestPhotoCollectionConflictCitations: a photo named only by a conflict
// entry (the losing value of two concurrent edits of a visit's photos) is
// cited: the collection keeps it, since a person resolving the conflict
// may choose it.
func TestPhotoCollectionConflictCitations(t *testing.T) {
	e := newEnvWith(t, true, nil)
	pid, _ := domainFixture(t, e)
	d1, d2 := e.device(t, "officerA"), e.device(t, "officerA")
	d1.pull()
	d2.pull()
	at := time.Now().UTC().Format(time.RFC3339)
	p, q := testJPEG(t, 91, 20<<10), testJPEG(t, 92, 20<<10)
	fields := func(photos ...[]byte) map[string]any {
		m := manifestOf("image/jpeg", photos...)
		if m == nil {
			m = []map[string]any{}
		}
		return map[string]any{"mode": "onsite", "visited_at": at, "officers": []string{"u-officerA"},
			"location": map[string]any{"lat": 32, "lng": 118.8}, "photos": m}
	}
	_, ans := d1.push(d1.set("visits", "v0", pid, fields(p, q)))
	wantResults(t, "visit citing both", ans, "applied")
	for _, ph := range [][]byte{p, q} {
		if r := d1.phoneUpload(ph, "image/jpeg", 0); r.status != 200 {
			t.Fatalf("upload: %d %s", r.status, r.body)
		}
	}
	_, ans = d1.push(d1.set("visits", "v0", pid, fields()))
	wantWritten(t, "v0 cites nothing", ans)
	// Two phones write v1's photos concurrently: one value wins, the
	// other stays as a conflict entry.
	_, ans = d1.push(d1.set("visits", "v1", pid, fields(p)))
	wantResults(t, "v1 from phone 1", ans, "applied")
	_, ans = d2.push(d2.set("visits", "v1", pid, fields(q)))
	wantWritten(t, "v1 from phone 2", ans)
	v, _, err := e.s.getRecord(t.Context(), "visits", "v1")
	if err != nil {
		t.Fatal(err)
	}
	if len(v.ConflictsOf("photos")) == 0 {
		t.Fatalf("v1's photos hold no conflict entry: %s", v.Value("photos"))
	}
	e.s.cfg.PhotoGCGrace = time.Nanosecond
	e.advance(time.Minute)
	rep, err := e.s.CollectPhotos(t.Context(), false)
	if err != nil {
		t.Fatal(err)
	}
	for _, ph := range [][]byte{p, q} {
		if _, err := e.s.photos.StatPhoto(t.Context(), sumOf(ph)); err != nil {
			t.Fatalf("photo %s… (winning value %s…) after the collection: %v, want kept (report %+v)", sumOf(ph)[:8], v.Value("photos")[:20], err, rep)
		}
	}
}

// TestPhotoCollectionRouteTakesLease: the administrators' route collects
// only while holding the maintenance lease, so it never runs beside
// another replica's maintenance pass; a dry run needs no lease.
func TestPhotoCollectionRouteTakesLease(t *testing.T) {
	e := newEnvWith(t, true, nil)
	ok, err := e.db.AcquireLease(t.Context(), "maintenance", "another-replica", time.Now(), time.Hour)
	if err != nil || !ok {
		t.Fatalf("lease for another replica: %v %v", ok, err)
	}
	root := e.login("root").AccessToken
	if r := e.call("POST", "/v1/photos/gc?dry_run=true", root, nil); r.status != http.StatusOK {
		t.Fatalf("dry run while another replica maintains: got %d %s, want 200", r.status, r.body)
	}
	r := e.call("POST", "/v1/photos/gc?dry_run=false", root, nil)
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Fatalf("collection while another replica maintains: got %d %s (Retry-After %q), want 503 with Retry-After", r.status, r.body, r.header.Get("Retry-After"))
	}
	if err := e.db.ReleaseLease(t.Context(), "maintenance", "another-replica"); err != nil {
		t.Fatal(err)
	}
	if r := e.call("POST", "/v1/photos/gc?dry_run=false", root, nil); r.status != http.StatusOK {
		t.Fatalf("collection once the lease is free: got %d %s, want 200", r.status, r.body)
	}
	// The route gave the lease back: another replica's maintenance may
	// take it at once.
	if ok, err := e.db.AcquireLease(t.Context(), "maintenance", "another-replica", time.Now(), time.Hour); err != nil || !ok {
		t.Fatalf("the lease after the route: acquired %v (%v), want free", ok, err)
	}
}

// wantWritten fails t unless the push's one change was applied or merged.
func wantWritten(t *testing.T, what string, ans syncproto.PushAnswer) {
	t.Helper()
	if len(ans.Results) != 1 || ans.Results[0].Status != syncproto.StatusApplied && ans.Results[0].Status != syncproto.StatusMerged {
		t.Fatalf("%s: got %+v, want applied or merged", what, ans.Results)
	}
}
