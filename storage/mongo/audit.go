package mongo

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/pairsync/pairsync/storage"
)

var _ storage.Audit = (*DB)(nil)

// DefaultAuditPage is the page size of AuditLog when AuditQuery.Limit is 0.
const DefaultAuditPage = 100

// metaAudit is the _id of the meta document holding the audit log's last
// Seq.
const metaAudit = "audit"

// auditDoc is a storage.AuditEvent in the audit collection, keyed by Seq.
type auditDoc struct {
	Seq      int64     `bson:"_id"`
	Time     time.Time `bson:"time"`
	Actor    string    `bson:"actor,omitempty"`
	Device   string    `bson:"device,omitempty"`
	IP       string    `bson:"ip,omitempty"`
	Action   string    `bson:"action"`
	Object   string    `bson:"object,omitempty"`
	Result   string    `bson:"result,omitempty"`
	Detail   string    `bson:"detail,omitempty"`
	OrgPath  string    `bson:"org_path,omitempty"`
	Username string    `bson:"username,omitempty"`
}

func toAuditDoc(e storage.AuditEvent) auditDoc {
	return auditDoc{
		Time: millis(e.Time), Actor: e.Actor, Device: e.Device, IP: e.IP, Action: e.Action,
		Object: e.Object, Result: e.Result, Detail: e.Detail, OrgPath: e.OrgPath, Username: e.Username,
	}
}

func (a auditDoc) event() storage.AuditEvent {
	return storage.AuditEvent{
		Seq: uint64(a.Seq), Time: utc(a.Time), Actor: a.Actor, Device: a.Device, IP: a.IP, Action: a.Action,
		Object: a.Object, Result: a.Result, Detail: a.Detail, OrgPath: a.OrgPath, Username: a.Username,
	}
}

// AppendAudit stores the events in one transaction, in order, each taking
// the log's next Seq from a counter document in meta (events' own Seq is
// ignored; the caller's slice is not changed). A zero Time becomes now.
// storage.ErrInvalid, with nothing stored, when an event has an empty
// Action. Appending no events writes nothing.
func (db *DB) AppendAudit(ctx context.Context, events ...storage.AuditEvent) error {
	docs := make([]auditDoc, len(events))
	stamp := now()
	for i, e := range events {
		if e.Action == "" {
			return fmt.Errorf("mongo: append audit: event %d has an empty action: %w", i, storage.ErrInvalid)
		}
		if e.Time.IsZero() {
			e.Time = stamp
		}
		docs[i] = toAuditDoc(e)
	}
	if len(docs) == 0 {
		if err := db.begin(ctx); err != nil {
			return fmt.Errorf("mongo: append audit: %w", err)
		}
		return nil
	}
	err := db.write(ctx, func(ctx context.Context) error {
		var counter struct {
			Seq int64 `bson:"seq"`
		}
		err := db.meta.FindOneAndUpdate(ctx, d("_id", metaAudit), d("$inc", d("seq", int64(len(docs)))),
			options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After)).Decode(&counter)
		if err != nil {
			return fmt.Errorf("audit seq: %w", err)
		}
		first := counter.Seq - int64(len(docs)) + 1
		batch := make([]auditDoc, len(docs))
		for i, doc := range docs {
			doc.Seq = first + int64(i)
			batch[i] = doc
		}
		_, err = db.audit.InsertMany(ctx, batch)
		return err
	})
	if err != nil {
		return fmt.Errorf("mongo: append audit: %w", err)
	}
	return nil
}

// AuditLog returns up to q.Limit (default 100) events matching q, newest
// (highest Seq) first, below q.Before when it is set, and whether more
// matching events follow; pass the last Seq returned as the next Before.
// Filters: OrgPath is a string prefix, Actor and Action exact, Since
// inclusive, Until exclusive. One query, filtered on the server, walking
// _id backwards (or the actor's or action's index).
func (db *DB) AuditLog(ctx context.Context, q storage.AuditQuery) ([]storage.AuditEvent, bool, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultAuditPage
	}
	filter := bson.D{}
	if q.Before != 0 && q.Before <= math.MaxInt64 {
		filter = append(filter, bson.E{Key: "_id", Value: d("$lt", int64(q.Before))})
	}
	if q.OrgPath != "" {
		filter = append(filter, bson.E{Key: "org_path", Value: bson.Regex{Pattern: "^" + regexp.QuoteMeta(q.OrgPath)}})
	}
	if q.Actor != "" {
		filter = append(filter, bson.E{Key: "actor", Value: q.Actor})
	}
	if q.Action != "" {
		filter = append(filter, bson.E{Key: "action", Value: q.Action})
	}
	if !q.Since.IsZero() || !q.Until.IsZero() {
		window := bson.D{}
		if !q.Since.IsZero() {
			window = append(window, bson.E{Key: "$gte", Value: ceilMillis(q.Since)})
		}
		if !q.Until.IsZero() {
			window = append(window, bson.E{Key: "$lt", Value: ceilMillis(q.Until)})
		}
		filter = append(filter, bson.E{Key: "time", Value: window})
	}
	var docs []auditDoc
	err := db.run(ctx, func(ctx context.Context) error {
		var err error
		docs, err = find[auditDoc](ctx, db.audit, filter,
			options.Find().SetSort(d("_id", -1)).SetLimit(int64(limit)+1))
		return err
	})
	if err != nil {
		return nil, false, fmt.Errorf("mongo: audit log: %w", err)
	}
	more := len(docs) > limit
	if more {
		docs = docs[:limit]
	}
	out := make([]storage.AuditEvent, len(docs))
	for i, doc := range docs {
		out[i] = doc.event()
	}
	return out, more, nil
}
