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
