package server

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/syncproto"
)

// serverWriter stamps the writes this process makes through administrator
// routes. Each process takes a fresh replica id at start ("srv-" and 12
// random characters), so its counter never needs storing: no two processes,
// and no two lives of one process, share a replica id. Version vectors gain
// an entry only on records a process writes.
type serverWriter struct {
	mu sync.Mutex
	w  syncproto.Writer
}

func newServerWriter() *serverWriter {
	id := "srv-" + strings.ToLower(rand.Text()[:12])
	return &serverWriter{w: syncproto.Writer{Replica: syncproto.ReplicaID(id)}}
}

// errWrongPairing: a server write named a pairing other than the record's.
var errWrongPairing = errors.New("server: the record belongs to another pairing")

// writeRecord sets fields of a record (creating it if needed) through the
// commit path, exactly as a device's change would be committed: phones
// receive it by pull. It returns the new version and its sequence.
func (s *Server) writeRecord(ctx context.Context, collection, id, pid string, values map[string]json.RawMessage) (syncproto.Record, uint64, error) {
	defer s.pairingLocks.lock(pid)()
	k := storage.Key{Collection: collection, ID: id}
	for attempt := 1; ; attempt++ {
		cur := syncproto.NewRecord(collection, id, pid)
		var expect uint64
		sr, err := s.store.Get(ctx, k)
		switch {
		case errors.Is(err, storage.ErrNotFound):
		case err != nil:
			return syncproto.Record{}, 0, err
		default:
			if sr.Pairing != pid {
				return syncproto.Record{}, 0, errWrongPairing
			}
			if cur, err = syncproto.DecodeRecord(sr.Data, syncproto.Limits{}); err != nil {
				return syncproto.Record{}, 0, fmt.Errorf("stored %s/%s: %w", collection, id, err)
			}
			expect = sr.Seq
		}
		s.writer.mu.Lock()
		next, wr, err := s.writer.w.Set(cur, values, s.now())
		s.writer.mu.Unlock()
		if err != nil {
			return syncproto.Record{}, 0, err
		}
		if wr.IsZero() && expect != 0 {
			return next, expect, nil // every value was already there
		}
		data, err := syncproto.Encode(next)
		if err != nil {
			return syncproto.Record{}, 0, err
		}
		c, err := s.commit(ctx, storage.Batch{Pairing: pid, Puts: []storage.Put{{Key: k, Expect: expect, Data: data}}})
		if err == nil {
			return next, c.Seqs[0], nil
		}
		if !errors.Is(err, storage.ErrConflict) {
			return syncproto.Record{}, 0, err
		}
		if attempt == commitAttempts {
			return syncproto.Record{}, 0, errPairingBusy(pid, err)
		}
		if err := backoff(ctx, attempt); err != nil {
			return syncproto.Record{}, 0, err
		}
	}
}

// jsonValues encodes field values for writeRecord.
func jsonValues(fields map[string]any) (map[string]json.RawMessage, error) {
	out := make(map[string]json.RawMessage, len(fields))
	for k, v := range fields {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", k, err)
		}
		out[k] = b
	}
	return out, nil
}
