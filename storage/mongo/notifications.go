package mongo

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/pairsync/pairsync/storage"
)

var _ storage.Notifications = (*DB)(nil)

// notificationDoc is a notification as stored in the notifications
// collection (_id its deterministic id).
type notificationDoc struct {
	ID            string     `bson:"_id"`
	Channel       string     `bson:"channel"`
	Event         string     `bson:"event"`
	Cause         string     `bson:"cause"`
	Subject       string     `bson:"subject"`
	Recipient     string     `bson:"recipient"`
	RecipientName string     `bson:"recipient_name"`
	Pairing       string     `bson:"pairing"`
	OrgPaths      []string   `bson:"org_paths"`
	Lang          string     `bson:"lang"`
	Text          string     `bson:"text"`
	Link          string     `bson:"link"`
	State         string     `bson:"state"`
	CreatedAt     time.Time  `bson:"created_at"`
	Since         time.Time  `bson:"since"`
	NextAt        time.Time  `bson:"next_at"`
	Attempts      int        `bson:"attempts"`
	Answer        string     `bson:"answer"`
	AttemptAt     time.Time  `bson:"attempt_at"`
	DoneAt        time.Time  `bson:"done_at"`
	Robot         string     `bson:"robot,omitempty"`
	LeaseHolder   string     `bson:"lease_holder"`
	LeaseUntil    time.Time  `bson:"lease_until"`
	ReadAt        *time.Time `bson:"read_at,omitempty"`
}

func (n notificationDoc) notification() storage.Notification {
	utc := func(t time.Time) time.Time {
		if t.IsZero() || t.Year() <= 1 {
			return time.Time{}
		}
		return t.UTC()
	}
	return storage.Notification{ID: n.ID, Channel: n.Channel, Event: n.Event, Cause: n.Cause, Subject: n.Subject,
		Recipient: n.Recipient, RecipientName: n.RecipientName, Pairing: n.Pairing, OrgPaths: slices.Clone(n.OrgPaths),
		Lang: n.Lang, Text: n.Text, Link: n.Link, State: n.State, CreatedAt: utc(n.CreatedAt), Since: utc(n.Since),
		NextAt: utc(n.NextAt), Attempts: n.Attempts, Answer: n.Answer, AttemptAt: utc(n.AttemptAt), DoneAt: utc(n.DoneAt), Robot: n.Robot,
		LeaseHolder: n.LeaseHolder, LeaseUntil: utc(n.LeaseUntil), ReadAt: readAt(n.ReadAt)}
}

