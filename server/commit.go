package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/syncproto"
)

// The one committer of REST writes (writeAs, writeRecord), pushes
// (commitChanges) and photo receipts (writeRecord): within one pairing it
// loads each record once, lets the caller merge and admit its changes
// (commitTx.admit: pairing.Admit and the server's stamp), and commits the
// changed records with a compare-and-set — each put expects the record's
// stored seq, and a push also expects the pairing's head — through
// Server.commit (which adds the notifications). A commit that loses the
// race to another writer starts again from a fresh read after a jittered
// backoff, at most commitAttempts times, then answers errPairingBusy.

// commitPlan is what one caller commits in one pairing.
type commitPlan struct {
	pid string
	// expectHead makes the commit expect the pairing's head, so that the
	// puts take head+1, head+2, … in the order of commitTx.keys (a push's
	// answers name their seq before the commit).
	expectHead bool
	// reads, when set, names the records build will read: they are read
	// in one call (storage.GetMany) before build, on every attempt, and
	// tx.load serves them from it; any other record build reads (a
	// reference the domain rules check) is read on its own.
	reads func() []storage.Key
	// build reads and changes records through the tx (called again on
	// every attempt); an error ends the commit with that error.
	build func(ctx context.Context, tx *commitTx) error
	// receipts, when set, are committed with the puts (a push's answers).
	receipts func(tx *commitTx) []storage.Receipt
	// lost, when set, runs after a lost race, before the backoff: an
	// error ends the commit (a REST write that named the seq it read).
	lost func() error
	// again, when set, runs after the backoff: done ends the commit
	// without another attempt (a push whose changes another commit
	// answered).
	again func(ctx context.Context) (done bool, err error)
}

// commitTx is one attempt of a commit in one pairing: the records it read,
// each once, and those it changed, in the order of their first change.
type commitTx struct {
	s    *Server
	pid  string
	head uint64 // with expectHead
	// state holds each record read; keys the changed ones.
	state map[storage.Key]*current
	keys  []storage.Key
}

// current is a record as a commit sees it: as stored (seq, pairing; zero
// while there is none), then as changed.
type current struct {
	rec     syncproto.Record
	seq     uint64
	pairing string
	dirty   bool
}

// commitInPairing runs a plan to its commit and returns the commit and the
// tx of the attempt that committed (or found nothing to commit).
func (s *Server) commitInPairing(ctx context.Context, plan commitPlan) (storage.Committed, *commitTx, error) {
	defer s.pairingLocks.lock(plan.pid)()
	for attempt := 1; ; attempt++ {
		tx := &commitTx{s: s, pid: plan.pid, state: map[storage.Key]*current{}}
		batch := storage.Batch{Pairing: plan.pid}
		if plan.expectHead {
			head, err := s.store.Head(ctx, plan.pid)
			if err != nil {
				return storage.Committed{}, nil, err
			}
			tx.head, batch.ExpectHead = head, &head
		}
		if plan.reads != nil {
			if err := tx.prefetch(ctx, plan.reads()); err != nil {
				return storage.Committed{}, nil, err
			}
		}
		if err := plan.build(ctx, tx); err != nil {
			return storage.Committed{}, nil, err
		}
		for _, k := range tx.keys {
			cur := tx.state[k]
			data, err := syncproto.Encode(cur.rec)
			if err != nil {
				return storage.Committed{}, nil, fmt.Errorf("encode %s/%s: %w", k.Collection, k.ID, err)
			}
			batch.Puts = append(batch.Puts, storage.Put{Key: k, Expect: cur.seq, Data: data})
		}
		if plan.receipts != nil {
			batch.Receipts = plan.receipts(tx)
		}
		if len(batch.Puts) == 0 && len(batch.Receipts) == 0 {
			return storage.Committed{}, tx, nil
		}
		c, err := s.commit(ctx, batch)
		if err == nil {
			return c, tx, nil
		}
		if !errors.Is(err, storage.ErrConflict) {
			return storage.Committed{}, nil, err
		}
		if plan.lost != nil {
			if err := plan.lost(); err != nil {
				return storage.Committed{}, nil, err
			}
		}
		if attempt == commitAttempts {
			return storage.Committed{}, nil, errPairingBusy(plan.pid, err)
		}
		if err := backoff(ctx, attempt); err != nil {
			return storage.Committed{}, nil, err
		}
		if plan.again != nil {
			if done, err := plan.again(ctx); done || err != nil {
				return storage.Committed{}, nil, err
			}
		}
	}
}

