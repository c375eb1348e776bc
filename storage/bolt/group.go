package bolt

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/pairsync/pairsync/storage"
	bbolt "go.etcd.io/bbolt"
)

// maxGroupCalls bounds how many Commit calls share one transaction.
const maxGroupCalls = 128

// committer groups concurrent Commit calls into one bbolt write transaction
// and one fsync (group commit). There is no timer: a call that finds no
// transaction running starts one at once with every call waiting (the
// leader); calls that arrive while it runs wait and go together in the
// next one. Alone, a call costs what it did before; under load, N pushes
// pay for one fsync.
//
// Within a transaction the batches run one after the other, each on the
// state the previous ones left, so sequences stay gap-free and in commit
// order, and ExpectHead/Expect see the earlier batches of the group. A
// batch that fails its checks writes nothing (checkBatch runs before any
// write), gets its own error, and the others go on in the same transaction.
// A batch that fails after it began writing (a bbolt error, or a panic)
// rolls the transaction back; the others then run again in a new one
// without it, and it runs alone after them, so its error is its own. Every
// call returns only after the transaction holding its batch is committed
// (fsync'd unless Config.NoSync), or with an error and nothing written.
type committer struct {
	mu      sync.Mutex
	cond    *sync.Cond // signalled (with mu) when a transaction ends
	pending []*commitCall
	leading bool          // a transaction is running
	txs     atomic.Uint64 // group transactions begun, for tests
	// observe, when set (tests only), is called after each group
	// transaction that committed, with how many of its batches were
	// written and how many failed their checks.
	observe func(written, failed int)
}

// commitCall is one Commit waiting in the group; c and err are set, under
// committer.mu, when done.
type commitCall struct {
	b    storage.Batch
	c    storage.Committed
	err  error
	done bool
}

// commit runs b, validated, in the next group transaction and returns its
// outcome. It does not watch a context: once queued, a batch is committed.
func (g *committer) commit(db *DB, b storage.Batch) (storage.Committed, error) {
	call := &commitCall{b: b}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cond == nil {
		g.cond = sync.NewCond(&g.mu)
	}
	g.pending = append(g.pending, call)
	for !call.done {
		if g.leading {
			g.cond.Wait()
			continue
		}
		// Lead: take the oldest waiting calls (this one, unless more than
		// maxGroupCalls are ahead of it) into one transaction.
		n := min(len(g.pending), maxGroupCalls)
		calls := g.pending[:n:n]
		g.pending = append([]*commitCall(nil), g.pending[n:]...)
		g.leading = true
		g.mu.Unlock()
		outcomes := db.runGroup(calls)
		g.mu.Lock()
		for i, c := range calls {
			c.c, c.err, c.done = outcomes[i].c, outcomes[i].err, true
		}
		g.leading = false
		g.cond.Broadcast()
	}
	return call.c, call.err
}

type outcome struct {
	c   storage.Committed
	err error
}

// runGroup commits the batches of calls, in order, in as few transactions
// as it can (one, unless a batch fails after writing), and returns each
// one's outcome. It never panics: a panic becomes the outcome of the batch
// that raised it, or of every batch if bbolt raised it.
func (db *DB) runGroup(calls []*commitCall) (outcomes []outcome) {
	outcomes = make([]outcome, len(calls))
	defer func() {
		if r := recover(); r != nil {
			for i := range outcomes {
				outcomes[i] = outcome{err: fmt.Errorf("commit aborted: panic: %v", r)}
			}
		}
	}()
	live := make([]int, len(calls)) // indexes of calls still to commit
	for i := range live {
		live[i] = i
	}
	var alone []int // calls that failed after writing: run each on its own
	for len(live) > 0 {
		dirty := -1 // position in live of a batch that failed after writing
		tentative := make([]outcome, len(live))
		db.group.txs.Add(1)
		err := db.bolt.Update(func(tx *bbolt.Tx) error {
			for j, i := range live {
				c, d, err := commitSafely(tx, calls[i].b)
				if d {
					dirty = j
					return err
				}
				tentative[j] = outcome{c, err}
			}
			return nil
		})
		if dirty >= 0 {
			// Rolled back: nothing of the group was written. Try the
			// others again without it.
			alone = append(alone, live[dirty])
			live = append(live[:dirty:dirty], live[dirty+1:]...)
			continue
		}
		for j, i := range live {
			if err != nil {
				// The transaction did not commit (closed database, failed
				// write or fsync): no batch of it is written.
				outcomes[i] = outcome{err: mapErr(err)}
				continue
			}
			outcomes[i] = tentative[j]
		}
		if err == nil && db.group.observe != nil {
			failed := 0
			for _, o := range tentative {
				if o.err != nil {
					failed++
				}
			}
			db.group.observe(len(live)-failed, failed)
		}
		break
	}
	for _, i := range alone {
		var c storage.Committed
		err := db.bolt.Update(func(tx *bbolt.Tx) error {
			var err error
			c, _, err = commitSafely(tx, calls[i].b)
			return err
		})
		outcomes[i] = outcome{c, mapErr(err)}
	}
	return outcomes
}

// commitSafely is commit with a panic turned into a dirty failure (the
// transaction may hold part of the batch).
func commitSafely(tx *bbolt.Tx, b storage.Batch) (c storage.Committed, dirty bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			c, dirty, err = storage.Committed{}, true, fmt.Errorf("panic: %v", r)
		}
	}()
	return commit(tx, b)
}