func readAt(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// validNotifications checks a batch's notifications (Commit).
func validNotifications(ns []storage.Notification) error {
	for _, n := range ns {
		if n.ID == "" || n.Channel == "" || n.Recipient == "" {
			return fmt.Errorf("notification %q without an id, channel or recipient: %w", n.ID, storage.ErrInvalid)
		}
	}
	return nil
}

// writeNotifications inserts, in Commit's transaction, the notifications
// whose id is not stored yet, as pending. (A concurrent transaction
// inserting the same id conflicts with this one, which then runs again and
// finds it stored.) Without transactions a duplicate key is skipped too.
func (db *DB) writeNotifications(ctx context.Context, ns []storage.Notification, inTxn bool) error {
	if len(ns) == 0 {
		return nil
	}
	ids := make([]string, len(ns))
	for i, n := range ns {
		ids[i] = n.ID
	}
	have, err := find[struct {
		ID string `bson:"_id"`
	}](ctx, db.notifications, d("_id", d("$in", ids)), options.Find().SetProjection(d("_id", 1)))
	if err != nil {
		return fmt.Errorf("read notifications: %w", err)
	}
	seen := map[string]bool{}
	for _, h := range have {
		seen[h.ID] = true
	}
	var docs []notificationDoc
	for _, n := range ns {
		if seen[n.ID] {
			continue
		}
		seen[n.ID] = true
		created := millis(n.CreatedAt)
		next := created
		if !n.NextAt.IsZero() {
			next = millis(n.NextAt)
		}
		docs = append(docs, notificationDoc{ID: n.ID, Channel: n.Channel, Event: n.Event, Cause: n.Cause, Subject: n.Subject,
			Recipient: n.Recipient, RecipientName: n.RecipientName, Pairing: n.Pairing, OrgPaths: slices.Clone(n.OrgPaths),
			Lang: n.Lang, Text: n.Text, Link: n.Link, State: storage.NotificationPending, CreatedAt: created, Since: created, NextAt: next})
		if docs[len(docs)-1].OrgPaths == nil {
			docs[len(docs)-1].OrgPaths = []string{}
		}
	}
	if len(docs) == 0 {
		return nil
	}
	_, err = db.notifications.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	switch {
	case err == nil:
		return nil
	case mongo.IsDuplicateKeyError(err) && !inTxn:
		return nil
	case mongo.IsDuplicateKeyError(err):
		return fmt.Errorf("a notification was written concurrently: %w", storage.ErrConflict)
	}
	return fmt.Errorf("write notifications: %w", err)
}

// ClaimNotifications leases due pending notifications to holder, as
// storage.Notifications documents: one atomic find-and-update per
// notification, matching it only while it is pending, due and unleased, so
// two claimers never get the same one.
func (db *DB) ClaimNotifications(ctx context.Context, holder string, now time.Time, lease time.Duration, limit int) ([]storage.Notification, error) {
	if holder == "" || lease <= 0 || limit <= 0 {
		return nil, fmt.Errorf("mongo: claim notifications: holder %q, lease %v, limit %d: %w", holder, lease, limit, storage.ErrInvalid)
	}
	var out []storage.Notification
	err := db.run(ctx, func(ctx context.Context) error {
		out = nil
		for len(out) < limit {
			var doc notificationDoc
			err := db.notifications.FindOneAndUpdate(ctx,
				bson.D{{Key: "state", Value: storage.NotificationPending}, {Key: "next_at", Value: d("$lte", now)}, {Key: "lease_until", Value: d("$lte", now)}},
				d("$set", bson.D{{Key: "lease_holder", Value: holder}, {Key: "lease_until", Value: millis(now.Add(lease))}}),
				options.FindOneAndUpdate().SetSort(bson.D{{Key: "next_at", Value: 1}, {Key: "_id", Value: 1}}).SetReturnDocument(options.After)).Decode(&doc)
			if errors.Is(err, mongo.ErrNoDocuments) {
				return nil
			}
			if err != nil {
				return err
			}
			out = append(out, doc.notification())
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("mongo: claim notifications: %w", err)
	}
	return out, nil
}

// FinishNotification records an attempt's outcome, as
// storage.Notifications documents: one update matching the notification
// only while it is pending and leased to holder.
func (db *DB) FinishNotification(ctx context.Context, id, holder string, o storage.NotificationOutcome) error {
	set := bson.D{{Key: "answer", Value: o.Answer}, {Key: "attempt_at", Value: millis(o.At)}, {Key: "state", Value: o.State}, {Key: "robot", Value: o.Robot},
		{Key: "lease_holder", Value: ""}, {Key: "lease_until", Value: time.Time{}}}
	switch o.State {
	case storage.NotificationPending:
		set = append(set, bson.E{Key: "next_at", Value: millis(o.NextAt)})
	case storage.NotificationSent, storage.NotificationFailed:
		set = append(set, bson.E{Key: "done_at", Value: millis(o.At)})
	default:
		return fmt.Errorf("mongo: finish notification %s: state %q: %w", id, o.State, storage.ErrInvalid)
	}
	err := db.run(ctx, func(ctx context.Context) error {
		res, err := db.notifications.UpdateOne(ctx,
			bson.D{{Key: "_id", Value: id}, {Key: "state", Value: storage.NotificationPending}, {Key: "lease_holder", Value: holder}},
			bson.D{{Key: "$set", Value: set}, {Key: "$inc", Value: d("attempts", 1)}})
		if err != nil {
			return err
		}
		if res.MatchedCount == 1 {
			return nil
		}
		n, err := db.notifications.CountDocuments(ctx, d("_id", id))
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("notification %s: %w", id, storage.ErrNotFound)
		}
		return fmt.Errorf("notification %s is not pending or not leased to %q: %w", id, holder, storage.ErrConflict)
	})
	if err != nil {
		return fmt.Errorf("mongo: finish notification %s: %w", id, err)
	}
	return nil
}

// Notification returns one notification, or storage.ErrNotFound.
func (db *DB) Notification(ctx context.Context, id string) (storage.Notification, error) {
	return byID(ctx, db, db.notifications, "notification", id, notificationDoc.notification)
}

// ListNotifications returns a page of notifications, newest first, as
// storage.Notifications documents.
func (db *DB) ListNotifications(ctx context.Context, q storage.NotificationQuery) ([]storage.Notification, bool, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	filter := bson.D{}
	if q.State != "" {
		filter = append(filter, bson.E{Key: "state", Value: q.State})
	}
	if q.OrgPath != "" {
		filter = append(filter, bson.E{Key: "org_paths", Value: bson.Regex{Pattern: "^" + regexp.QuoteMeta(q.OrgPath)}})
	}
	if q.Recipient != "" {
		filter = append(filter, bson.E{Key: "recipient", Value: q.Recipient})
	}
	if q.Channel != "" {
		filter = append(filter, bson.E{Key: "channel", Value: q.Channel})
	}
	if q.Robot != "" {
		filter = append(filter, bson.E{Key: "robot", Value: q.Robot})
	}
	if q.Unread {
		// read_at is absent until the message is read.
		filter = append(filter, bson.E{Key: "read_at", Value: nil})
	}
	if !q.DoneSince.IsZero() {
		filter = append(filter, bson.E{Key: "done_at", Value: d("$gte", millis(q.DoneSince))})
	}
	var docs []notificationDoc
	err := db.run(ctx, func(ctx context.Context) error {
		var err error
		docs, err = find[notificationDoc](ctx, db.notifications, filter, options.Find().
			SetSort(bson.D{{Key: "created_at", Value: -1}, {Key: "_id", Value: 1}}).
			SetSkip(int64(max(q.Offset, 0))).SetLimit(int64(limit)+1))
		return err
	})
	if err != nil {
		return nil, false, fmt.Errorf("mongo: list notifications: %w", err)
	}
	more := len(docs) > limit
	out := make([]storage.Notification, 0, min(len(docs), limit))
	for _, doc := range docs[:min(len(docs), limit)] {
		out = append(out, doc.notification())
	}
	return out, more, nil
}

// ResendNotification makes a notification pending again, as
// storage.Notifications documents.
func (db *DB) ResendNotification(ctx context.Context, id string, now time.Time) (storage.Notification, error) {
	now = millis(now)
	var doc notificationDoc
	err := db.run(ctx, func(ctx context.Context) error {
		return found(db.notifications.FindOneAndUpdate(ctx, d("_id", id),
			d("$set", bson.D{{Key: "state", Value: storage.NotificationPending}, {Key: "since", Value: now}, {Key: "next_at", Value: now},
				{Key: "attempts", Value: 0}, {Key: "done_at", Value: time.Time{}}, {Key: "lease_holder", Value: ""}, {Key: "lease_until", Value: time.Time{}}}),
			options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&doc))
	})
	if err != nil {
		return storage.Notification{}, fmt.Errorf("mongo: resend notification %s: %w", id, err)
	}
	return doc.notification(), nil
}

// DeferNotification puts a claimed notification off, as
// storage.Notifications documents: one update matching it only while it is
// pending and leased to holder (a pipeline, so Since follows NextAt only
// while no attempt was made).
func (db *DB) DeferNotification(ctx context.Context, id, holder string, until time.Time, reason string) error {
	until = millis(until)
	err := db.run(ctx, func(ctx context.Context) error {
		var doc notificationDoc
		err := db.notifications.FindOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "state", Value: storage.NotificationPending},
			{Key: "lease_holder", Value: holder}}).Decode(&doc)
		if errors.Is(err, mongo.ErrNoDocuments) {
			n, cerr := db.notifications.CountDocuments(ctx, d("_id", id))
			if cerr != nil {
				return cerr
			}
			if n == 0 {
				return fmt.Errorf("notification %s: %w", id, storage.ErrNotFound)
			}
			return fmt.Errorf("notification %s is not pending or not leased to %q: %w", id, holder, storage.ErrConflict)
		}
		if err != nil {
			return err
		}
		set := bson.D{{Key: "next_at", Value: until}, {Key: "answer", Value: reason}, {Key: "lease_holder", Value: ""}, {Key: "lease_until", Value: time.Time{}}}
		if doc.Attempts == 0 {
			set = append(set, bson.E{Key: "since", Value: until})
		}
		res, err := db.notifications.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "state", Value: storage.NotificationPending},
			{Key: "lease_holder", Value: holder}, {Key: "attempts", Value: doc.Attempts}}, d("$set", set))
		if err != nil {
			return err
		}
		if res.MatchedCount != 1 {
			return fmt.Errorf("notification %s changed meanwhile: %w", id, storage.ErrConflict)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("mongo: defer notification %s: %w", id, err)
	}
	return nil
}

