package mobile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/pairsync/pairsync/syncproto"
)

// Set sets fields of a record (creating it in pairing if it does not exist
// yet): each value is JSON, null clears a field. It works offline: the
// write goes to the outbox, stamped with the device's next dot, in the same
// transaction as the Writer's state. A record never changes pairing; for an
// existing record, pairing may be "".
func (e *Engine) Set(collection, id, pairing string, fields map[string]json.RawMessage) error {
	return e.write(syncproto.OpSet, collection, id, pairing, fields)
}

// Delete deletes a record. An edit made elsewhere without seeing the delete
// brings the record back, flagged (see Conflicts).
func (e *Engine) Delete(collection, id string) error {
	return e.write(syncproto.OpDelete, collection, id, "", nil)
}

// Keep keeps a record: it undeletes it, or settles an edit/delete conflict
// in favour of the record.
func (e *Engine) Keep(collection, id string) error {
	return e.write(syncproto.OpKeep, collection, id, "", nil)
}

func (e *Engine) write(op syncproto.Op, coll, id, pairing string, fields map[string]json.RawMessage) error {
	var fresh *recentWrite
	err := e.db.Update(func(tx *bolt.Tx) error {
		fresh = nil
		ws, ok, err := loadWriter(tx)
		if err != nil {
			return err
		}
		if !ok {
			return ErrNotSignedIn
		}
		view, isBase, err := viewWith(tx, coll, id)
		if err != nil {
			return err
		}
		exists := !view.IsZero()
		w := syncproto.Writer{Replica: ws.Replica, Counter: ws.Counter, Clock: ws.Clock}
		var (
			wr  syncproto.Write
			out syncproto.Record // view with wr applied
		)
		now := e.now()
		switch op {
		case syncproto.OpSet:
			if !exists {
				view = syncproto.NewRecord(coll, id, pairing)
			} else if pairing != "" && view.Pairing != pairing {
				return fmt.Errorf("record %s/%s belongs to pairing %s, not %s", coll, id, view.Pairing, pairing)
			}
			out, wr, err = w.Set(view, fields, now)
		case syncproto.OpDelete:
			if !exists {
				return ErrNotFound
			}
			out, wr, err = w.Delete(view, now)
		case syncproto.OpKeep:
			if !exists {
				return ErrNotFound
			}
			out, wr, err = w.Keep(view, now)
		}
		if err != nil {
			return err
		}
		if wr.IsZero() {
			return nil // every value was already there: nothing to write
		}
		// The dot and the outbox entry are committed together: a dot is
		// never handed out twice, and an acknowledged write is never lost.
		if err := saveJSON(tx, keyWriter, writerState{Replica: w.Replica, Counter: w.Counter, Clock: w.Clock}); err != nil {
			return err
		}
		enc, err := addWrite(tx, wr)
		if err != nil {
			return err
		}
		if isBase {
			// The change a push carries for wr is Rebuild(base, [wr])'s:
			// out, while the base stays as it is (recent.go).
			fresh = &recentWrite{enc: enc, base: bytes.Clone(tx.Bucket(bucketBase).Get(recKey(coll, id))),
				w: wr, ch: syncproto.Change{Dot: wr.Dot, HLC: wr.HLC, Record: out}}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("mobile: %s %s/%s: %w", op, coll, id, dbErr(err))
	}
	if fresh != nil {
		e.recent.add(fresh) // committed: in the outbox
	}
	return nil
}

// Get returns a record as the user sees it: the base with the pending
// writes replayed (syncproto.Rebuild). A deleted record is returned too
// (Record.Deleted says so); false means the record is unknown here.
func (e *Engine) Get(collection, id string) (syncproto.Record, bool) {
	var r syncproto.Record
	err := e.db.View(func(tx *bolt.Tx) error {
		var err error
		r, err = viewOf(tx, collection, id)
		return err
	})
	if err != nil || r.IsZero() {
		return syncproto.Record{}, false
	}
	return r, true
}

// List returns the live (not deleted) records of a collection in a
// pairing, as the user sees them, ordered by id.
func (e *Engine) List(pairing, collection string) ([]syncproto.Record, error) {
	var out []syncproto.Record
	err := e.db.View(func(tx *bolt.Tx) error {
		for _, k := range indexed(tx, pairing, collection) {
			r, err := viewOf(tx, k[0], k[1])
			if err != nil {
				return err
			}
			if !r.IsZero() && r.Pairing == pairing && !r.Deleted() {
				out = append(out, r)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("mobile: list %s/%s: %w", pairing, collection, dbErr(err))
	}
	return out, nil
}

// Pending returns how many local writes wait for the server's answer.
func (e *Engine) Pending() int {
	n := 0
	_ = e.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketOutbox).Stats().KeyN
		return nil
	})
	return n
}

// RejectedWrite is a local write the server refused, with its reason. It
// stays here (and out of the view) until dismissed; the user may write
// again.
type RejectedWrite struct {
	Collection string
	ID         string
	Pairing    string
	Dot        string // "replica:counter"
	Op         string // set, delete or keep
	Code       string // the server's code, e.g. forbidden, out_of_scope, validation_failed
	Message    string // the server's message, for people
	Field      string // the offending field, when the server named one
	At         time.Time
	// Write is the refused write itself.
	Write syncproto.Write
}

// Rejected lists the rejected writes, oldest first.
func (e *Engine) Rejected() []RejectedWrite {
	var out []RejectedWrite
	_ = e.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRejected).ForEach(func(_, v []byte) error {
			var re rejectedEntry
			if json.Unmarshal(v, &re) != nil {
				return nil
			}
			rw := RejectedWrite{Collection: re.Write.Collection, ID: re.Write.ID, Pairing: re.Write.Pairing,
				Dot: re.Write.Dot.String(), Op: string(re.Write.Op), At: re.At, Write: re.Write}
			if re.Error != nil {
				rw.Code, rw.Message, rw.Field = string(re.Error.Code), re.Error.Message, re.Error.Field
			}
			out = append(out, rw)
			return nil
		})
	})
	return out
}

