package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pairsync/pairsync/server/auth"
	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/server/servertest"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/storage/files"
	"github.com/pairsync/pairsync/storage/mongo"
	"github.com/pairsync/pairsync/syncproto"
)

// The gap test ("a pull never skips a change", ARCHITECTURE.md):
// 50 officers push concurrently into pairing p1 while three pullers pull it
// continuously, then a checker proves that the sequence is gap-free, that
// every committed version reached every puller and that no cursor went
// backwards.
//
// The pushes are spread over three server processes sharing one bolt file
// (idEnv's server and two more, as pairsyncd replicas behind a load balancer
// share one database): within one process the per-pairing lock serializes
// commits, so only writers in different processes race on the pairing head
// and exercise the storage compare-and-set and the retry path.
const (
	gapPushers      = 50
	gapBatches      = 5 // pushes per pusher
	gapNewPerBatch  = 4 // new visits per push
	gapSharedIssues = 4 // issues every pusher edits (same field: conflicts)
	gapPairing      = "p1"
)

// gapStore counts the commits the storage refused with ErrConflict (a lost
// compare-and-set on the pairing head or a record).
type gapStore struct {
	storage.Store
	conflicts *atomic.Int64
}

func (s gapStore) Commit(ctx context.Context, b storage.Batch) (storage.Committed, error) {
	c, err := s.Store.Commit(ctx, b)
	if errors.Is(err, storage.ErrConflict) && b.Pairing == gapPairing {
		s.conflicts.Add(1)
	}
	return c, err
}

// gapAck is one acknowledged change: the record it wrote and the sequence
// its merged version was committed at.
type gapAck struct {
	key    string // collection/id
	seq    uint64
	status syncproto.Status
	shared bool
	dot    syncproto.Dot
}

// gapPuller is what one puller saw.
type gapPuller struct {
	name  string
	base  string
	limit int
	dev   *device

	pulls, cycles int
	received      int                 // records received, all scopes
	seqKey        map[uint64]string   // p1 seq → key received at it
	maxSeq        map[string]uint64   // p1 key → highest seq received
	cursors       map[string][]uint64 // pairing → every cursor value held
	view          map[string]syncproto.Record
	errs          []string
}

func (p *gapPuller) failf(format string, args ...any) {
	if len(p.errs) < 20 {
		p.errs = append(p.errs, p.name+": "+fmt.Sprintf(format, args...))
	}
}

// gapPost makes one real HTTP request, safe to call from any goroutine.
func gapPost(ctx context.Context, hc *http.Client, url, token string, body []byte) (int, []byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header, err
}

// gapSet is device.set without t.Fatal, for use off the test goroutine.
func gapSet(d *device, collection, id string, fields map[string]any) (syncproto.Change, error) {
	k := collection + "/" + id
	cur, ok := d.view[k]
	if !ok {
		cur = syncproto.NewRecord(collection, id, gapPairing)
	}
	vals, err := jsonValues(fields)
	if err != nil {
		return syncproto.Change{}, err
	}
	next, w, err := d.w.Set(cur, vals, time.Now())
	if err != nil {
		return syncproto.Change{}, err
	}
	d.view[k] = next
	return syncproto.Change{Dot: w.Dot, HLC: w.HLC, Record: next}, nil
}

// TestGapConcurrentPushersPullers is the gap test described at the top of
// this file.
func TestGapConcurrentPushersPullers(t *testing.T) {
	e := newIDEnv(t)
	gapConcurrentPushersPullers(t, e, e.db)
}

// TestGapConcurrentPushersPullersMongoDB is the gap test on the MongoDB at
// MONGODB_URI (make verify-mongo): three servers, one database. It is
// skipped without MONGODB_URI: FerretDB has no transactions, so concurrent
// pushers of one pairing cannot be served correctly there.
func TestGapConcurrentPushersPullersMongoDB(t *testing.T) {
	uri := os.Getenv("MONGODB_URI")
	if uri == "" {
		t.Skip("MONGODB_URI is not set: the gap test needs a real MongoDB replica set (FerretDB has no transactions); it runs on bolt in TestGapConcurrentPushersPullers")
	}
	db, err := mongo.Open(t.Context(), mongo.Config{URI: uri, Database: fmt.Sprintf("gap_%d", time.Now().UnixNano())})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e := startEnv(t, servertest.Options{Store: db}, Config{}, Deps{ProtocolOnly: true})
	gapConcurrentPushersPullers(t, e, db)
}

