package server

import (
	"fmt"
	"maps"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/server/servertest"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/syncproto"
)

// pullCallsWorld is a server on a store counted by servertest.CountingStore
// where adminA sees n pairings (pc-00000, pc-00001, … of unit A), each
// holding one visit.
type pullCallsWorld struct {
	*idEnv
	store   storage.Store
	counted *servertest.CountingStore
	w       syncproto.Writer // writes the fixture's records straight into the store
	n       int
}

func newPullCallsWorld(t *testing.T, n int) *pullCallsWorld {
	t.Helper()
	db, _ := servertest.OpenStores(t, false) // no fsync: thousands of commits
	e := startEnv(t, servertest.Options{Store: db}, Config{}, Deps{ProtocolOnly: true})
	counted := servertest.Counting(db)
	s2, err := New(Config{}, Deps{Store: counted, Photos: e.s.photos, Now: e.now, PasswordParams: fastPasswords, ProtocolOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	w := &pullCallsWorld{idEnv: &idEnv{t: t, s: s2, base: serve(t, s2), clock: e.clock, units: e.units, users: e.users},
		store: db, counted: counted, w: syncproto.Writer{Replica: "srv-pullcalls"}, n: n}
	// The directory's pairings, 500 to a commit.
	var puts []storage.Put
	for i := range n {
		puts = append(puts, w.put(t, pairing.CollPairings, pullCallsPairing(i), map[string]any{"name": "结对 " + pullCallsPairing(i),
			"status": pairing.StatusActive, "branches": []string{"unitA"}, "officers": []map[string]any{{"user_id": "u-officerA", "primary": true}}}))
		if len(puts) == 500 || i == n-1 {
			if _, err := db.Commit(t.Context(), storage.Batch{Pairing: pairing.DirectoryScope, Puts: puts}); err != nil {
				t.Fatal(err)
			}
			puts = nil
		}
	}
	for i := range n {
		w.visit(t, i, "v-"+pullCallsPairing(i), 0)
	}
	return w
}

func pullCallsPairing(i int) string { return fmt.Sprintf("pc-%05d", i) }

// put is a new record coll/id with fields, as a put.
func (w *pullCallsWorld) put(t *testing.T, coll, id string, fields map[string]any) storage.Put {
	t.Helper()
	pid := pairing.DirectoryScope
	if coll == "visits" {
		pid = pullCallsPairing(int(fields["i"].(float64)))
	}
	next, _, err := w.w.Set(syncproto.NewRecord(coll, id, pid), servertest.JSONFields(t, fields), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	data, err := syncproto.Encode(next)
	if err != nil {
		t.Fatal(err)
	}
	return storage.Put{Key: storage.Key{Collection: coll, ID: id}, Data: data}
}

// visit commits a new visit id into pairing i (expect: 0, the visit is new).
func (w *pullCallsWorld) visit(t *testing.T, i int, id string, expect uint64) {
	t.Helper()
	p := w.put(t, "visits", id, map[string]any{"i": float64(i), "notes": "走访 " + id})
	p.Expect = expect
	if _, err := w.store.Commit(t.Context(), storage.Batch{Pairing: pullCallsPairing(i), Puts: []storage.Put{p}}); err != nil {
		t.Fatal(err)
	}
}

// pullOnce makes one pull of at most limit records with cursor and returns
// the answer and the storage calls it made that read records or heads (the
// background's writes, LastSeen among them, are left out).
func (w *pullCallsWorld) pullOnce(t *testing.T, d *device, cursor syncproto.Cursor, limit int) (*syncproto.PullAnswer, int, map[string]int) {
	t.Helper()
	body, _ := syncproto.Encode(&syncproto.PullRequest{V: 1, Cursor: cursor, Limit: limit})
	w.counted.Reset()
	r := w.call("POST", "/v1/sync/pull", d.token, body)
	_, by := w.counted.Calls()
	if r.status != 200 {
		t.Fatalf("pull: %d %s", r.status, r.body)
	}
	ans, err := syncproto.DecodePullAnswer(r.body, syncproto.Limits{MaxKeys: 100_000})
	if err != nil {
		t.Fatal(err)
	}
	n, reads := 0, map[string]int{}
	for op, c := range by {
		if pullReadOps[op] {
			n += c
			reads[op] = c
		}
	}
	return ans, n, reads
}

// pullAll pulls every page into d's cursor (a cursor of thousands of
// pairings: device.pull's decoder takes at most 1,000) and returns how
// many records arrived.
func (w *pullCallsWorld) pullAll(t *testing.T, d *device) int {
	t.Helper()
	got := 0
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatal("pull does not end")
		}
		ans, _, _ := w.pullOnce(t, d, d.cursor, 0)
		got += len(ans.Records)
		d.cursor = d.cursor.Next(ans)
		if !ans.More {
			return got
		}
	}
}

// pullReadOps are the storage methods a pull reads with.
var pullReadOps = map[string]bool{"Head": true, "Horizon": true, "Changes": true, "ConfirmedHead": true,
	"HeadsOf": true, "HeadsSince": true, "Get": true}

// pullCallsCase is what one full page costs in one world.
type pullCallsCase struct {
	first, steady int // storage reads of the page
	firstBy       map[string]int
	steadyBy      map[string]int
	idle          int // storage reads of a pull with nothing new (not a full page)
	idleBy        map[string]int
}

// measurePullCalls counts the storage reads of two full pages of adminA
// (page limit 5) in a world of n pairings:
//   - first: the first page of a first sync (empty cursor): the directory
//     alone fills it, every pairing is still to be read;
//   - steady: after a full sync, one new visit in each of the last eight
//     pairings (in the pull's order): every pairing before them has
//     nothing new, three after the page fills still hold news.
func measurePullCalls(t *testing.T, n int) pullCallsCase {
	w := newPullCallsWorld(t, n)
	adm := w.device(t, "adminA")
	var c pullCallsCase
	// The server reads the fixture's directory before the count (its
	// first catch-up reads every directory record, pages of 500).
	if err := w.s.dir.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	ans, calls, by := w.pullOnce(t, adm, syncproto.Cursor{}, 5)
	if len(ans.Records) != 5 || !ans.More {
		t.Fatalf("first page: %d records, more %v; want a full page of 5 with more", len(ans.Records), ans.More)
	}
	c.first, c.firstBy = calls, by

	w.pullAll(t, adm)
	if len(adm.cursor) != n+1 {
		t.Fatalf("after a full sync the cursor names %d scopes, want %d", len(adm.cursor), n+1)
	}
	for i := n - 8; i < n; i++ {
		w.visit(t, i, "v-new-"+pullCallsPairing(i), 0)
	}
	ans, calls, by = w.pullOnce(t, adm, adm.cursor, 5)
	if len(ans.Records) != 5 || !ans.More {
		t.Fatalf("steady page: %d records, more %v; want a full page of 5 with more", len(ans.Records), ans.More)
	}
	for _, pr := range ans.Records {
		if !strings.HasPrefix(pr.Record.ID, "v-new-") {
			t.Errorf("steady page: got %s of %s, want only the new visits", pr.Record.ID, pr.Pairing)
		}
	}
	c.steady, c.steadyBy = calls, by
	// The rest arrives on the next pages, and a pull with nothing new says
	// no more.
	before := maps.Clone(adm.cursor)
	if got := w.pullAll(t, adm); got != 8 {
		t.Errorf("the steady pull's pages: got %d records, want the 8 new visits (cursor %d scopes before)", got, len(before))
	}
	ans, c.idle, c.idleBy = w.pullOnce(t, adm, adm.cursor, 5)
	if len(ans.Records) != 0 || ans.More || len(ans.Resync) > 0 {
		t.Errorf("pull with nothing new: %d records, more %v, resync %v; want none, false, none", len(ans.Records), ans.More, ans.Resync)
	}
	return c
}

// TestPullFullPageCallsDoNotGrowWithPairings: a full pull page costs the
// same number of storage calls whatever the number of pairings the caller
// sees (issue 19: a province administrator sees 7,000; the pull read the
// head of every pairing left after the page filled, and the horizon and
// head of every pairing before, each in its own call). The counts are of
// calls, not time.
func TestPullFullPageCallsDoNotGrowWithPairings(t *testing.T) {
	sizes := []int{20, 80}
	if v := os.Getenv("PAIRSYNC_PULLCALLS_PAIRINGS"); v != "" {
		// e.g. 1000,5000: the figures of ARCHITECTURE.md.
		sizes = nil
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(f)
			if err != nil || n < 9 {
				t.Fatalf("PAIRSYNC_PULLCALLS_PAIRINGS=%q: want sizes of at least 9, comma-separated", v)
			}
			sizes = append(sizes, n)
		}
	}
	var got []pullCallsCase
	for _, n := range sizes {
		c := measurePullCalls(t, n)
		t.Logf("%5d pairings: first page %4d storage reads %v; steady page %5d %v; nothing new %5d %v", n, c.first, c.firstBy, c.steady, c.steadyBy, c.idle, c.idleBy)
		got = append(got, c)
	}
	for i := 1; i < len(got); i++ {
		if got[i].first != got[0].first {
			t.Errorf("first full page: %d storage reads at %d pairings, %d at %d: the count grows with the pairings",
				got[i].first, sizes[i], got[0].first, sizes[0])
		}
		if got[i].steady != got[0].steady {
			t.Errorf("steady full page: %d storage reads at %d pairings, %d at %d: the count grows with the pairings",
				got[i].steady, sizes[i], got[0].steady, sizes[0])
		}
		if got[i].idle != got[0].idle {
			t.Errorf("pull with nothing new: %d storage reads at %d pairings, %d at %d: the count grows with the pairings",
				got[i].idle, sizes[i], got[0].idle, sizes[0])
		}
	}
}

