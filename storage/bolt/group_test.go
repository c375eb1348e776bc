package bolt

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pairsync/pairsync/storage"
)

// openTemp opens a new database in a temporary folder, without fsync,
// closed when the test ends.
func openTemp(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), Config{Path: filepath.Join(t.TempDir(), "g.db"), NoSync: true})
	if err != nil {
		t.Fatalf("open: got error %v, want none", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func groupBatch(pairing string, from, n int, expectHead *uint64, replica string) storage.Batch {
	b := storage.Batch{Pairing: pairing, ExpectHead: expectHead}
	for i := from; i < from+n; i++ {
		b.Puts = append(b.Puts, storage.Put{Key: storage.Key{Collection: "visits", ID: fmt.Sprintf("%s-%d", pairing, i)}, Data: []byte(fmt.Sprint(i))})
		b.Receipts = append(b.Receipts, storage.Receipt{Replica: replica, Counter: uint64(i), Answer: []byte("ok")})
	}
	return b
}

func ptr(n uint64) *uint64 { return &n }

// TestGroupCommitFailsAlone runs batches in one group transaction, as
// concurrent Commit calls share one: a batch whose ExpectHead is stale (it
// read the head before an earlier batch of the same group) fails with
// ErrConflict and writes nothing; a batch that fails after it began writing
// (a receipt key bbolt refuses, past checkBatch) fails alone too; every
// other batch commits, with gap-free sequences in group order.
func TestGroupCommitFailsAlone(t *testing.T) {
	db := openTemp(t)
	ctx := context.Background()
	tooLong := strings.Repeat("r", 40_000) // over bbolt.MaxKeySize: refused by Put, not by Get
	dirty := groupBatch("p1", 100, 2, nil, "dev-x")
	dirty.Receipts = append(dirty.Receipts, storage.Receipt{Replica: tooLong, Counter: 1, Answer: []byte("x")})
	calls := []*commitCall{
		{b: groupBatch("p1", 0, 3, ptr(0), "dev-a")},  // p1 1..3
		{b: groupBatch("p1", 10, 2, ptr(0), "dev-b")}, // stale head: conflict
		{b: groupBatch("p2", 0, 2, nil, "dev-c")},     // p2 1..2
		{b: dirty}, // fails while writing
		{b: groupBatch("p1", 20, 2, ptr(3), "dev-d")}, // p1 4..5, sees the first batch
	}
	outcomes := db.runGroup(calls)
	wantSeqs := [][]uint64{{1, 2, 3}, nil, {1, 2}, nil, {4, 5}}
	for i, o := range outcomes {
		switch i {
		case 1:
			if !errors.Is(o.err, storage.ErrConflict) {
				t.Errorf("batch %d: got error %v, want ErrConflict", i, o.err)
			}
		case 3:
			if o.err == nil {
				t.Errorf("batch %d: got no error, want bbolt's key-too-large", i)
			}
		default:
			if o.err != nil {
				t.Errorf("batch %d: got error %v, want none", i, o.err)
			}
		}
		if got, want := fmt.Sprint(o.c.Seqs), fmt.Sprint(wantSeqs[i]); got != want && (len(o.c.Seqs) > 0 || wantSeqs[i] != nil) {
			t.Errorf("batch %d: got seqs %s, want %s", i, got, want)
		}
	}
	for pairing, want := range map[string]uint64{"p1": 5, "p2": 2} {
		if head, err := db.Head(ctx, pairing); err != nil || head != want {
			t.Errorf("head %s: got %d (%v), want %d", pairing, head, err, want)
		}
	}
	// Nothing of the failed batches is stored: no record, no receipt.
	for _, k := range []storage.Key{{Collection: "visits", ID: "p1-10"}, {Collection: "visits", ID: "p1-100"}} {
		if _, err := db.Get(ctx, k); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("get %s: got error %v, want ErrNotFound", k.ID, err)
		}
	}
	for _, r := range []struct {
		replica string
		counter uint64
	}{{"dev-b", 10}, {"dev-x", 100}} {
		if _, err := db.Receipt(ctx, r.replica, r.counter); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("receipt %s/%d: got error %v, want ErrNotFound", r.replica, r.counter, err)
		}
	}
	p, err := db.Changes(ctx, "p1", 0, storage.PageLimit{})
	if err != nil {
		t.Fatalf("changes: got error %v, want none", err)
	}
	var ids []string
	for _, r := range p.Records {
		ids = append(ids, fmt.Sprintf("%d:%s", r.Seq, r.ID))
	}
	if got, want := strings.Join(ids, " "), "1:p1-0 2:p1-1 3:p1-2 4:p1-20 5:p1-21"; got != want {
		t.Errorf("feed p1: got %s, want %s", got, want)
	}
}