// ReadNotification marks a recipient's notification read, as
// storage.Notifications documents (the first time stands).
func (db *DB) ReadNotification(ctx context.Context, id, recipient string, at time.Time) (storage.Notification, error) {
	var doc notificationDoc
	err := db.run(ctx, func(ctx context.Context) error {
		if _, err := db.notifications.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "recipient", Value: recipient},
			{Key: "read_at", Value: nil}}, d("$set", d("read_at", millis(at)))); err != nil {
			return err
		}
		return found(db.notifications.FindOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "recipient", Value: recipient}}).Decode(&doc))
	})
	if err != nil {
		return storage.Notification{}, fmt.Errorf("mongo: read notification %s: %w", id, err)
	}
	return doc.notification(), nil
}

// ClaimNotification leases one due pending notification, as
// storage.Notifications documents: one atomic find-and-update matching it
// only while it is pending, due, and free or already holder's.
func (db *DB) ClaimNotification(ctx context.Context, id, holder string, now time.Time, lease time.Duration) (storage.Notification, error) {
	if holder == "" || lease <= 0 {
		return storage.Notification{}, fmt.Errorf("mongo: claim notification %s: holder %q, lease %v: %w", id, holder, lease, storage.ErrInvalid)
	}
	var doc notificationDoc
	err := db.run(ctx, func(ctx context.Context) error {
		err := db.notifications.FindOneAndUpdate(ctx,
			bson.D{{Key: "_id", Value: id}, {Key: "state", Value: storage.NotificationPending}, {Key: "next_at", Value: d("$lte", now)},
				{Key: "$or", Value: bson.A{d("lease_until", d("$lte", now)), d("lease_holder", holder)}}},
			d("$set", bson.D{{Key: "lease_holder", Value: holder}, {Key: "lease_until", Value: millis(now.Add(lease))}}),
			options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&doc)
		if !errors.Is(err, mongo.ErrNoDocuments) {
			return err
		}
		n, cerr := db.notifications.CountDocuments(ctx, d("_id", id))
		if cerr != nil {
			return cerr
		}
		if n == 0 {
			return fmt.Errorf("notification %s: %w", id, storage.ErrNotFound)
		}
		return fmt.Errorf("notification %s is not pending, not due or leased to another: %w", id, storage.ErrConflict)
	})
	if err != nil {
		return storage.Notification{}, fmt.Errorf("mongo: claim notification %s: %w", id, err)
	}
	return doc.notification(), nil
}

// ReleaseNotifications releases holder's leases, as storage.Notifications
// documents: one update of its pending notifications.
func (db *DB) ReleaseNotifications(ctx context.Context, holder string) (int, error) {
	if holder == "" {
		return 0, fmt.Errorf("mongo: release notifications: no holder: %w", storage.ErrInvalid)
	}
	var k int
	err := db.run(ctx, func(ctx context.Context) error {
		res, err := db.notifications.UpdateMany(ctx, bson.D{{Key: "state", Value: storage.NotificationPending}, {Key: "lease_holder", Value: holder}},
			d("$set", bson.D{{Key: "lease_holder", Value: ""}, {Key: "lease_until", Value: time.Time{}}}))
		if err != nil {
			return err
		}
		k = int(res.ModifiedCount)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("mongo: release notifications: %w", err)
	}
	return k, nil
}
