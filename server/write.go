package server

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

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
// one committer, exactly as a device's change would be committed: phones
// receive it by pull. It is the server's own write (pairings in tests,
// photo receipts and grants): no policy or domain rule applies. It returns
// the new version and its sequence.
func (s *Server) writeRecord(ctx context.Context, collection, id, pid string, values map[string]json.RawMessage) (syncproto.Record, uint64, error) {
	return s.writeAs(ctx, systemPrincipal, collection, id, pid, values, writeOptions{server: true})
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
