package storagetest

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pairsync/pairsync/storage"
)

func (s suite) concurrent(t *testing.T) {
	t.Run("Committers", s.concurrentCommitters)
	t.Run("CreateSameUser", s.concurrentCreateUser)
	t.Run("UpdateSameUser", s.concurrentUpdateUser)
}

// Sizes of the concurrent committers case.
const (
	committers     = 16
	batchesEach    = 50
	freshPerBatch  = 2
	maxCASAttempts = 10_000
)

// committed is what one writer learned from one successful commit.
type committed struct {
	seqs    []uint64
	fresh   []storage.Key
	counter int // value written to the shared counter, 0 if none
}

// concurrentCommitters runs writers that commit batches to one pairing at the
// same time, half of their batches also incrementing one shared counter
// record by read-modify-write with compare-and-set and retry, while a reader
// follows the feed. It checks that sequences are gap-free and follow commit
// order, that no increment is lost, and that the reader never sees a seq go
// backwards nor misses a record (a seq handed out behind its cursor).
func (s suite) concurrentCommitters(t *testing.T) {
	s.needConcurrency(t)
	st := s.open(t)
	ctx := t.Context()
	counterKey := storage.Key{Collection: "counters", ID: "c"}
	mustCommit(t, st, storage.Batch{Pairing: "p1", Puts: []storage.Put{{Key: counterKey, Data: []byte("0")}}})

	var (
		acked     atomic.Uint64 // highest head any acknowledged commit reported
		errs      = make(chan error, committers+1)
		results   = make([][]committed, committers)
		conflicts atomic.Int64
		writers   sync.WaitGroup
		done      = make(chan struct{})
		seen      map[storage.Key]uint64 // fresh record → seq, as the reader saw it
		readerEnd = make(chan struct{})
	)
	acked.Store(1)

	go func() {
		defer close(readerEnd)
		seen = make(map[storage.Key]uint64)
		var cursor uint64
		for {
			finished := false
			select {
			case <-done:
				finished = true
			default:
			}
			p, err := st.Changes(ctx, "p1", cursor, storage.PageLimit{Records: 7})
			if err != nil {
				errs <- fmt.Errorf("reader: changes after %d: %w", cursor, err)
				return
			}
			prev := cursor
			for _, r := range p.Records {
				if r.Seq <= prev {
					errs <- fmt.Errorf("reader: got seq %d after %d, want ascending seqs after cursor %d", r.Seq, prev, cursor)
					return
				}
				prev = r.Seq
				if r.Key == counterKey {
					continue
				}
				if at, dup := seen[r.Key]; dup {
					errs <- fmt.Errorf("reader: got %s/%s at seq %d and again at %d, want once (it is never updated)", r.Collection, r.ID, at, r.Seq)
					return
				}
				seen[r.Key] = r.Seq
			}
			if p.Next != prev {
				errs <- fmt.Errorf("reader: got Next %d, want %d", p.Next, prev)
				return
			}
			cursor = p.Next
			if !p.More {
				if finished {
					return
				}
				time.Sleep(200 * time.Microsecond)
			}
		}
	}()

	for w := range committers {
		writers.Add(1)
		go func() {
			defer writers.Done()
			replica := fmt.Sprintf("w%02d", w)
			for b := range batchesEach {
				fresh := make([]storage.Key, freshPerBatch)
				for i := range fresh {
					fresh[i] = storage.Key{Collection: "visits", ID: fmt.Sprintf("%s-b%02d-%d", replica, b, i)}
				}
				increment := b%2 == 0
				for attempt := 1; ; attempt++ {
					if attempt > maxCASAttempts {
						errs <- fmt.Errorf("%s batch %d: still conflicting after %d attempts", replica, b, maxCASAttempts)
						return
					}
					batch := storage.Batch{Pairing: "p1", Receipts: []storage.Receipt{
						{Replica: replica, Counter: uint64(b + 1), Answer: []byte("applied")},
					}}
					for _, k := range fresh {
						batch.Puts = append(batch.Puts, storage.Put{Key: k, Data: []byte(k.ID)})
					}
					value := 0
					if increment {
						r, err := st.Get(ctx, counterKey)
						if err != nil {
							errs <- fmt.Errorf("%s batch %d: get counter: %w", replica, b, err)
							return
						}
						n, err := strconv.Atoi(string(r.Data))
						if err != nil {
							errs <- fmt.Errorf("%s batch %d: counter holds %q: %w", replica, b, r.Data, err)
							return
						}
						value = n + 1
						batch.Puts = append(batch.Puts, storage.Put{Key: counterKey, Expect: r.Seq, Data: []byte(strconv.Itoa(value))})
					}
					before := acked.Load()
					c, err := st.Commit(ctx, batch)
					if errors.Is(err, storage.ErrConflict) && increment {
						conflicts.Add(1)
						continue // re-read and retry
					}
					if err != nil {
						errs <- fmt.Errorf("%s batch %d: commit: %w", replica, b, err)
						return
					}
					if err := checkCommitted(c, len(batch.Puts), before); err != nil {
						errs <- fmt.Errorf("%s batch %d: %w", replica, b, err)
						return
					}
					for h := acked.Load(); h < c.Head && !acked.CompareAndSwap(h, c.Head); h = acked.Load() {
					}
					results[w] = append(results[w], committed{seqs: c.Seqs, fresh: fresh, counter: value})
					break
				}
			}
		}()
	}
	writers.Wait()
	close(done)
	<-readerEnd
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("%d writers × %d batches: %d compare-and-set conflicts retried", committers, batchesEach, conflicts.Load())

	// The reader saw every fresh record at the seq its writer was given.
	n := 0
	for w := range results {
		for _, c := range results[w] {
			for i, k := range c.fresh {
				n++
				got, ok := seen[k]
				if !ok {
					t.Fatalf("reader: got no %s, want it at seq %d: that seq appeared behind the reader's cursor", k.ID, c.seqs[i])
				}
				if got != c.seqs[i] {
					t.Fatalf("reader: got %s at seq %d, want seq %d (the one its commit returned)", k.ID, got, c.seqs[i])
				}
			}
		}
	}
	equal(t, "records seen by the reader", len(seen), n)

	// Gap-free: every seq from 1 to head was given to exactly one put.
	head := mustHead(t, st, "p1")
	all := []uint64{1}
	var increments []int
	var counterSeq uint64
	for w := range results {
		for _, c := range results[w] {
			all = append(all, c.seqs...)
			if c.counter != 0 {
				increments = append(increments, c.counter)
				counterSeq = max(counterSeq, c.seqs[len(c.seqs)-1])
			}
		}
	}
	slices.Sort(all)
	for i, seq := range all {
		if seq != uint64(i+1) {
			t.Fatalf("seqs handed out: got %d at position %d, want %d (gap-free from 1)", seq, i, i+1)
		}
	}
	equal(t, "head", head, uint64(len(all)))

	// No lost update: each increment wrote a distinct value, the last one
	// equals the number of increments.
	wantIncrements := committers * ((batchesEach + 1) / 2)
	equal(t, "successful increments", len(increments), wantIncrements)
	slices.Sort(increments)
	for i, v := range increments {
		if v != i+1 {
			t.Fatalf("values written by increments: got %d at position %d, want %d (each once)", v, i, i+1)
		}
	}
	counter := mustGet(t, st, counterKey)
	equal(t, "counter value", string(counter.Data), strconv.Itoa(wantIncrements))
	equal(t, "counter seq", counter.Seq, counterSeq)
	equal(t, "records in the feed", len(allChanges(t, st, "p1")), n+1)
	for w := range committers {
		for b := range batchesEach {
			if _, err := st.Receipt(ctx, fmt.Sprintf("w%02d", w), uint64(b+1)); err != nil {
				t.Fatalf("receipt w%02d/%d: got error %v, want none", w, b+1, err)
			}
		}
	}
}

