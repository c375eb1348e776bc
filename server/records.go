package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/syncproto"
)

// recordView is a synced record as the REST routes show it: its fields by
// name (the schema at GET /v1/schema says what each is), its sequence in its
// pairing (pass it back as "seq" to change it only if nobody else has), and
// the concurrent values kept beside a field's winner, so that nothing
// silently disappears.
type recordView struct {
	ID         string                     `json:"id"`
	Collection string                     `json:"collection"`
	Pairing    string                     `json:"pairing"`
	Seq        uint64                     `json:"seq"`
	Fields     map[string]json.RawMessage `json:"fields"`
	Conflicts  []conflictView             `json:"conflicts,omitempty"`
	Deleted    bool                       `json:"deleted,omitempty"`
}

// conflictView is a concurrent value of a field that lost to the winner.
type conflictView struct {
	Field string          `json:"field"`
	Value json.RawMessage `json:"value"`
	By    string          `json:"by"` // the replica (device) that wrote it
}

func viewRecord(r syncproto.Record, seq uint64) recordView {
	v := recordView{ID: r.ID, Collection: r.Collection, Pairing: r.Pairing, Seq: seq,
		Fields: make(map[string]json.RawMessage, len(r.Fields)), Deleted: r.Deleted()}
	for name, f := range r.Fields {
		v.Fields[name] = f.Value
	}
	for _, c := range r.Conflicts {
		v.Conflicts = append(v.Conflicts, conflictView{Field: c.Field, Value: c.Value, By: string(c.Dot.Replica)})
	}
	return v
}

// getRecord reads and decodes a stored record.
func (s *Server) getRecord(ctx context.Context, collection, id string) (syncproto.Record, uint64, error) {
	sr, err := s.store.Get(ctx, storage.Key{Collection: collection, ID: id})
	if err != nil {
		return syncproto.Record{}, 0, err
	}
	r, err := syncproto.DecodeRecord(sr.Data, syncproto.Limits{})
	if err != nil {
		return syncproto.Record{}, 0, fmt.Errorf("stored %s/%s: %w", collection, id, err)
	}
	return r, sr.Seq, nil
}

// fieldsRequest is the body of the routes that create or change a record:
// the fields to set (see GET /v1/schema), and optionally the seq the caller
// last read, to refuse the change (409) if the record changed since.
type fieldsRequest struct {
	Fields map[string]json.RawMessage `json:"fields"`
	Seq    *uint64                    `json:"seq,omitempty"`
}

// writeOptions shape a checked write.
type writeOptions struct {
	// create refuses to write over an existing record (409).
	create bool
	// expect, when set, refuses the write unless the stored seq equals it.
	expect *uint64
	// check runs after the domain rules, on the version the write would
	// leave (e.g. the pairing's people exist).
	check func(stored, next syncproto.Record) error
}

// writeAs sets fields of a record through the commit path as p would from
// a device, with the same domain rules (pairing.CheckWrite), so a REST write
// and a synced write can never disagree. It returns the new version and
// its sequence.
func (s *Server) writeAs(ctx context.Context, p pairing.Principal, collection, id, pid string, values map[string]json.RawMessage, opt writeOptions) (syncproto.Record, uint64, error) {
	if len(values) == 0 {
		return syncproto.Record{}, 0, badRequest("fields", "name at least one field to set")
	}
	defer s.pairingLocks.lock(pid)()
	k := storage.Key{Collection: collection, ID: id}
	for attempt := 1; ; attempt++ {
		cur := syncproto.NewRecord(collection, id, pid)
		var stored syncproto.Record // zero while the record does not exist
		var expect uint64
		sr, err := s.store.Get(ctx, k)
		switch {
		case errors.Is(err, storage.ErrNotFound):
		case err != nil:
			return syncproto.Record{}, 0, err
		default:
			if opt.create {
				return syncproto.Record{}, 0, errorf(http.StatusConflict, syncproto.CodeConflict, "%s %s already exists", collection, id)
			}
			if sr.Pairing != pid {
				return syncproto.Record{}, 0, errWrongPairing
			}
			if cur, err = syncproto.DecodeRecord(sr.Data, syncproto.Limits{}); err != nil {
				return syncproto.Record{}, 0, fmt.Errorf("stored %s/%s: %w", collection, id, err)
			}
			expect, stored = sr.Seq, cur
		}
		if opt.expect != nil && *opt.expect != expect {
			return syncproto.Record{}, 0, errorf(http.StatusConflict, syncproto.CodeConflict,
				"%s %s changed since you read it (seq %d, now %d): reload and try again", collection, id, *opt.expect, expect)
		}
		if !opt.create && expect == 0 {
			return syncproto.Record{}, 0, errorf(http.StatusNotFound, syncproto.CodeNotFound, "not found")
		}
		s.writer.mu.Lock()
		next, wr, err := s.writer.w.Set(cur, values, s.now())
		s.writer.mu.Unlock()
		if err != nil {
			return syncproto.Record{}, 0, badRequest("fields", "%v", err)
		}
		pr, _ := s.dir.Pairing(pid)
		if pid == pairing.DirectoryScope {
			pr = pairing.Pairing{ID: pid}
		}
		if pid != pairing.DirectoryScope && p.Role != pairing.RoleSystem { // the server's own events (SLA job) are its own
			// The rule a push meets (Policy, through mayWrite): the role
			// writes the collection in a pairing it sees, and an ended
			// pairing is read-only in the field.
			if e := s.mayWrite(p, next, time.Time{}); e != nil {
				return syncproto.Record{}, 0, &Error{Status: statusOf(e.Code), Wire: *e}
			}
		}
		w := pairing.Write{Principal: p, Pairing: pr, Stored: stored, Op: syncproto.OpSet, Values: values, Merged: next, Now: s.now()}
		if e := pairing.CheckWrite(w); e != nil {
			return syncproto.Record{}, 0, &Error{Status: statusOf(e.Code), Wire: *e}
		}
		if err := s.checkRefs(ctx, w, s.resolver()); err != nil {
			return syncproto.Record{}, 0, err
		}
		if opt.check != nil {
			if err := opt.check(stored, next); err != nil {
				return syncproto.Record{}, 0, err
			}
		}
		if next, err = s.stampReceived(stored, next); err != nil {
			return syncproto.Record{}, 0, err
		}
		if wr.IsZero() && expect != 0 {
			// Every value was already there (syncproto Writer.Set): the
			// rules passed, nothing to commit.
			return next, expect, nil
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
		if opt.expect != nil {
			return syncproto.Record{}, 0, errorf(http.StatusConflict, syncproto.CodeConflict, "%s %s changed while you wrote it: reload and try again", collection, id)
		}
		if attempt == commitAttempts {
			return syncproto.Record{}, 0, errPairingBusy(pid, err)
		}
		if err := backoff(ctx, attempt); err != nil {
			return syncproto.Record{}, 0, err
		}
	}
}

// newID returns a fresh record id (UUIDv7: time-ordered, as phones make).
func newID() string {
	return uuid.Must(uuid.NewV7()).String()
}