// load returns a record as this commit sees it, reading it the first time
// (unless prefetch read it).
func (tx *commitTx) load(ctx context.Context, k storage.Key) (*current, error) {
	if cur := tx.state[k]; cur != nil {
		return cur, nil
	}
	sr, err := tx.s.store.Get(ctx, k)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		tx.state[k] = &current{}
	case err != nil:
		return nil, err
	default:
		if err := tx.stored(k, sr); err != nil {
			return nil, err
		}
	}
	return tx.state[k], nil
}

// prefetch reads, in one call (storage.GetMany), the records named that
// this commit has not read yet, as load would read each: a push's changes
// in a pairing cost one read, not one per change.
func (tx *commitTx) prefetch(ctx context.Context, keys []storage.Key) error {
	var want []storage.Key
	for _, k := range keys {
		if tx.state[k] == nil {
			want = append(want, k)
		}
	}
	if len(want) == 0 {
		return nil
	}
	got, err := tx.s.store.GetMany(ctx, want)
	if err != nil {
		return err
	}
	for _, k := range want {
		if tx.state[k] != nil {
			continue // named twice
		}
		sr, ok := got[k]
		if !ok {
			tx.state[k] = &current{}
			continue
		}
		if err := tx.stored(k, sr); err != nil {
			return err
		}
	}
	return nil
}

// stored keeps record k as read from the store as this commit's current
// version of it.
func (tx *commitTx) stored(k storage.Key, sr storage.Record) error {
	rec, err := syncproto.DecodeRecord(sr.Data, syncproto.Limits{})
	if err != nil {
		return fmt.Errorf("stored %s/%s: %w", k.Collection, k.ID, err)
	}
	tx.state[k] = &current{rec: rec, seq: sr.Seq, pairing: sr.Pairing}
	return nil
}

// put records the version of k to commit.
func (tx *commitTx) put(k storage.Key, rec syncproto.Record) {
	cur := tx.state[k]
	cur.rec = rec
	if !cur.dirty {
		cur.dirty = true
		tx.keys = append(tx.keys, k)
	}
}

// seqs are the seqs the changed records take with expectHead.
func (tx *commitTx) seqs() map[storage.Key]uint64 {
	out := make(map[storage.Key]uint64, len(tx.keys))
	for n, k := range tx.keys {
		out[k] = tx.head + uint64(n) + 1
	}
	return out
}

// resolver sees the records this commit read and changed.
func (tx *commitTx) resolver() resolver {
	lookup := func(ctx context.Context, k storage.Key) (syncproto.Record, bool, error) {
		cur, err := tx.load(ctx, k)
		if err != nil || cur.rec.IsZero() {
			return syncproto.Record{}, false, err
		}
		return cur.rec, true, nil
	}
	return resolver{s: tx.s, lookup: lookup, batch: func() []syncproto.Record {
		out := make([]syncproto.Record, 0, len(tx.keys))
		for _, k := range tx.keys {
			out = append(out, tx.state[k].rec)
		}
		return out
	}}
}

// admit runs the domain rules (pairing.Admit) on a write by p that takes
// the record from stored to merged, and stamps what they ask as the
// server's own write. It returns the version to commit and the server's
// writes in it, or the refusal.
func (tx *commitTx) admit(ctx context.Context, p pairing.Principal, stored syncproto.Record, op syncproto.Op, values map[string]json.RawMessage, merged syncproto.Record, pushed bool) (syncproto.Record, []syncproto.Write, *syncproto.Error, error) {
	s := tx.s
	pr, _ := s.dir.Pairing(tx.pid)
	if tx.pid == pairing.DirectoryScope && !pushed {
		pr = pairing.Pairing{ID: tx.pid}
	}
	now := s.now()
	w := pairing.Write{Principal: p, Pairing: pr, Stored: stored, Op: op, Values: values, Merged: merged, Now: now, Pushed: pushed}
	v, err := pairing.Admit(ctx, w, pairing.Env{Refs: tx.resolver(), Codes: contactCodes{s}})
	if err != nil || v.Refusal != nil {
		return syncproto.Record{}, nil, v.Refusal, err
	}
	if v.Stamp == nil {
		return merged, []syncproto.Write{}, nil, nil
	}
	s.writer.mu.Lock()
	defer s.writer.mu.Unlock()
	next, sw, err := s.writer.w.Set(merged, v.Stamp, now.UTC())
	if err != nil {
		return syncproto.Record{}, nil, nil, err
	}
	return next, []syncproto.Write{sw}, nil, nil
}