// checkCommitted checks one acknowledgement: one seq per put, consecutive,
// ending at Head, after every commit acknowledged before it started.
func checkCommitted(c storage.Committed, puts int, ackedBefore uint64) error {
	if len(c.Seqs) != puts {
		return fmt.Errorf("got %d seqs, want %d", len(c.Seqs), puts)
	}
	for i, seq := range c.Seqs {
		if want := c.Head - uint64(puts-1-i); seq != want {
			return fmt.Errorf("got seqs %v with head %d, want consecutive seqs ending at the head", c.Seqs, c.Head)
		}
	}
	if c.Seqs[0] <= ackedBefore {
		return fmt.Errorf("got first seq %d, want above %d, the head of a commit acknowledged before this one began", c.Seqs[0], ackedBefore)
	}
	return nil
}

func (s suite) concurrentCreateUser(t *testing.T) {
	s.needConcurrency(t)
	const n = 8
	for _, tc := range []struct {
		name string
		user func(i int) storage.User
		want int // users created
	}{
		{"same username", func(i int) storage.User {
			return storage.User{ID: fmt.Sprint("u", i), Username: "same", Phone: fmt.Sprint("1390000000", i)}
		}, 1},
		// Phones are not unique: every one is created.
		{"same phone", func(i int) storage.User {
			return storage.User{ID: fmt.Sprint("u", i), Username: fmt.Sprint("user", i), Phone: "13900000000"}
		}, n},
		{"same id", func(i int) storage.User {
			return storage.User{ID: "u", Username: fmt.Sprint("user", i)}
		}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := s.open(t)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() { _, errs[i] = st.CreateUser(t.Context(), tc.user(i)) })
			}
			wg.Wait()
			created := 0
			for i, err := range errs {
				switch {
				case err == nil:
					created++
				case !errors.Is(err, storage.ErrExists):
					t.Fatalf("create %d: got error %v, want none or ErrExists", i, err)
				}
			}
			equal(t, "users created", created, tc.want)
			count, err := st.CountUsers(t.Context())
			wantErr(t, "count users", err, nil)
			equal(t, "user count", count, tc.want)
			if tc.name == "same phone" {
				us, err := st.UsersByPhone(t.Context(), "13900000000")
				wantErr(t, "users by phone", err, nil)
				equal(t, "holders of the phone", len(us), n)
			}
		})
	}
}

func (s suite) concurrentUpdateUser(t *testing.T) {
	s.needConcurrency(t)
	st := s.open(t)
	ctx := t.Context()
	if _, err := st.CreateUser(ctx, storage.User{ID: "u1", Username: "counter", Name: "0"}); err != nil {
		t.Fatalf("create user: got error %v, want none", err)
	}
	const workers, each = 8, 10
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				for attempt := 1; ; attempt++ {
					if attempt > maxCASAttempts {
						errs <- errors.New("update user: still conflicting")
						return
					}
					u, err := st.User(ctx, "u1")
					if err != nil {
						errs <- err
						return
					}
					n, _ := strconv.Atoi(u.Name)
					u.Name = strconv.Itoa(n + 1)
					_, err = st.UpdateUser(ctx, u)
					if errors.Is(err, storage.ErrConflict) {
						continue
					}
					if err != nil {
						errs <- err
						return
					}
					break
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("update: got error %v, want none", err)
	}
	u, err := st.User(ctx, "u1")
	wantErr(t, "user", err, nil)
	equal(t, "name (the counter)", u.Name, strconv.Itoa(workers*each))
	equal(t, "rev", u.Rev, uint64(workers*each+1))
}