// TestGroupCommitConcurrent has many goroutines commit at once, each to its
// own pairing with ExpectHead, plus one writer whose every ExpectHead is
// stale. The stale writer fails every time and nobody else ever does; every
// pairing ends gap-free at its expected head; and concurrent calls did share
// transactions (fewer write transactions than commits).
func TestGroupCommitConcurrent(t *testing.T) {
	// fsync on: a transaction lasts long enough for others to queue.
	db, err := Open(context.Background(), Config{Path: filepath.Join(t.TempDir(), "g.db")})
	if err != nil {
		t.Fatalf("open: got error %v, want none", err)
	}
	defer db.Close()
	ctx := context.Background()
	const writers, each = 20, 30
	before := db.group.txs.Load()
	var wg sync.WaitGroup
	errs := make(chan error, writers*each+each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pairing := fmt.Sprintf("p%d", w)
			for n := range each {
				head := uint64(n * 2)
				c, err := db.Commit(ctx, groupBatch(pairing, n*2, 2, &head, pairing))
				if err != nil {
					errs <- fmt.Errorf("%s batch %d: got error %v, want none", pairing, n, err)
					return
				}
				if c.Head != head+2 {
					errs <- fmt.Errorf("%s batch %d: got head %d, want %d", pairing, n, c.Head, head+2)
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := range each {
			stale := uint64(999)
			if _, err := db.Commit(ctx, groupBatch("p0", 1000+n, 1, &stale, "stale")); !errors.Is(err, storage.ErrConflict) {
				errs <- fmt.Errorf("stale batch %d: got error %v, want ErrConflict", n, err)
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for w := range writers {
		if head, _ := db.Head(ctx, fmt.Sprintf("p%d", w)); head != 2*each {
			t.Errorf("head p%d: got %d, want %d", w, head, 2*each)
		}
	}
	commits := uint64(writers*each + each)
	txs := db.group.txs.Load() - before
	t.Logf("write transactions: %d for %d commits", txs, commits)
	if txs >= commits {
		t.Errorf("write transactions: got %d for %d concurrent commits, want fewer (group commit)", txs, commits)
	}
}

// TestTouchDevices: one call records several sightings; an older sighting
// never moves LastSeen back; unknown devices are skipped; Rev advances
// with each change, so a read-modify-write of the device (revocation)
// conflicts rather than undoes it.
func TestTouchDevices(t *testing.T) {
	db := openTemp(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	for _, id := range []string{"d1", "d2"} {
		if _, err := db.CreateDevice(ctx, storage.Device{ID: id, UserID: "u1", Name: id, CreatedAt: t0}); err != nil {
			t.Fatalf("create %s: got error %v, want none", id, err)
		}
	}
	if err := db.TouchDevices(ctx, map[string]time.Time{"d1": t0.Add(time.Hour), "d2": t0.Add(2 * time.Hour), "nope": t0}); err != nil {
		t.Fatalf("touch: got error %v, want none", err)
	}
	if err := db.TouchDevices(ctx, map[string]time.Time{"d1": t0.Add(time.Minute)}); err != nil {
		t.Fatalf("touch again: got error %v, want none", err)
	}
	for id, want := range map[string]time.Time{"d1": t0.Add(time.Hour), "d2": t0.Add(2 * time.Hour)} {
		d, err := db.Device(ctx, id)
		if err != nil {
			t.Fatalf("device %s: got error %v, want none", id, err)
		}
		if !d.LastSeen.Equal(want) || d.Rev != 2 {
			t.Errorf("device %s: got last seen %v rev %d, want %v rev 2", id, d.LastSeen, d.Rev, want)
		}
	}
	if _, err := db.Device(ctx, "nope"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("device nope: got error %v, want ErrNotFound (touch must not create)", err)
	}
}

// groupStep is one Commit of groupScript and what it returned.
type groupStep struct {
	kind int
	c    storage.Committed
	err  error
}

// groupScript is one writer's commits into its own pairing, with its own
// replica, cycling through six kinds of batch; half of them must fail their
// checks (ErrConflict):
//
//	0  two new records and their receipts, ExpectHead = head: written
//	1  a new record with a stale ExpectHead: conflict
//	2  an update of the writer's first record (Expect = its seq) and a
//	   new record: written
//	3  an update of the first record with a stale Expect: conflict
//	4  a new record with the receipt of an earlier, written batch
//	   (a replayed push): conflict
//	5  a receipt alone, with Acked: written, head unchanged
//
// (kinds 1, 3 and 4 fail; the new key of a failed batch is taken again by
// the next one, which expects it absent.)
// Each batch is built from the results the writer got before, so a run
// whose results differ from another's shows it at the first difference.
// Counters are never reused except by kind 4.
func groupScript(ctx context.Context, db *DB, w, steps int) []groupStep {
	pairing, replica := fmt.Sprintf("p%02d", w), fmt.Sprintf("dev-%02d", w)
	key := func(i int) storage.Key {
		return storage.Key{Collection: "visits", ID: fmt.Sprintf("%s-%03d", pairing, i)}
	}
	receipt := func(counter uint64) storage.Receipt {
		return storage.Receipt{Replica: replica, Counter: counter, Answer: []byte(fmt.Sprintf("%s:%d", replica, counter))}
	}
	var (
		head, firstSeq uint64 // as the writer's last written batches reported
		counter        uint64
		fresh          int
		out            []groupStep
	)
	put := func(expect uint64, k storage.Key) storage.Put {
		return storage.Put{Key: k, Expect: expect, Data: []byte(fmt.Sprintf("%s@%d", k.ID, counter))}
	}
	for n := range steps {
		kind := n % 6
		counter++
		h := head
		b := storage.Batch{Pairing: pairing, ExpectHead: &h}
		switch kind {
		case 0:
			b.Puts = []storage.Put{put(0, key(fresh)), put(0, key(fresh+1))}
			b.Receipts = []storage.Receipt{receipt(counter)}
			counter++
			b.Receipts = append(b.Receipts, receipt(counter))
			fresh += 2
		case 1:
			h += 7
			b.Puts = []storage.Put{put(0, key(fresh))}
			b.Receipts = []storage.Receipt{receipt(counter)}
		case 2:
			b.Puts = []storage.Put{put(firstSeq, key(0)), put(0, key(fresh))}
			b.Receipts = []storage.Receipt{receipt(counter)}
			fresh++
		case 3:
			b.Puts = []storage.Put{put(firstSeq+100, key(0))}
			b.Receipts = []storage.Receipt{receipt(counter)}
		case 4:
			b.Puts = []storage.Put{put(0, key(fresh))}
			b.Receipts = []storage.Receipt{receipt(1)}
		case 5:
			r := receipt(counter)
			r.Acked = counter
			b.Receipts = []storage.Receipt{r}
		}
		c, err := db.Commit(ctx, b)
		out = append(out, groupStep{kind: kind, c: c, err: err})
		if err != nil {
			// A batch that failed wrote nothing: its new key is the next
			// batch's, which expects it absent.
			continue
		}
		head = c.Head
		switch kind {
		case 0:
			if n == 0 {
				firstSeq = c.Seqs[0]
			}
		case 2:
			firstSeq = c.Seqs[0]
		}
	}
	return out
}

// TestGroupCommitMatchesAlone has 24 writers commit groupScript at once,
// fsync on, so that their batches share transactions, conflicting ones
// among written ones; then runs the same scripts one after the other, one
// transaction per commit, on a second database. Every commit's result
// (seqs, head, error) and the stored outcome (each pairing's feed, head and
// receipts, and the heads feed's last stamp: one per advancing commit,
// gap-free) are the same both ways; the concurrent run used fewer
// transactions than commits, and at least one of them held a batch that
// failed its checks next to batches that were written.
func TestGroupCommitMatchesAlone(t *testing.T) {
	const writers, steps = 24, 24
	ctx := context.Background()
	grouped, err := Open(ctx, Config{Path: filepath.Join(t.TempDir(), "grouped.db")})
	if err != nil {
		t.Fatalf("open: got error %v, want none", err)
	}
	defer grouped.Close()
	var (
		mu    sync.Mutex
		mixed int // transactions that wrote some batches and failed others
	)
	grouped.group.observe = func(written, failed int) {
		mu.Lock()
		defer mu.Unlock()
		if written > 0 && failed > 0 {
			mixed++
		}
	}
	got := make([][]groupStep, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[w] = groupScript(ctx, grouped, w, steps)
		}()
	}
	wg.Wait()
	txs := grouped.group.txs.Load()

	alone := openTemp(t)
	want := make([][]groupStep, writers)
	for w := range writers {
		before := alone.group.txs.Load()
		want[w] = groupScript(ctx, alone, w, steps)
		if n := alone.group.txs.Load() - before; n != steps {
			t.Fatalf("writer %d alone: got %d transactions, want %d (one per commit)", w, n, steps)
		}
	}

	for w := range writers {
		for n := range steps {
			g, a := got[w][n], want[w][n]
			if a.kind == 1 || a.kind == 3 || a.kind == 4 {
				if !errors.Is(a.err, storage.ErrConflict) {
					t.Fatalf("writer %d step %d alone: got error %v, want ErrConflict (the script is wrong)", w, n, a.err)
				}
			} else if a.err != nil {
				t.Fatalf("writer %d step %d alone: got error %v, want none (the script is wrong)", w, n, a.err)
			}
			if errors.Is(g.err, storage.ErrConflict) != errors.Is(a.err, storage.ErrConflict) || (g.err == nil) != (a.err == nil) {
				t.Errorf("writer %d step %d (kind %d): got error %v, alone %v", w, n, g.kind, g.err, a.err)
			}
			if fmt.Sprint(g.c) != fmt.Sprint(a.c) {
				t.Errorf("writer %d step %d (kind %d): got %+v, alone %+v", w, n, g.kind, g.c, a.c)
			}
		}
	}

	// The stored outcome is the same: feeds, heads, receipts (written
	// ones present, those of failed batches absent), heads feed.
	for w := range writers {
		pairing, replica := fmt.Sprintf("p%02d", w), fmt.Sprintf("dev-%02d", w)
		gp, err1 := grouped.Changes(ctx, pairing, 0, storage.PageLimit{})
		ap, err2 := alone.Changes(ctx, pairing, 0, storage.PageLimit{})
		if err1 != nil || err2 != nil {
			t.Fatalf("changes %s: got errors %v, %v, want none", pairing, err1, err2)
		}
		if gp.More || ap.More {
			t.Fatalf("changes %s: more than one page", pairing)
		}
		feed := func(p storage.Page) string {
			var s strings.Builder
			for _, r := range p.Records {
				fmt.Fprintf(&s, "%d:%s:%s:%s ", r.Seq, r.ID, r.Pairing, r.Data)
			}
			return s.String()
		}
		if g, a := feed(gp), feed(ap); g != a {
			t.Errorf("feed %s: got %s, alone %s", pairing, g, a)
		}
		for counter := uint64(1); counter <= steps*2; counter++ {
			g, gerr := grouped.Receipt(ctx, replica, counter)
			a, aerr := alone.Receipt(ctx, replica, counter)
			if string(g) != string(a) || errors.Is(gerr, storage.ErrNotFound) != errors.Is(aerr, storage.ErrNotFound) {
				t.Errorf("receipt %s/%d: got %q (%v), alone %q (%v)", replica, counter, g, gerr, a, aerr)
			}
		}
	}
	gh, err1 := grouped.HeadsSince(ctx, 0, 0)
	ah, err2 := alone.HeadsSince(ctx, 0, 0)
	if err1 != nil || err2 != nil {
		t.Fatalf("heads since: got errors %v, %v, want none", err1, err2)
	}
	heads := func(p storage.HeadsPage) map[string]uint64 {
		m := map[string]uint64{}
		for _, h := range p.Heads {
			m[h.Pairing] = h.Seq
		}
		return m
	}
	if g, a := fmt.Sprint(heads(gh)), fmt.Sprint(heads(ah)); g != a || len(gh.Heads) != writers {
		t.Errorf("heads feed: got %s, alone %s, want %d pairings", g, a, writers)
	}
	advancing := uint64(0) // commits that wrote puts: one stamp each
	for _, steps := range want {
		for _, s := range steps {
			if s.err == nil && len(s.c.Seqs) > 0 {
				advancing++
			}
		}
	}
	if gh.Last != advancing || ah.Last != advancing {
		t.Errorf("heads feed last stamp: got %d, alone %d, want %d (one per advancing commit)", gh.Last, ah.Last, advancing)
	}

	commits := uint64(writers * steps)
	t.Logf("grouped: %d write transactions for %d commits, %d held written and failed batches together", txs, commits, mixed)
	if txs >= commits {
		t.Errorf("write transactions: got %d for %d concurrent commits, want fewer (group commit)", txs, commits)
	}
	if mixed == 0 {
		t.Errorf("transactions holding written and failed batches together: got none, want some")
	}
}
