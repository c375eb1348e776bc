package readmodel_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/server/readmodel"
	"github.com/pairsync/pairsync/storage"
)

// catchUpHarness: n pairings, each with one visit, and a loaded Ledger
// reading through the counting wrapper.
func catchUpHarness(t *testing.T, n int) (*harness, *readmodel.Ledger) {
	h := newHarness(t)
	h.paths = map[string]string{"b1": "/r/b1/"}
	ps := make([]testPairing, n)
	for i := range ps {
		ps[i] = testPairing{ID: fmt.Sprintf("p%04d", i), Branches: []string{"b1"}, Officers: []string{"o1"}}
	}
	h.addPairings(ps...)
	for i := range ps {
		h.set(ps[i].ID, pairing.CollVisits, fmt.Sprintf("v%04d", i), mar(10, 10), "officers", []string{"o1"}, "mode", "onsite", "visited_at", mar(10, 10))
	}
	l := h.ledger(nil)
	refresh(t, h, l)
	return h, l
}

// TestLedgerCatchUpCost: a refresh with nothing new costs the same few
// storage calls at 10 and at 400 pairings (before the heads feed it read
// every pairing's head: n+1 calls), and one change costs that pairing's
// reads only.
func TestLedgerCatchUpCost(t *testing.T) {
	cost := map[int]int{}
	for _, n := range []int{10, 400} {
		h, l := catchUpHarness(t, n)
		h.counted.reset()
		if err := l.Refresh(h.ctx); err != nil {
			t.Fatal(err)
		}
		cost[n] = h.counted.calls()
		if cost[n] > 2 {
			t.Errorf("%d pairings, nothing new: got %d storage calls, want at most 2 (the heads feed)", n, cost[n])
		}
		h.set("p0003", pairing.CollVisits, "vnew", mar(11, 10), "officers", []string{"o1"}, "mode", "onsite", "visited_at", mar(11, 10))
		h.counted.reset()
		refresh(t, h, l)
		pages, heads := h.counted.reset()
		if want := map[string]int{"p0003": 1}; fmt.Sprint(pages) != fmt.Sprint(want) || heads != 0 {
			t.Errorf("%d pairings, one new visit: got pages %v and %d head reads, want %v and none", n, pages, heads, want)
		}
		if _, ok := visit(t, l, "vnew"); !ok {
			t.Errorf("%d pairings: the new visit is missing after the refresh", n)
		}
	}
	if cost[10] != cost[400] {
		t.Errorf("nothing new: got %d storage calls at 10 pairings and %d at 400, want the same", cost[10], cost[400])
	}
}

// blockingFeed counts refresh passes by their first read (the heads feed,
// or the photo receipts' head a pass without the feed reads first) and
// holds the first pass there until released.
type blockingFeed struct {
	*countingRecords
	mu      sync.Mutex
	passes  int
	entered chan struct{}
	release chan struct{}
}

func (b *blockingFeed) pass() {
	b.mu.Lock()
	b.passes++
	first := b.passes == 1
	b.mu.Unlock()
	if first {
		close(b.entered)
		<-b.release
	}
}

func (b *blockingFeed) HeadsSince(ctx context.Context, after uint64, limit int) (storage.HeadsPage, error) {
	b.pass()
	return b.countingRecords.HeadsSince(ctx, after, limit)
}

func (b *blockingFeed) Head(ctx context.Context, p string) (uint64, error) {
	if p == pairing.PhotoScope {
		b.pass()
	}
	return b.countingRecords.Head(ctx, p)
}

// TestLedgerRefreshShared: callers that arrive while a refresh runs share
// one following pass (they must see what committed before they called, so
// they cannot join the running one): 1 running + 20 waiting = 2 passes, not 21.
func TestLedgerRefreshShared(t *testing.T) {
	h, _ := catchUpHarness(t, 5)
	bf := &blockingFeed{countingRecords: h.counted, entered: make(chan struct{}), release: make(chan struct{}), passes: 1}
	l := readmodel.NewLedger(bf, h.dir, nil)
	if err := l.Load(h.ctx); err != nil {
		t.Fatal(err)
	}
	bf.mu.Lock()
	bf.passes = 0
	bf.mu.Unlock()
	first := make(chan error, 1)
	go func() { first <- l.Refresh(h.ctx) }()
	<-bf.entered // the first pass is reading the heads feed
	h.set("p0001", pairing.CollVisits, "vlate", mar(11, 10), "officers", []string{"o1"}, "mode", "onsite", "visited_at", mar(11, 10))
	h.flush()
	const callers = 20
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- l.Refresh(h.ctx) }()
	}
	for l.Waiting() < callers { // every caller has queued for the next pass
		runtime.Gosched()
	}
	close(bf.release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	bf.mu.Lock()
	passes := bf.passes
	bf.mu.Unlock()
	if passes != 2 {
		t.Errorf("21 concurrent refreshes: got %d passes, want 2 (the running one and one shared by the rest)", passes)
	}
	if _, ok := visit(t, l, "vlate"); !ok {
		t.Errorf("a visit committed before the waiting callers called is missing after their refresh")
	}
}
