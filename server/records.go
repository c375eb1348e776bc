package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"
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

// recordAnswer answers with the stored record collection/id, whole, and
// its seq.
func (s *Server) recordAnswer(c *fiber.Ctx, collection, id string) error {
	r, seq, err := s.getRecord(c.UserContext(), collection, id)
	if err != nil {
		return err
	}
	return c.JSON(viewRecord(r, seq))
}

// adminCreates binds the fields of a request to create a directory record,
// which only administrators create (what names the records, in the
// refusal).
func adminCreates(c *fiber.Ctx, what string) (fieldsRequest, error) {
	var req fieldsRequest
	if err := bind(c, &req); err != nil {
		return req, err
	}
	if principal(c).Role != pairing.Admin {
		return req, errorf(http.StatusForbidden, syncproto.CodeForbidden, "only administrators create %s", what)
	}
	return req, nil
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

// writeOptions shape a write.
type writeOptions struct {
	// create refuses to write over an existing record (409).
	create bool
	// expect, when set, refuses the write unless the stored seq equals it.
	expect *uint64
	// check runs after the domain rules, on the version the write would
	// leave (e.g. the pairing's people exist).
	check func(stored, next syncproto.Record) error
	// server marks the server's own writes (writeRecord): the record is
	// created when absent, and neither the policy nor the domain rules
	// apply.
	server bool
}

// writeAs sets fields of a record through the one committer (commit.go) as
// p would from a device, with the same rules (mayWrite, pairing.Admit), so
// a REST write and a synced write can never disagree. It returns the new
// version and its sequence.
func (s *Server) writeAs(ctx context.Context, p pairing.Principal, collection, id, pid string, values map[string]json.RawMessage, opt writeOptions) (syncproto.Record, uint64, error) {
	if len(values) == 0 && !opt.server {
		return syncproto.Record{}, 0, badRequest("fields", "name at least one field to set")
	}
	k := storage.Key{Collection: collection, ID: id}
	var next syncproto.Record
	var seq uint64 // of next when nothing was committed
	c, _, err := s.commitInPairing(ctx, commitPlan{pid: pid,
		build: func(ctx context.Context, tx *commitTx) error {
			cur, err := tx.load(ctx, k)
			if err != nil {
				return err
			}
			exists := cur.seq != 0
			switch {
			case exists && opt.create:
				return errorf(http.StatusConflict, syncproto.CodeConflict, "%s %s already exists", collection, id)
			case exists && cur.pairing != pid:
				return errWrongPairing
			case opt.expect != nil && *opt.expect != cur.seq:
				return errorf(http.StatusConflict, syncproto.CodeConflict,
					"%s %s changed since you read it (seq %d, now %d): reload and try again", collection, id, *opt.expect, cur.seq)
			case !exists && !opt.create && !opt.server:
				return errorf(http.StatusNotFound, syncproto.CodeNotFound, "not found")
			}
			stored, base := cur.rec, cur.rec // stored: zero while the record does not exist
			if !exists {
				base = syncproto.NewRecord(collection, id, pid)
			}
			s.writer.mu.Lock()
			n, wr, err := s.writer.w.Set(base, values, s.now())
			s.writer.mu.Unlock()
			if err != nil {
				if opt.server {
					return err
				}
				return badRequest("fields", "%v", err)
			}
			if !opt.server {
				if pid != pairing.DirectoryScope && p.Role != pairing.RoleSystem { // the server's own events (SLA job) are its own
					// The rule a push meets (Policy, through mayWrite): the role
					// writes the collection in a pairing it sees, and an ended
					// pairing is read-only in the field (issue 18 L1).
					if e := s.mayWrite(p, n, time.Time{}); e != nil {
						return &Error{Status: statusOf(e.Code), Wire: *e}
					}
				}
				stamped, _, e, err := tx.admit(ctx, p, stored, syncproto.OpSet, values, n, false)
				if err != nil {
					return err
				}
				if e != nil {
					return &Error{Status: statusOf(e.Code), Wire: *e}
				}
				if opt.check != nil {
					if err := opt.check(stored, n); err != nil {
						return err
					}
				}
				n = stamped
			}
			next, seq = n, cur.seq
			if wr.IsZero() && exists {
				// Every value was already there (syncproto Writer.Set): the
				// rules passed, nothing to commit.
				return nil
			}
			tx.put(k, n)
			return nil
		},
		lost: func() error {
			if opt.expect != nil {
				return errorf(http.StatusConflict, syncproto.CodeConflict, "%s %s changed while you wrote it: reload and try again", collection, id)
			}
			return nil
		},
	})
	if err != nil {
		return syncproto.Record{}, 0, err
	}
	if len(c.Seqs) > 0 {
		seq = c.Seqs[0]
	}
	return next, seq, nil
}

// newID returns a fresh record id (UUIDv7: time-ordered, as phones make).
func newID() string {
	return uuid.Must(uuid.NewV7()).String()
}