// Dismiss forgets a rejected write (dot as RejectedWrite.Dot).
func (e *Engine) Dismiss(dot string) error {
	d, err := syncproto.ParseDot(dot)
	if err != nil {
		return fmt.Errorf("mobile: dismiss: %w", err)
	}
	err = e.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRejected).Delete(u64(d.Counter))
	})
	return dbErr(err)
}

// ConflictInfo is a record that needs a person's review: fields with
// concurrent values (the losers kept as conflict entries), or an edit made
// without seeing a delete.
type ConflictInfo struct {
	Collection string
	ID         string
	Pairing    string
	// Fields lists the fields holding conflict entries, sorted.
	Fields []string
	// EditDelete: someone deleted the record while someone else edited it;
	// it stays, flagged, until a Keep or a Delete settles it.
	EditDelete bool
}

// Conflicts lists the records with conflicts, by pairing, collection, id.
// It reads every record.
func (e *Engine) Conflicts() []ConflictInfo {
	var out []ConflictInfo
	_ = e.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketIndex).ForEach(func(k, _ []byte) error {
			parts := splitKey(k)
			if len(parts) != 3 {
				return nil
			}
			r, err := viewOf(tx, parts[1], parts[2])
			if err != nil || r.IsZero() || r.Pairing != parts[0] {
				return nil
			}
			ci := ConflictInfo{Collection: r.Collection, ID: r.ID, Pairing: r.Pairing, EditDelete: r.EditDeleteConflict()}
			for _, c := range r.Conflicts {
				if !slices.Contains(ci.Fields, c.Field) {
					ci.Fields = append(ci.Fields, c.Field)
				}
			}
			slices.Sort(ci.Fields)
			if len(ci.Fields) > 0 || ci.EditDelete {
				out = append(out, ci)
			}
			return nil
		})
	})
	return out
}

func splitKey(k []byte) []string {
	var out []string
	start := 0
	for i, c := range k {
		if c == 0 {
			out = append(out, string(k[start:i]))
			start = i + 1
		}
	}
	return append(out, string(k[start:]))
}