func gapConcurrentPushersPullers(t *testing.T, e *idEnv, store storage.Store) {
	start := time.Now()
	pairingsFixture(t, e)
	ctx := t.Context()

	// 50 more officers in unit A, all assigned to p1.
	phc, err := auth.NewHasher(fastPasswords, 1).Hash(ctx, testPassword)
	if err != nil {
		t.Fatal(err)
	}
	officers := []map[string]any{{"user_id": "u-officerA", "primary": true}}
	for i := range gapPushers {
		name := fmt.Sprintf("gapofficer%02d", i)
		if _, err := store.CreateUser(ctx, storage.User{ID: "u-" + name, Username: name, Name: name, Role: "officer",
			OrgUnit: e.units["A"].ID, PasswordHash: phc}); err != nil {
			t.Fatal(err)
		}
		officers = append(officers, map[string]any{"user_id": "u-" + name, "primary": false})
	}
	vals, _ := jsonValues(map[string]any{"officers": officers})
	if _, _, err := e.s.writeRecord(ctx, pairing.CollPairings, gapPairing, pairing.DirectoryScope, vals); err != nil {
		t.Fatal(err)
	}

	// Two more server processes on the same database.
	var conflicts atomic.Int64
	bases := []string{e.base}
	for i := range 2 {
		photos, err := files.Open(filepath.Join(t.TempDir(), fmt.Sprintf("photos%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		s, err := New(Config{}, Deps{Store: gapStore{Store: store, conflicts: &conflicts}, Photos: photos,
			Keys: e.s.keys, Now: e.now, PasswordParams: fastPasswords, ProtocolOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		bases = append(bases, serve(t, s))
	}

	pushers := make([]*device, gapPushers)
	for i := range pushers {
		pushers[i] = e.device(t, fmt.Sprintf("gapofficer%02d", i))
	}
	pullers := []*gapPuller{
		{name: "contactA", limit: 7},
		{name: "adminA", limit: 64},
		{name: "root", limit: 0}, // the server's default page
	}
	for j, p := range pullers {
		p.dev, p.base = e.device(t, p.name), bases[j%len(bases)]
		p.seqKey, p.maxSeq, p.cursors, p.view = map[uint64]string{}, map[string]uint64{}, map[string][]uint64{}, map[string]syncproto.Record{}
	}
	if h, err := store.Head(ctx, gapPairing); err != nil || h != 0 {
		t.Fatalf("p1 head before the run: %d %v, want 0", h, err)
	}
	setup := time.Since(start)

	tr := &http.Transport{MaxIdleConnsPerHost: gapPushers + len(pullers)}
	t.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Transport: tr}
	runCtx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()

	// Pullers: pull every page until more is false, again and again, until
	// a cycle that began after the last push was acknowledged has ended.
	pushersDone := make(chan struct{})
	var pwg sync.WaitGroup
	for _, p := range pullers {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			for {
				final := false
				select {
				case <-pushersDone:
					final = true
				default:
				}
				if !gapPullCycle(runCtx, hc, p) {
					return
				}
				p.cycles++
				if final {
					return
				}
			}
		}()
	}

	// Pushers: each pushes gapBatches batches of new visits, an edit of
	// one of its own earlier visits, and an edit of a shared issue.
	acks := make([][]gapAck, gapPushers)
	var (
		errMu     sync.Mutex
		pushErrs  []string
		conflict  []string // pushes answered 409 (see TestGapPushLosingCAS)
		retries   atomic.Int64
		changesN  atomic.Int64
		pushCalls atomic.Int64
	)
	pushFail := func(format string, args ...any) {
		errMu.Lock()
		defer errMu.Unlock()
		if len(pushErrs) < 20 {
			pushErrs = append(pushErrs, fmt.Sprintf(format, args...))
		}
	}
	var wg sync.WaitGroup
	for i, d := range pushers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range gapBatches {
				var changes []syncproto.Change
				var shared []bool
				add := func(collection, id string, isShared bool, fields map[string]any) bool {
					ch, err := gapSet(d, collection, id, fields)
					if err != nil {
						pushFail("pusher %d: set %s/%s: %v", i, collection, id, err)
						return false
					}
					changes, shared = append(changes, ch), append(shared, isShared)
					return true
				}
				for j := range gapNewPerBatch {
					if !add("visits", fmt.Sprintf("gap-%02d-%d-%d", i, b, j), false, map[string]any{"notes": fmt.Sprintf("走访 %d/%d/%d", i, b, j), "n": j}) {
						return
					}
				}
				if b > 0 && !add("visits", fmt.Sprintf("gap-%02d-%d-0", i, b-1), false, map[string]any{"notes": fmt.Sprintf("补记 %d/%d", i, b)}) {
					return
				}
				if !add("issues", fmt.Sprintf("gap-shared-%d", (i+b)%gapSharedIssues), true, map[string]any{"status": fmt.Sprintf("by %02d in push %d", i, b)}) {
					return
				}
				body, err := syncproto.Encode(&syncproto.PushRequest{V: 1, Device: syncproto.ReplicaID(d.id), Changes: changes})
				if err != nil {
					pushFail("pusher %d: encode: %v", i, err)
					return
				}
				// Spread over the processes; a push answered 503 is sent
				// again, as a phone would: pushes are exactly-once. A 409
				// is a failure of the test (the push lost the commit race
				// commitAttempts times and was told "conflict: reload and
				// try again"); it is sent again too, so that the checker
				// still runs.
				var ans *syncproto.PushAnswer
				for attempt := 0; ans == nil; attempt++ {
					status, rb, _, err := gapPost(runCtx, hc, bases[(i+b+attempt)%len(bases)]+"/v1/sync/push", d.token, body)
					pushCalls.Add(1)
					switch {
					case err != nil:
						pushFail("pusher %d push %d: %v", i, b, err)
						return
					case status == http.StatusConflict && attempt < 20:
						errMu.Lock()
						conflict = append(conflict, fmt.Sprintf("pusher %d push %d (%d changes) via %s: %d %s", i, b, len(changes), bases[(i+b+attempt)%len(bases)], status, rb))
						errMu.Unlock()
						retries.Add(1)
						continue
					case status == http.StatusServiceUnavailable && attempt < 20:
						retries.Add(1)
						time.Sleep(time.Duration(attempt+1) * 5 * time.Millisecond)
						continue
					case status != http.StatusOK:
						pushFail("pusher %d push %d: %d %s", i, b, status, rb)
						return
					}
					if ans, err = syncproto.DecodePushAnswer(rb, syncproto.Limits{}); err != nil {
						pushFail("pusher %d push %d: answer %s: %v", i, b, rb, err)
						return
					}
				}
				if len(ans.Results) != len(changes) {
					pushFail("pusher %d push %d: %d results for %d changes", i, b, len(ans.Results), len(changes))
					return
				}
				changesN.Add(int64(len(changes)))
				for n, r := range ans.Results {
					ch := changes[n]
					if r.Dot != ch.Dot || r.Seq == 0 || (r.Status != syncproto.StatusApplied && r.Status != syncproto.StatusMerged) {
						pushFail("pusher %d push %d: %s/%s got %+v (error %v), want applied or merged with a seq", i, b, ch.Record.Collection, ch.Record.ID, r, r.Error)
						continue
					}
					acks[i] = append(acks[i], gapAck{key: ch.Record.Collection + "/" + ch.Record.ID, seq: r.Seq, status: r.Status, shared: shared[n], dot: ch.Dot})
				}
			}
		}()
	}
	wg.Wait()
	pushTime := time.Since(start) - setup
	close(pushersDone)
	pwg.Wait()
	runTime := time.Since(start) - setup
	for _, m := range pushErrs {
		t.Error(m)
	}
	for _, p := range pullers {
		for _, m := range p.errs {
			t.Error(m)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	// Reported, not fatal: the checker below still runs.
	for _, m := range conflict {
		t.Errorf("push failed with 409 while the pairing was contended, where a retryable answer (or success) was due: %s", m)
	}

	// Each kind of failure prints its first five cases, then a count.
	failures := map[string]int{}
	var kinds []string
	failf := func(kind, format string, args ...any) {
		t.Helper()
		if failures[kind] == 0 {
			kinds = append(kinds, kind)
		}
		if failures[kind]++; failures[kind] <= 5 {
			t.Errorf(format, args...)
		}
	}
	defer func() {
		for _, k := range kinds {
			if failures[k] > 5 {
				t.Errorf("%s: %d cases in all", k, failures[k])
			}
		}
	}()

	// Checker 1: the acknowledged sequences are exactly 1..head, each
	// given to one record: the pushers' view of a gap-free sequence.
	head, err := store.Head(ctx, gapPairing)
	if err != nil {
		t.Fatal(err)
	}
	ackAt := map[uint64]string{}   // seq → key acknowledged at it
	lastAck := map[string]uint64{} // key → highest acknowledged seq
	// A device's last write to each shared issue (an earlier one is
	// superseded by it).
	lastShared := map[[2]string]gapAck{}
	merged := 0
	for _, as := range acks {
		for _, a := range as {
			if k, ok := ackAt[a.seq]; ok && k != a.key {
				failf("seq shared", "seq %d acknowledged for both %s and %s", a.seq, k, a.key)
			}
			ackAt[a.seq] = a.key
			lastAck[a.key] = max(lastAck[a.key], a.seq)
			if dk := [2]string{string(a.dot.Replica), a.key}; a.shared && a.seq > lastShared[dk].seq {
				lastShared[dk] = a
			}
			if a.status == syncproto.StatusMerged {
				merged++
			}
		}
	}
	for s := uint64(1); s <= head; s++ {
		if _, ok := ackAt[s]; !ok {
			failf("seq unacknowledged", "seq %d ≤ head %d: no acknowledged change was committed at it", s, head)
		}
	}
	if uint64(len(ackAt)) != head {
		t.Errorf("%d distinct acknowledged seqs, head is %d", len(ackAt), head)
	}

	// Checker 2: the changes feed holds each record once, at its last
	// acknowledged seq, with the stored version.
	type feedEntry struct {
		seq  uint64
		key  string
		data []byte
	}
	var feed []feedEntry
	for after := uint64(0); ; {
		page, err := store.Changes(ctx, gapPairing, after, storage.PageLimit{})
		if err != nil {
			t.Fatal(err)
		}
		for _, sr := range page.Records {
			if sr.Seq <= after {
				failf("feed order", "feed: seq %d after %d", sr.Seq, after)
			}
			after = sr.Seq
			feed = append(feed, feedEntry{sr.Seq, sr.Collection + "/" + sr.ID, sr.Data})
		}
		if !page.More {
			break
		}
	}
	if len(feed) != len(lastAck) {
		t.Errorf("the feed holds %d records, %d were acknowledged", len(feed), len(lastAck))
	}
	stored := map[string][]byte{}
	for _, f := range feed {
		if lastAck[f.key] != f.seq {
			failf("feed seq", "feed: %s at seq %d, its last acknowledged seq is %d", f.key, f.seq, lastAck[f.key])
		}
		stored[f.key] = f.data
	}
	for key, seq := range lastAck {
		col, id, _ := strings.Cut(key, "/")
		sr, err := store.Get(ctx, storage.Key{Collection: col, ID: id})
		if err != nil || sr.Seq != seq || sr.Pairing != gapPairing || !bytes.Equal(sr.Data, stored[key]) {
			failf("stored", "stored %s: seq %d pairing %q err %v, want seq %d in %s, as in the feed", key, sr.Seq, sr.Pairing, err, seq, gapPairing)
		}
	}
	// Every device's last acknowledged write to a shared issue is in its
	// stored version, as the winning value or a conflict entry (the
	// pushers never pull: all their writes are concurrent).
	conflictsKept := 0
	for _, a := range lastShared {
		r, err := syncproto.DecodeRecord(stored[a.key], syncproto.Limits{})
		if err != nil {
			t.Fatalf("stored %s: %v", a.key, err)
		}
		if r.Fields["status"].Dot != a.dot && !slices.ContainsFunc(r.ConflictsOf("status"), func(c syncproto.Conflict) bool { return c.Dot == a.dot }) {
			failf("shared write lost", "acknowledged write %s to %s is neither the value nor a conflict entry", a.dot, a.key)
		}
	}
	for i := range gapSharedIssues {
		if r, err := syncproto.DecodeRecord(stored[fmt.Sprintf("issues/gap-shared-%d", i)], syncproto.Limits{}); err == nil {
			conflictsKept += len(r.Conflicts)
		}
	}

	// Checker 3: every puller received every seq still in the feed, holds
	// every record byte-equal to the stored version, received only
	// acknowledged versions, and ends at the heads.
	dirHead, err := store.Head(ctx, pairing.DirectoryScope)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pullers {
		// What a puller receives: contacts do not receive visits.
		receives := func(key string) bool { return p.name != "contactA" || !strings.HasPrefix(key, "visits/") }
		for _, f := range feed {
			if !receives(f.key) {
				if _, got := p.seqKey[f.seq]; got {
					failf(p.name+" received a visit", "%s received %s, which contacts do not receive", p.name, f.key)
				}
				continue
			}
			if p.seqKey[f.seq] != f.key {
				failf(p.name+" missed a version", "%s never received %s at seq %d (the last seq it received it at: %d)", p.name, f.key, f.seq, p.maxSeq[f.key])
			}
		}
		for seq, key := range p.seqKey {
			if ackAt[seq] != key {
				failf(p.name+" unacknowledged version", "%s received %s at seq %d, which was acknowledged for %q", p.name, key, seq, ackAt[seq])
			}
		}
		received := 0
		for key, seq := range lastAck {
			if !receives(key) {
				continue
			}
			received++
			if p.maxSeq[key] < seq {
				failf(p.name+" stale record", "%s: %s last received at seq %d, acknowledged at %d", p.name, key, p.maxSeq[key], seq)
				continue
			}
			got, err := syncproto.Encode(p.view[key])
			if err != nil || !bytes.Equal(got, stored[key]) {
				failf(p.name+" differs", "%s holds %s as\n%s\nstored:\n%s", p.name, key, got, stored[key])
			}
		}
		if len(p.view) != received {
			t.Errorf("%s holds %d records of %s, %d it receives were acknowledged", p.name, len(p.view), gapPairing, received)
		}
		if cur := p.dev.cursor; cur[gapPairing] != head || cur[pairing.DirectoryScope] != dirHead {
			t.Errorf("%s ends at cursor %v, want %s:%d %s:%d", p.name, cur, gapPairing, head, pairing.DirectoryScope, dirHead)
		}
	}

	pulls, received := 0, 0
	for _, p := range pullers {
		pulls += p.pulls
		received += p.received
		t.Logf("puller %-8s (page limit %3d, via %s): %4d pulls in %3d cycles, %5d records received, %4d cursor values of %s",
			p.name, p.limit, p.base, p.pulls, p.cycles, p.received, len(p.cursors[gapPairing]), gapPairing)
	}
	t.Logf("%d pushers × %d pushes over %d processes: %d changes acknowledged (%d merged) in %d push requests (%d re-sent after 503 or 409), %d commits lost a compare-and-set (counted in 2 of 3 processes); %s head %d, feed %d records, %d conflict entries kept on the shared issues",
		gapPushers, gapBatches, len(bases), changesN.Load(), merged, pushCalls.Load(), retries.Load(), conflicts.Load(), gapPairing, head, len(feed), conflictsKept)
	t.Logf("%d pulls made, %d records received; setup %v, pushes %v, pushes + final drain %v",
		pulls, received, setup.Round(time.Millisecond), pushTime.Round(time.Millisecond), runTime.Round(time.Millisecond))
}

// gapPullCycle pulls pages until the answer says there is no more, checking
// each page; it reports false (with p.errs filled) when the puller must stop.
func gapPullCycle(ctx context.Context, hc *http.Client, p *gapPuller) bool {
	d := p.dev
	for pages := 0; ; pages++ {
		if pages > 10_000 {
			p.failf("pull does not end")
			return false
		}
		body, _ := syncproto.Encode(&syncproto.PullRequest{V: 1, Cursor: d.cursor, Limit: p.limit})
		status, rb, _, err := gapPost(ctx, hc, p.base+"/v1/sync/pull", d.token, body)
		p.pulls++
		if err != nil || status != http.StatusOK {
			p.failf("pull: %d %s %v", status, rb, err)
			return false
		}
		ans, err := syncproto.DecodePullAnswer(rb, syncproto.Limits{})
		if err != nil {
			p.failf("pull answer: %v", err)
			return false
		}
		if len(ans.Resync) > 0 || len(ans.Purge) > 0 {
			p.failf("pull from %v: resync %v, purge %v: nothing was purged or removed", d.cursor, ans.Resync, ans.Purge)
			return false
		}
		// Within a page, each pairing's records come in ascending seq,
		// after the request's cursor, and the page's cursor is the last.
		last := map[string]uint64{}
		for _, pr := range ans.Records {
			k := pr.Record.Collection + "/" + pr.Record.ID
			switch {
			case pr.Pairing != pr.Record.Pairing:
				p.failf("record %s of pairing %s delivered under %s", k, pr.Record.Pairing, pr.Pairing)
			case pr.Pairing != gapPairing && pr.Pairing != pairing.DirectoryScope:
				p.failf("record %s of pairing %s, which this user does not see", k, pr.Pairing)
			case pr.Seq <= d.cursor[pr.Pairing]:
				p.failf("%s at seq %d, at or before the cursor %d", k, pr.Seq, d.cursor[pr.Pairing])
			case pr.Seq <= last[pr.Pairing]:
				p.failf("%s at seq %d after seq %d in the same page", k, pr.Seq, last[pr.Pairing])
			}
			last[pr.Pairing] = max(last[pr.Pairing], pr.Seq)
			p.received++
			if pr.Pairing != gapPairing {
				continue
			}
			if prev, ok := p.seqKey[pr.Seq]; ok && prev != k {
				p.failf("seq %d delivered as %s and as %s", pr.Seq, prev, k)
			}
			p.seqKey[pr.Seq] = k
			p.maxSeq[k] = max(p.maxSeq[k], pr.Seq)
			p.view[k] = syncproto.Merge(p.view[k], pr.Record)
		}
		for pid, s := range ans.Cursor {
			if s < d.cursor[pid] {
				p.failf("the answer moves %s's cursor back from %d to %d", pid, d.cursor[pid], s)
			}
			// A contact's cursor may pass the last record it received: the
			// visits it does not receive are skipped.
			if l, ok := last[pid]; ok && (s < l || s > l && p.name != "contactA") {
				p.failf("the answer's cursor for %s is %d, its last record there is at %d", pid, s, l)
			}
		}
		for pid := range last {
			if _, ok := ans.Cursor[pid]; !ok {
				p.failf("the answer holds records of %s but no cursor for it", pid)
			}
		}
		next := d.cursor.Next(ans)
		for pid, s := range d.cursor {
			if next[pid] < s {
				p.failf("cursor of %s went back from %d to %d", pid, s, next[pid])
			}
		}
		for pid, s := range next {
			if h := p.cursors[pid]; len(h) > 0 && s < h[len(h)-1] {
				p.failf("cursor of %s went back from %d to %d", pid, h[len(h)-1], s)
			}
			p.cursors[pid] = append(p.cursors[pid], s)
		}
		d.cursor = next
		if len(p.errs) > 0 {
			return false
		}
		if !ans.More {
			return true
		}
	}
}

// gapInterleave is a store in which, before each of the first n commits
// into the pairing it attempts, another server process commits into the
// same pairing first: the worst interleaving of the compare-and-set on the
// pairing head, on demand.
type gapInterleave struct {
	storage.Store
	n      int64
	done   atomic.Int64
	before func() error
	errs   chan error
}

func (s *gapInterleave) Commit(ctx context.Context, b storage.Batch) (storage.Committed, error) {
	if b.Pairing == gapPairing && len(b.Puts) > 0 && s.done.Add(1) <= s.n {
		if err := s.before(); err != nil {
			s.errs <- err
		}
	}
	return s.Store.Commit(ctx, b)
}

// TestGapPushLosingCAS pins what the gap test can hit at random: a push
// that loses the race on its pairing's head on every one of its commit
// attempts (others keep committing between its read and its commit, as with
// many devices on several pairsyncd replicas) must end either applied or
// with a retryable answer (503 and Retry-After: the push is exactly-once and
// the contention is transient), never with a 409 "conflict: reload and try
// again", which tells the device its data is at fault. Nothing is committed
// by the failed push, and sending it again applies it once.
func TestGapPushLosingCAS(t *testing.T) {
	e := newIDEnv(t)
	pairingsFixture(t, e)
	ctx := t.Context()

	// Process B shares A's database; before each of its first 8 commits
	// into p1, process A commits a visit there. (8 is today's
	// commitAttempts; in the gap test a losing push saw 12 commits land
	// between its read and its commit.)
	const losses = 8
	var n atomic.Int64
	store := &gapInterleave{Store: e.db, n: losses, errs: make(chan error, losses)}
	store.before = func() error {
		i := n.Add(1)
		vals, _ := jsonValues(map[string]any{"notes": fmt.Sprintf("服务端写入 %d", i)})
		_, _, err := e.s.writeRecord(ctx, "visits", fmt.Sprintf("srv-%d", i), gapPairing, vals)
		return err
	}
	photos, err := files.Open(filepath.Join(t.TempDir(), "photos"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(Config{}, Deps{Store: store, Photos: photos, Keys: e.s.keys, Now: e.now, PasswordParams: fastPasswords, ProtocolOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	baseB := serve(t, b)

	offA := e.device(t, "officerA")
	ch := offA.set("visits", "v-contended", gapPairing, map[string]any{"notes": "走访，遇上并发提交"})
	body, err := syncproto.Encode(&syncproto.PushRequest{V: 1, Device: syncproto.ReplicaID(offA.id), Changes: []syncproto.Change{ch}})
	if err != nil {
		t.Fatal(err)
	}
	status, rb, hdr, err := gapPost(ctx, http.DefaultClient, baseB+"/v1/sync/push", offA.token, body)
	if err != nil {
		t.Fatal(err)
	}
	close(store.errs)
	for err := range store.errs {
		t.Fatalf("the interleaved commit of process A: %v", err)
	}
	t.Logf("push to process B while process A committed into %s before each of B's first %d commit attempts (commitAttempts is %d): %d %s (Retry-After %q)",
		gapPairing, losses, commitAttempts, status, rb, hdr.Get("Retry-After"))
	switch {
	case status == http.StatusOK:
		ans, err := syncproto.DecodePushAnswer(rb, syncproto.Limits{})
		if err != nil || len(ans.Results) != 1 || ans.Results[0].Status != syncproto.StatusApplied || ans.Results[0].Seq != uint64(n.Load())+1 {
			t.Fatalf("push answer %s (%v): want the change applied at seq %d", rb, err, n.Load()+1)
		}
		return
	case status == http.StatusServiceUnavailable && hdr.Get("Retry-After") != "":
	default:
		t.Errorf("push that lost the commit race %d times: got %d %s (Retry-After %q), want 200, or 503 with Retry-After",
			losses, status, rb, hdr.Get("Retry-After"))
	}
	// The failed push committed nothing; sent again it is applied once.
	if _, err := e.db.Receipt(ctx, offA.id, ch.Dot.Counter); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("receipt of the failed push: %v, want not found", err)
	}
	head, _ := e.db.Head(ctx, gapPairing)
	if head != uint64(n.Load()) {
		t.Errorf("p1 head after the failed push: %d, want %d (only process A's visits)", head, n.Load())
	}
	r, ans := offA.push(ch)
	if r.status != http.StatusOK || len(ans.Results) != 1 || ans.Results[0].Status != syncproto.StatusApplied || ans.Results[0].Seq != head+1 {
		t.Fatalf("push sent again: %d %s, want applied at seq %d", r.status, r.body, head+1)
	}
}
