package mobile

import (
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/pairsync/pairsync/syncproto"
)

// pullOnly runs the pull phase of a Sync by itself (as a Sync cut short
// between its push and its pull would leave things).
func pullOnly(t *testing.T, e *Engine) (Progress, error) {
	t.Helper()
	s := &syncRun{e: e, ctx: t.Context(), c: &conn{e: e}}
	must(t, e.db.View(func(tx *bbolt.Tx) error {
		var err error
		s.c.sess, _, err = loadSession(tx)
		return err
	}))
	err := s.pull()
	return s.p, err
}

// TestResync: a contact whose cursor predates a purged tombstone is told to
// resync: it drops its copy of the pairing, keeps its outbox, reads the
// pairing again from 0 (even though the page that said so was the last),
// and never holds the purged record again. A resync cut short is finished
// by the next Sync before it pushes.
func TestResync(t *testing.T) {
	w := newWorld(t)
	off, _ := w.engine("officerA", Config{})
	f := &faults{base: http.DefaultTransport}
	con, _ := w.engine("contactA", Config{Transport: f})
	set(t, off, "visits", "v1", "p1", map[string]any{"notes": "待删除"})
	set(t, off, "visits", "v2", "p1", map[string]any{"notes": "保留"})
	mustSync(t, off)
	mustSync(t, con)
	must(t, off.Delete("visits", "v1"))
	mustSync(t, off)
	if n, err := w.srv.SweepTombstones(t.Context(), time.Now().Add(time.Hour)); err != nil || n != 1 {
		t.Fatalf("sweep: %d %v, want 1 tombstone purged", n, err)
	}
	set(t, con, "issues", "i1", "p1", map[string]any{"title": "重新同步期间的修改"})

	// The pull is cut right after the page that says resync (the first
	// request: a pull that ends in a page asks for no scopes).
	f.arm(2, dropRequest, nil)
	if _, err := pullOnly(t, con); !errors.Is(err, errInjected) {
		t.Fatalf("cut pull: %v", err)
	}
	if base, outbox, _ := localState(t, con, "p1"); len(base) != 1 || outbox != 1 {
		t.Fatalf("mid-resync: base %v (want only the directory record pairings/p1), outbox %d (want 1)", base, outbox)
	}
	if r, ok := con.Get("issues", "i1"); !ok || !strings.Contains(r.String(), "重新同步期间的修改") {
		t.Fatalf("the pending write left the view during the resync: %v", r)
	}

	// The next Sync reads p1 again before pushing.
	f.arm(0, noFault, nil)
	p := mustSync(t, con)
	f.mu.Lock()
	steps := slices.Clone(f.steps)
	f.mu.Unlock()
	firstPush := slices.Index(steps, "POST /v1/sync/push")
	if firstPush < 0 || !slices.Contains(steps[:firstPush], "POST /v1/sync/pull") {
		t.Fatalf("steps %v: want a pull before the push", steps)
	}
	if p.UploadDone != 1 {
		t.Fatalf("sync after resync: %+v", p)
	}
	if _, ok := con.Get("visits", "v1"); ok {
		t.Fatal("the purged record is back on the phone")
	}
	sameAsServer(t, w, con, "contact", "p1")
	must(t, con.db.View(func(tx *bbolt.Tx) error {
		if n := tx.Bucket(bucketResync).Stats().KeyN; n != 0 {
			t.Errorf("%d resync marks left", n)
		}
		return nil
	}))

	// A whole resync in one pull.
	set(t, off, "visits", "v3", "p1", map[string]any{"notes": "x"})
	mustSync(t, off)
	must(t, off.Delete("visits", "v3"))
	mustSync(t, off)
	set(t, con, "issues", "i1", "p1", map[string]any{"title": "再改一次"})
	if _, err := w.srv.SweepTombstones(t.Context(), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	p, err := pullOnly(t, con)
	if err != nil || !slices.Equal(p.Resynced, []string{"p1"}) || con.Pending() != 1 {
		t.Fatalf("resync: %+v %v, pending %d; want p1 resynced and the write kept", p, err, con.Pending())
	}
	if got, want := encoded(t, con, "issues/i1"), w.serverRecords("p1")["issues/i1"]; got == nil || want == nil {
		t.Fatalf("after the resync pull, i1: got %s, server %s; want it read again from 0", got, want)
	}
	if got := encoded(t, con, "visits/v2"); got != nil {
		t.Fatalf("after the resync pull the contact holds visit v2 (contacts do not receive visits): %s", got)
	}
	mustSync(t, con)
	sameAsServer(t, w, con, "contact", "p1")
}

// busy answers the first n requests to a path with a synthetic status and
// Retry-After, then lets requests through.
type busy struct {
	base   http.RoundTripper
	mu     sync.Mutex
	left   map[string]int
	status int
	seen   []string
}

func (b *busy) RoundTrip(req *http.Request) (*http.Response, error) {
	b.mu.Lock()
	b.seen = append(b.seen, req.URL.Path)
	n := b.left[req.URL.Path]
	if n > 0 {
		b.left[req.URL.Path] = n - 1
	}
	b.mu.Unlock()
	if n == 0 {
		return b.base.RoundTrip(req)
	}
	if req.Body != nil {
		io.Copy(io.Discard, req.Body)
		req.Body.Close()
	}
	return &http.Response{StatusCode: b.status, Header: http.Header{"Retry-After": {"1"}, "Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(`{"code":"unavailable","message":"busy"}`)), Request: req}, nil
}

// TestRetryBusy: 503 and 429 are retried after Retry-After (capped), up
// to MaxAttempts; past that the Sync fails and the outbox is intact.
func TestRetryBusy(t *testing.T) {
	w := newWorld(t)
	b := &busy{base: http.DefaultTransport, left: map[string]int{}, status: http.StatusServiceUnavailable}
	off, _ := w.engine("officerA", Config{Transport: b, MaxRetryWait: 5 * time.Millisecond, MaxAttempts: 3})
	set(t, off, "visits", "v1", "p1", map[string]any{"notes": "忙时上传"})
	b.left["/v1/sync/push"], b.left["/v1/sync/pull"] = 2, 2
	p := mustSync(t, off)
	if p.UploadDone != 1 {
		t.Fatalf("got %+v", p)
	}
	b.status = http.StatusTooManyRequests
	set(t, off, "visits", "v2", "p1", map[string]any{"notes": "限流"})
	b.left["/v1/sync/push"] = 3
	_, err := off.Sync(t.Context())
	var serr *ServerError
	if !errors.As(err, &serr) || serr.Status != http.StatusTooManyRequests || off.Pending() != 1 {
		t.Fatalf("after 3 refusals: %v, pending %d; want a 429 ServerError and the write kept", err, off.Pending())
	}
	mustSync(t, off)
	if off.Pending() != 0 {
		t.Fatal("the write did not go after the server recovered")
	}
}

func TestRetryWait(t *testing.T) {
	c := &conn{e: &Engine{cfg: Config{MaxRetryWait: 60 * time.Second, Now: time.Now}}}
	at := time.Now().Add(10 * time.Second).UTC().Format(http.TimeFormat)
	for _, tc := range []struct {
		name       string
		attempt    int
		retryAfter string
		lo, hi     time.Duration
	}{
		{"seconds", 1, "3", 3 * time.Second, 3 * time.Second},
		{"date", 1, at, 8 * time.Second, 10 * time.Second},
		{"capped", 1, "3600", 60 * time.Second, 60 * time.Second},
		{"backoff 1", 1, "", 250 * time.Millisecond, 500 * time.Millisecond},
		{"backoff 4", 4, "", 2 * time.Second, 4 * time.Second},
		{"backoff capped", 20, "", 60 * time.Second, 60 * time.Second},
		{"garbage", 2, "soon", 500 * time.Millisecond, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := c.wait(tc.attempt, tc.retryAfter); got < tc.lo || got > tc.hi {
				t.Fatalf("got %v, want %v..%v", got, tc.lo, tc.hi)
			}
		})
	}
}

// TestTokens: the access token is refreshed before it expires and on a
// 401; a dead refresh token asks for a sign-in, which keeps the device and
// its pending writes.
func TestTokens(t *testing.T) {
	w := newWorld(t)
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	f := &faults{base: http.DefaultTransport}
	off, _ := w.engine("officerA", Config{Transport: f, Now: now})
	dev := off.DeviceID()
	sess := func() session {
		var s session
		must(t, off.db.View(func(tx *bbolt.Tx) error { var err error; s, _, err = loadSession(tx); return err }))
		return s
	}
	edit := func(change func(*session)) {
		s := sess()
		change(&s)
		must(t, off.db.Update(func(tx *bbolt.Tx) error { return saveJSON(tx, keySession, s) }))
	}
	steps := func() []string {
		f.mu.Lock()
		defer f.mu.Unlock()
		return slices.Clone(f.steps)
	}

	// Close to expiry: refreshed first.
	first := sess()
	clock.Add(int64(9*time.Minute + 30*time.Second))
	f.arm(0, noFault, nil)
	mustSync(t, off)
	if s := steps(); len(s) == 0 || s[0] != "POST /v1/auth/refresh" || sess().RefreshToken == first.RefreshToken {
		t.Fatalf("steps %v: want a refresh first, and a new refresh token stored", s)
	}
	// A refused access token: refreshed once, the request sent again.
	edit(func(s *session) { s.AccessToken = "not-a-token" })
	set(t, off, "visits", "v1", "p1", map[string]any{"notes": "x"})
	f.arm(0, noFault, nil)
	mustSync(t, off)
	if s := steps(); len(s) < 3 || s[0] != "POST /v1/sync/push" || s[1] != "POST /v1/auth/refresh" || s[2] != "POST /v1/sync/push" {
		t.Fatalf("steps %v: want push (401), refresh, push", s)
	}
	// A dead session: sign in again, nothing lost.
	edit(func(s *session) { s.AccessToken, s.RefreshToken = "not-a-token", "not-a-refresh-token" })
	set(t, off, "visits", "v2", "p1", map[string]any{"notes": "会话过期时的走访"})
	if _, err := off.Sync(t.Context()); !errors.Is(err, ErrSignInRequired) {
		t.Fatalf("dead session: %v, want ErrSignInRequired", err)
	}
	if off.Pending() != 1 || off.SignedIn() {
		t.Fatalf("pending %d, signed in %v: want the write kept and the session gone", off.Pending(), off.SignedIn())
	}
	must(t, off.SignIn(t.Context(), w.url, "officerA", testPassword, "ignored"))
	if off.DeviceID() != dev {
		t.Fatalf("device after signing in again: %s, want %s", off.DeviceID(), dev)
	}
	if p := mustSync(t, off); p.UploadDone != 1 {
		t.Fatalf("after signing in again: %+v", p)
	}
	if r, ok := w.receipt(dev, 2); !ok || r.Status != syncproto.StatusApplied {
		t.Fatalf("write 2: %+v %v", r, ok)
	}
	// Before signing in, writes wait for a device.
	e, err := Open(t.TempDir()+"/fresh.db", Config{})
	must(t, err)
	defer e.Close()
	if err := e.Set("visits", "v9", "p1", jsonFields(t, map[string]any{"notes": "x"})); !errors.Is(err, ErrNotSignedIn) {
		t.Fatalf("write before sign-in: %v, want ErrNotSignedIn", err)
	}
	if _, err := e.Sync(t.Context()); !errors.Is(err, ErrNotSignedIn) {
		t.Fatalf("sync before sign-in: %v, want ErrNotSignedIn", err)
	}
}

// purgeWatch passes requests through, notes when a pull answer says to
// purge, and then drops the first request armed after that.
type purgeWatch struct {
	base      http.RoundTripper
	mu        sync.Mutex
	purgeSeen bool
	dropNext  bool
	dropped   string
}

func (p *purgeWatch) RoundTrip(req *http.Request) (*http.Response, error) {
	p.mu.Lock()
	drop := p.dropNext
	if drop {
		p.dropNext, p.dropped = false, req.URL.Path
	}
	p.mu.Unlock()
	if drop {
		return nil, errInjected
	}
	resp, err := p.base.RoundTrip(req)
	if err != nil || req.URL.Path != "/v1/sync/pull" {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if strings.Contains(string(body), `"purge":["p1"]`) {
		p.mu.Lock()
		p.purgeSeen = true
		p.mu.Unlock()
	}
	resp.Body = io.NopCloser(strings.NewReader(string(body)))
	return resp, nil
}

// TestPurgeCutShort: a write made while the sync is told to purge p1 is
// pushed before the purge; when that push is cut short, the pairing stays
// in the cursor, so the next Sync is told again, pushes the write (within
// the grace) and finishes the purge.
func TestPurgeCutShort(t *testing.T) {
	w := newWorld(t)
	pw := &purgeWatch{base: http.DefaultTransport}
	var off *Engine
	wrote := false
	cfg := Config{Transport: pw, OnProgress: func(p Progress) {
		pw.mu.Lock()
		seen := pw.purgeSeen
		pw.mu.Unlock()
		if seen && !wrote && p.Phase == PhaseRecords {
			wrote = true
			set(t, off, "visits", "v-mid", "p1", map[string]any{"notes": "同步途中记录的走访"})
			pw.mu.Lock()
			pw.dropNext = true
			pw.mu.Unlock()
		}
	}}
	off, path := w.engine("officerA", cfg)
	mustSync(t, off)
	set(t, off, "visits", "v-late", "p1", map[string]any{"notes": "移除前记录的走访"})
	w.dirSet("pairings", "p1", map[string]any{"officers": []map[string]any{},
		"former_officers": []map[string]any{{"user_id": "u-officerA", "removed_at": time.Now()}}})

	p, err := off.Sync(t.Context())
	if !errors.Is(err, errInjected) || pw.dropped != "/v1/sync/push" || len(p.Purged) != 0 {
		t.Fatalf("got %+v, %v (dropped %q); want the purge's push cut short", p, err, pw.dropped)
	}
	if base, outbox, cursor := localState(t, off, "p1"); len(base) == 0 || outbox != 1 || !cursor {
		t.Fatalf("after the cut: base %v, outbox %d, cursor %v; want p1 still whole, with the new write pending", base, outbox, cursor)
	}
	must(t, off.Close())
	off, err = Open(path, Config{})
	must(t, err)
	defer off.Close()
	p = mustSync(t, off)
	if p.UploadDone != 1 || !slices.Equal(p.Purged, []string{"p1"}) {
		t.Fatalf("finishing sync: %+v; want the pending write pushed and p1 purged", p)
	}
	if r, ok := w.receipt(off.DeviceID(), 2); !ok || r.Status != syncproto.StatusApplied {
		t.Fatalf("the write made mid-sync: %+v %v, want applied", r, ok)
	}
	if base, outbox, cursor := localState(t, off, "p1"); len(base) != 0 || outbox != 0 || cursor {
		t.Fatalf("after the purge: base %v, outbox %d, cursor %v", base, outbox, cursor)
	}
}
