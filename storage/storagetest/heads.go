package storagetest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/pairsync/pairsync/storage"
)

// heads runs the storage.HeadFeed cases.
func (s suite) heads(t *testing.T) {
	t.Run("Feed", s.headsFeed)
	t.Run("Paging", s.headsPaging)
	t.Run("ConcurrentFollowers", s.headsConcurrent)
	t.Run("Confirmed", s.headsConfirmed)
	t.Run("Of", s.headsOf)
}

// headsOf: HeadsOf answers each pairing named, in the order given, with
// the head and horizon Head and Horizon give (zeroes for an unknown one, a
// pairing named twice answered twice); no pairings, no heads.
func (s suite) headsOf(t *testing.T) {
	st := s.open(t)
	ctx := t.Context()
	got, err := st.HeadsOf(ctx, nil)
	wantErr(t, "heads of no pairings", err, nil)
	equal(t, "heads of no pairings", len(got), 0)

	mustCommit(t, st, storage.Batch{Pairing: "p1", Puts: []storage.Put{put("a", 0, "1"), put("b", 0, "1")}})
	mustCommit(t, st, storage.Batch{Pairing: "p2", Puts: []storage.Put{put("c", 0, "1")}})
	mustCommit(t, st, storage.Batch{Pairing: "p1", Puts: []storage.Put{put("d", 0, "1")}})
	if err := st.Purge(ctx, "p1", []storage.Record{{Key: key("a"), Seq: 1}}); err != nil {
		t.Fatalf("purge: %v", err)
	}
	names := []string{"p2", "nope", "p1", "p2"}
	for i := range 40 {
		p := fmt.Sprintf("many-%02d", i)
		mustCommit(t, st, storage.Batch{Pairing: p, Puts: []storage.Put{put("m"+p, 0, "1")}})
		names = append(names, p)
	}
	got, err = st.HeadsOf(ctx, names)
	wantErr(t, "heads of", err, nil)
	if len(got) != len(names) {
		t.Fatalf("heads of %d pairings: got %d", len(names), len(got))
	}
	for i, p := range names {
		head, err := st.Head(ctx, p)
		wantErr(t, "head", err, nil)
		horizon, err := st.Horizon(ctx, p)
		wantErr(t, "horizon", err, nil)
		equal(t, fmt.Sprintf("heads of: answer %d", i), got[i], storage.PairingHead{Pairing: p, Seq: head, Horizon: horizon})
	}
	equal(t, "heads of p1", got[2], storage.PairingHead{Pairing: "p1", Seq: 3, Horizon: 1})
	equal(t, "heads of p2", got[0], storage.PairingHead{Pairing: "p2", Seq: 1})
	equal(t, "heads of an unknown pairing", got[1], storage.PairingHead{Pairing: "nope"})
}

// headsConfirmed: a confirmed head is the head every acknowledged commit
// left (0 for an unknown pairing).
func (s suite) headsConfirmed(t *testing.T) {
	st := s.open(t)
	h, err := st.ConfirmedHead(t.Context(), "nope")
	wantErr(t, "confirmed head of an unknown pairing", err, nil)
	equal(t, "confirmed head of an unknown pairing", h, uint64(0))
	c := mustCommit(t, st, storage.Batch{Pairing: "p1", Puts: []storage.Put{put("a", 0, "1"), put("b", 0, "1")}})
	h, err = st.ConfirmedHead(t.Context(), "p1")
	wantErr(t, "confirmed head", err, nil)
	equal(t, "confirmed head after a commit", h, c.Head)
}

func mustHeadsSince(t *testing.T, st storage.Store, after uint64, limit int) storage.HeadsPage {
	t.Helper()
	p, err := st.HeadsSince(t.Context(), after, limit)
	if err != nil {
		t.Fatalf("heads since %d: got error %v, want none", after, err)
	}
	for i, h := range p.Heads {
		if h.Stamp <= after || (i > 0 && h.Stamp <= p.Heads[i-1].Stamp) {
			t.Fatalf("heads since %d: stamps %v not ascending after the cursor", after, p.Heads)
		}
	}
	return p
}

// drainHeads follows the heads feed from after to its end, folding each
// head into known; it returns the new cursor.
func drainHeads(t *testing.T, st storage.Store, after uint64, limit int, known map[string]uint64) uint64 {
	t.Helper()
	for {
		p := mustHeadsSince(t, st, after, limit)
		for _, h := range p.Heads {
			known[h.Pairing] = h.Seq
		}
		after = p.Next
		if !p.More {
			return after
		}
	}
}

