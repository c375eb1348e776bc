package bolt

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/pairsync/pairsync/storage"
	bbolt "go.etcd.io/bbolt"
)

var _ storage.Audit = (*DB)(nil)

// DefaultAuditPage is the page size of AuditLog when AuditQuery.Limit is 0.
const DefaultAuditPage = 100

// auditDoc is a storage.AuditEvent as stored (JSON) in the audit bucket,
// keyed by u64 Seq (the Seq itself is the key, not in the value).
type auditDoc struct {
	Time     time.Time `json:"time"`
	Actor    string    `json:"actor,omitempty"`
	Device   string    `json:"device,omitempty"`
	IP       string    `json:"ip,omitempty"`
	Action   string    `json:"action"`
	Object   string    `json:"object,omitempty"`
	Result   string    `json:"result,omitempty"`
	Detail   string    `json:"detail,omitempty"`
	OrgPath  string    `json:"org_path,omitempty"`
	Username string    `json:"username,omitempty"`
}

func toAuditDoc(e storage.AuditEvent) auditDoc {
	return auditDoc{
		Time: millis(e.Time), Actor: e.Actor, Device: e.Device, IP: e.IP, Action: e.Action,
		Object: e.Object, Result: e.Result, Detail: e.Detail, OrgPath: e.OrgPath, Username: e.Username,
	}
}

func (d auditDoc) event(seq uint64) storage.AuditEvent {
	return storage.AuditEvent{
		Seq: seq, Time: d.Time, Actor: d.Actor, Device: d.Device, IP: d.IP, Action: d.Action,
		Object: d.Object, Result: d.Result, Detail: d.Detail, OrgPath: d.OrgPath, Username: d.Username,
	}
}

// AppendAudit stores the events in one fsync'd transaction, in order, each
// taking the log's next Seq (events' own Seq is ignored; the caller's slice
// is not changed). A zero Time becomes now. storage.ErrInvalid, with
// nothing stored, when an event has an empty Action. Appending no events
// writes nothing.
func (db *DB) AppendAudit(ctx context.Context, events ...storage.AuditEvent) error {
	docs := make([]auditDoc, len(events))
	stamp := now()
	for i, e := range events {
		if e.Action == "" {
			return fmt.Errorf("bolt: append audit: event %d has an empty action: %w", i, storage.ErrInvalid)
		}
		if e.Time.IsZero() {
			e.Time = stamp
		}
		docs[i] = toAuditDoc(e)
	}
	if len(docs) == 0 {
		if err := db.begin(ctx); err != nil {
			return fmt.Errorf("bolt: append audit: %w", err)
		}
		return nil
	}
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		log := tx.Bucket(bucketAudit)
		for _, d := range docs {
			seq, err := log.NextSequence()
			if err != nil {
				return err
			}
			raw, err := json.Marshal(d)
			if err != nil {
				return err
			}
			if err := log.Put(u64(seq), raw); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("bolt: append audit: %w", err)
	}
	return nil
}

// matches reports whether an event passes q's filters: OrgPath a prefix,
// Actor and Action exact, Since ≤ Time < Until (each when set).
func (d auditDoc) matches(q storage.AuditQuery) bool {
	return strings.HasPrefix(d.OrgPath, q.OrgPath) &&
		(q.Actor == "" || d.Actor == q.Actor) &&
		(q.Action == "" || d.Action == q.Action) &&
		(q.Since.IsZero() || !d.Time.Before(q.Since)) &&
		(q.Until.IsZero() || d.Time.Before(q.Until))
}

// AuditLog returns up to q.Limit (default 100) events matching q, newest
// (highest Seq) first, below q.Before when it is set, and whether more
// matching events follow; pass the last Seq returned as the next Before.
// Filters: OrgPath is a string prefix, Actor and Action exact, Since
// inclusive, Until exclusive. It walks the log backwards from Before and
// stops at the match after the page (or at the start of the log), so a
// selective filter reads far back.
func (db *DB) AuditLog(ctx context.Context, q storage.AuditQuery) ([]storage.AuditEvent, bool, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultAuditPage
	}
	var (
		out  []storage.AuditEvent
		more bool
	)
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketAudit).Cursor()
		var k, v []byte
		if q.Before == 0 {
			k, v = c.Last()
		} else if k, _ = c.Seek(u64(q.Before)); k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		for ; k != nil; k, v = c.Prev() {
			var d auditDoc
			if err := json.Unmarshal(v, &d); err != nil {
				return fmt.Errorf("decode seq %x: %w", k, err)
			}
			if !d.matches(q) {
				continue
			}
			if len(out) == limit {
				more = true
				return nil
			}
			out = append(out, d.event(binary.BigEndian.Uint64(k)))
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("bolt: audit log: %w", err)
	}
	return out, more, nil
}