// TestScopesCallsDoNotGrowWithPairings: GET /v1/sync/scopes (the web app
// asks it at the start of every sync, for its progress total) reads the
// heads of the caller's pairings in one call, not one per pairing.
func TestScopesCallsDoNotGrowWithPairings(t *testing.T) {
	var got []int
	sizes := []int{20, 80}
	for _, n := range sizes {
		w := newPullCallsWorld(t, n)
		adm := w.device(t, "adminA")
		if err := w.s.dir.Refresh(t.Context()); err != nil {
			t.Fatal(err)
		}
		w.counted.Reset()
		r := w.call("GET", "/v1/sync/scopes", adm.token, nil)
		_, by := w.counted.Calls()
		if r.status != 200 {
			t.Fatalf("scopes: %d %s", r.status, r.body)
		}
		ans, err := syncproto.DecodeScopes(r.body, syncproto.Limits{MaxKeys: 100_000})
		if err != nil {
			t.Fatal(err)
		}
		if len(ans.Pairings) != n {
			t.Fatalf("scopes at %d pairings: got %d", n, len(ans.Pairings))
		}
		for _, sc := range ans.Pairings {
			if sc.Seq != 1 {
				t.Errorf("scopes: %s at seq %d, want 1 (one visit)", sc.Pairing, sc.Seq)
			}
		}
		calls := 0
		for op, c := range by {
			if pullReadOps[op] {
				calls += c
			}
		}
		t.Logf("%d pairings: scopes %d storage reads %v", n, calls, by)
		got = append(got, calls)
	}
	if got[1] != got[0] {
		t.Errorf("scopes: %d storage reads at %d pairings, %d at %d: the count grows with the pairings", got[1], sizes[1], got[0], sizes[0])
	}
}