// headsFeed: a commit that advances a pairing lists it once, at its head,
// after every earlier commit; receipts-only and refused batches list
// nothing; a cursor at the end reads an empty page that says so.
func (s suite) headsFeed(t *testing.T) {
	st := s.open(t)
	p := mustHeadsSince(t, st, 0, 0)
	equal(t, "empty store: heads", len(p.Heads), 0)
	equal(t, "empty store: Last", p.Last, uint64(0))
	equal(t, "empty store: Next", p.Next, uint64(0))

	mustCommit(t, st, storage.Batch{Pairing: "p1", Puts: []storage.Put{put("a", 0, "1")}})
	mustCommit(t, st, storage.Batch{Pairing: "p2", Puts: []storage.Put{put("b", 0, "1"), put("c", 0, "1")}})
	mustCommit(t, st, storage.Batch{Pairing: "p1", Puts: []storage.Put{put("a", 1, "2")}})
	mustCommit(t, st, storage.Batch{Receipts: []storage.Receipt{{Replica: "r", Counter: 1, Answer: []byte("x")}}})
	if _, err := st.Commit(t.Context(), storage.Batch{Pairing: "p2", Puts: []storage.Put{put("b", 9, "x")}}); err == nil {
		t.Fatal("commit with a stale Expect: got no error, want ErrConflict")
	}
	p = mustHeadsSince(t, st, 0, 0)
	got := fmt.Sprint(p.Heads)
	if len(p.Heads) != 2 || p.Heads[0].Pairing != "p2" || p.Heads[0].Seq != 2 || p.Heads[1].Pairing != "p1" || p.Heads[1].Seq != 2 {
		t.Fatalf("heads since 0: got %s, want p2 at 2 then p1 at 2 (each once, in the order of their last commits)", got)
	}
	equal(t, "Next", p.Next, p.Heads[1].Stamp)
	equal(t, "Last", p.Last, p.Next)
	equal(t, "More", p.More, false)

	end := mustHeadsSince(t, st, p.Next, 0)
	equal(t, "heads after the end", len(end.Heads), 0)
	equal(t, "Next after the end", end.Next, p.Next)

	mustCommit(t, st, storage.Batch{Pairing: "p2", Puts: []storage.Put{put("d", 0, "1")}})
	next := mustHeadsSince(t, st, p.Next, 0)
	if len(next.Heads) != 1 || next.Heads[0].Pairing != "p2" || next.Heads[0].Seq != 3 {
		t.Fatalf("heads after a commit to p2: got %v, want p2 at 3 only", next.Heads)
	}
}

// headsPaging: a limit splits the feed and More says so; following Next
// reads every head once.
func (s suite) headsPaging(t *testing.T) {
	st := s.open(t)
	for i := range 7 {
		mustCommit(t, st, storage.Batch{Pairing: fmt.Sprintf("p%d", i), Puts: []storage.Put{put(fmt.Sprintf("r%d", i), 0, "1")}})
	}
	first := mustHeadsSince(t, st, 0, 3)
	equal(t, "first page: heads", len(first.Heads), 3)
	equal(t, "first page: More", first.More, true)
	known := map[string]uint64{}
	drainHeads(t, st, 0, 3, known)
	equal(t, "pairings read through pages", len(known), 7)
}

// headsConcurrent: writers commit to their own pairings at the same time
// while a follower reads the heads feed by its cursor; every head acknowledged
// before a read began is seen by the end of that read (none is stamped
// behind the follower's cursor), and the follower ends at every head.
func (s suite) headsConcurrent(t *testing.T) {
	s.needConcurrency(t)
	st := s.open(t)
	const writers, commitsEach = 8, 25
	var mu sync.Mutex
	acked := map[string]uint64{}
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pid := fmt.Sprintf("w%d", w)
			for i := range commitsEach {
				c, err := st.Commit(t.Context(), storage.Batch{Pairing: pid, Puts: []storage.Put{put(fmt.Sprintf("%s-%d", pid, i), 0, "x")}})
				if err != nil {
					errs <- fmt.Errorf("commit %s: %w", pid, err)
					return
				}
				mu.Lock()
				acked[pid] = max(acked[pid], c.Head)
				mu.Unlock()
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	known := map[string]uint64{}
	var cursor uint64
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true
		default:
		}
		mu.Lock()
		before := make(map[string]uint64, len(acked))
		for k, v := range acked {
			before[k] = v
		}
		mu.Unlock()
		cursor = drainHeads(t, st, cursor, 5, known)
		for pid, h := range before {
			if known[pid] < h {
				t.Fatalf("follower at cursor %d knows %s at %d, but %d was acknowledged before it read: a head was stamped behind the cursor", cursor, pid, known[pid], h)
			}
		}
	}
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for w := range writers {
		pid := fmt.Sprintf("w%d", w)
		equal(t, "follower's head of "+pid, known[pid], uint64(commitsEach))
	}
}
