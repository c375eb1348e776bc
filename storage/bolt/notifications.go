package bolt

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pairsync/pairsync/storage"
	bbolt "go.etcd.io/bbolt"
)

var _ storage.Notifications = (*DB)(nil)

// The outbox: bucketNotifications maps an id to its JSON notification;
// bucketNotificationsPending holds the ids of the pending ones (empty
// values), so a claim reads only those. Both change in one transaction.

// validNotifications checks a batch's notifications (Commit).
func validNotifications(ns []storage.Notification) error {
	for _, n := range ns {
		if n.ID == "" || n.Channel == "" || n.Recipient == "" {
			return fmt.Errorf("notification %q without an id, channel or recipient: %w", n.ID, storage.ErrInvalid)
		}
		if len(n.ID) > bbolt.MaxKeySize {
			return fmt.Errorf("notification id too long: %w", storage.ErrInvalid)
		}
	}
	return nil
}

// writeNotifications stores, in Commit's transaction, the notifications
// whose id is not stored yet (an earlier one in the batch included), as
// pending.
func writeNotifications(tx *bbolt.Tx, ns []storage.Notification) error {
	if len(ns) == 0 {
		return nil
	}
	all, pending := tx.Bucket(bucketNotifications), tx.Bucket(bucketNotificationsPending)
	for _, n := range ns {
		if all.Get([]byte(n.ID)) != nil {
			continue // a retried push, another process: left as it is
		}
		n = fresh(n)
		if err := putJSON(all, n.ID, n); err != nil {
			return fmt.Errorf("notification %s: %w", n.ID, err)
		}
		if err := pending.Put([]byte(n.ID), []byte{}); err != nil {
			return fmt.Errorf("notification %s: %w", n.ID, err)
		}
	}
	return nil
}

// fresh is a notification as it enters the outbox.
func fresh(n storage.Notification) storage.Notification {
	n.CreatedAt = millis(n.CreatedAt)
	if n.NextAt.IsZero() {
		n.NextAt = n.CreatedAt
	}
	n.NextAt, n.Since = millis(n.NextAt), n.CreatedAt
	n.State, n.Attempts, n.Answer = storage.NotificationPending, 0, ""
	n.AttemptAt, n.DoneAt, n.LeaseHolder, n.LeaseUntil = time.Time{}, time.Time{}, "", time.Time{}
	n.OrgPaths = slices.Clone(n.OrgPaths)
	return n
}

func getNotification(tx *bbolt.Tx, id string) (storage.Notification, error) {
	var n storage.Notification
	raw := tx.Bucket(bucketNotifications).Get([]byte(id))
	if raw == nil {
		return n, fmt.Errorf("notification %s: %w", id, storage.ErrNotFound)
	}
	if err := json.Unmarshal(raw, &n); err != nil {
		return n, fmt.Errorf("decode notification %s: %w", id, err)
	}
	return n, nil
}

// leasedNotification reads notification id for holder, who claimed it:
// storage.ErrConflict unless it is pending and leased to holder.
func leasedNotification(tx *bbolt.Tx, id, holder string) (storage.Notification, error) {
	n, err := getNotification(tx, id)
	if err != nil {
		return n, err
	}
	if n.State != storage.NotificationPending || n.LeaseHolder != holder {
		return n, fmt.Errorf("notification %s is %s, leased to %q, not to %q: %w", id, n.State, n.LeaseHolder, holder, storage.ErrConflict)
	}
	return n, nil
}

// ClaimNotifications leases due pending notifications to holder, as
// storage.Notifications documents, in one transaction (bbolt's single
// writer makes each claim exclusive).
func (db *DB) ClaimNotifications(ctx context.Context, holder string, now time.Time, lease time.Duration, limit int) ([]storage.Notification, error) {
	if holder == "" || lease <= 0 || limit <= 0 {
		return nil, fmt.Errorf("bolt: claim notifications: holder %q, lease %v, limit %d: %w", holder, lease, limit, storage.ErrInvalid)
	}
	var out []storage.Notification
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		out = nil
		var due []storage.Notification
		err := tx.Bucket(bucketNotificationsPending).ForEach(func(k, _ []byte) error {
			n, err := getNotification(tx, string(k))
			if err != nil {
				return err
			}
			if !n.NextAt.After(now) && !n.LeaseUntil.After(now) {
				due = append(due, n)
			}
			return nil
		})
		if err != nil {
			return err
		}
		slices.SortFunc(due, func(a, b storage.Notification) int {
			return cmp.Or(a.NextAt.Compare(b.NextAt), strings.Compare(a.ID, b.ID))
		})
		all := tx.Bucket(bucketNotifications)
		for _, n := range due[:min(limit, len(due))] {
			n.LeaseHolder, n.LeaseUntil = holder, millis(now.Add(lease))
			if err := putJSON(all, n.ID, n); err != nil {
				return err
			}
			out = append(out, n)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: claim notifications: %w", err)
	}
	return out, nil
}

// FinishNotification records an attempt's outcome, as
// storage.Notifications documents.
func (db *DB) FinishNotification(ctx context.Context, id, holder string, o storage.NotificationOutcome) error {
	switch o.State {
	case storage.NotificationSent, storage.NotificationFailed, storage.NotificationPending:
	default:
		return fmt.Errorf("bolt: finish notification %s: state %q: %w", id, o.State, storage.ErrInvalid)
	}
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		n, err := leasedNotification(tx, id, holder)
		if err != nil {
			return err
		}
		n.Attempts++
		n.Answer, n.AttemptAt, n.Robot = o.Answer, millis(o.At), o.Robot
		n.State, n.LeaseHolder, n.LeaseUntil = o.State, "", time.Time{}
		if o.State == storage.NotificationPending {
			n.NextAt = millis(o.NextAt)
		} else {
			n.DoneAt = millis(o.At)
			if err := tx.Bucket(bucketNotificationsPending).Delete([]byte(id)); err != nil {
				return err
			}
		}
		return putJSON(tx.Bucket(bucketNotifications), id, n)
	})
	if err != nil {
		return fmt.Errorf("bolt: finish notification %s: %w", id, err)
	}
	return nil
}

// Notification returns one notification, or storage.ErrNotFound.
func (db *DB) Notification(ctx context.Context, id string) (storage.Notification, error) {
	var n storage.Notification
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		n, err = getNotification(tx, id)
		return err
	})
	if err != nil {
		return storage.Notification{}, fmt.Errorf("bolt: notification: %w", err)
	}
	return n, nil
}

// ListNotifications returns a page of notifications, newest first. It reads
// the whole outbox (a foundation: an index by time comes with volume).
func (db *DB) ListNotifications(ctx context.Context, q storage.NotificationQuery) ([]storage.Notification, bool, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	var all []storage.Notification
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketNotifications).ForEach(func(_, v []byte) error {
			var n storage.Notification
			if err := json.Unmarshal(v, &n); err != nil {
				return err
			}
			if q.State != "" && n.State != q.State || q.Recipient != "" && n.Recipient != q.Recipient ||
				q.Channel != "" && n.Channel != q.Channel || q.Robot != "" && n.Robot != q.Robot || q.Unread && !n.ReadAt.IsZero() ||
				!q.DoneSince.IsZero() && n.DoneAt.Before(q.DoneSince) {
				return nil
			}
			if q.OrgPath != "" && !slices.ContainsFunc(n.OrgPaths, func(p string) bool { return strings.HasPrefix(p, q.OrgPath) }) {
				return nil
			}
			all = append(all, n)
			return nil
		})
	})
	if err != nil {
		return nil, false, fmt.Errorf("bolt: list notifications: %w", err)
	}
	slices.SortFunc(all, func(a, b storage.Notification) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), strings.Compare(a.ID, b.ID))
	})
	off := min(max(q.Offset, 0), len(all))
	all = all[off:]
	more := len(all) > limit
	return slices.Clone(all[:min(limit, len(all))]), more, nil
}

// ResendNotification makes a notification pending again, as
// storage.Notifications documents.
func (db *DB) ResendNotification(ctx context.Context, id string, now time.Time) (storage.Notification, error) {
	var n storage.Notification
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		var err error
		if n, err = getNotification(tx, id); err != nil {
			return err
		}
		now = millis(now)
		n.State, n.Since, n.NextAt, n.Attempts = storage.NotificationPending, now, now, 0
		n.DoneAt, n.LeaseHolder, n.LeaseUntil = time.Time{}, "", time.Time{}
		if err := putJSON(tx.Bucket(bucketNotifications), id, n); err != nil {
			return err
		}
		return tx.Bucket(bucketNotificationsPending).Put([]byte(id), []byte{})
	})
	if err != nil {
		return storage.Notification{}, fmt.Errorf("bolt: resend notification %s: %w", id, err)
	}
	return n, nil
}

// DeferNotification puts a claimed notification off, as
// storage.Notifications documents.
func (db *DB) DeferNotification(ctx context.Context, id, holder string, until time.Time, reason string) error {
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		n, err := leasedNotification(tx, id, holder)
		if err != nil {
			return err
		}
		n.NextAt, n.Answer, n.LeaseHolder, n.LeaseUntil = millis(until), reason, "", time.Time{}
		if n.Attempts == 0 {
			n.Since = n.NextAt
		}
		return putJSON(tx.Bucket(bucketNotifications), id, n)
	})
	if err != nil {
		return fmt.Errorf("bolt: defer notification %s: %w", id, err)
	}
	return nil
}

// ReadNotification marks a recipient's notification read, as
// storage.Notifications documents.
func (db *DB) ReadNotification(ctx context.Context, id, recipient string, at time.Time) (storage.Notification, error) {
	var n storage.Notification
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		var err error
		if n, err = getNotification(tx, id); err != nil {
			return err
		}
		if n.Recipient != recipient {
			return fmt.Errorf("notification %s: %w", id, storage.ErrNotFound)
		}
		if !n.ReadAt.IsZero() {
			return nil
		}
		n.ReadAt = millis(at)
		return putJSON(tx.Bucket(bucketNotifications), id, n)
	})
	if err != nil {
		return storage.Notification{}, fmt.Errorf("bolt: read notification %s: %w", id, err)
	}
	return n, nil
}

// ClaimNotification leases one due pending notification, as
// storage.Notifications documents.
func (db *DB) ClaimNotification(ctx context.Context, id, holder string, now time.Time, lease time.Duration) (storage.Notification, error) {
	if holder == "" || lease <= 0 {
		return storage.Notification{}, fmt.Errorf("bolt: claim notification %s: holder %q, lease %v: %w", id, holder, lease, storage.ErrInvalid)
	}
	var n storage.Notification
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		var err error
		if n, err = getNotification(tx, id); err != nil {
			return err
		}
		if n.State != storage.NotificationPending || n.NextAt.After(now) || n.LeaseHolder != holder && n.LeaseUntil.After(now) {
			return fmt.Errorf("notification %s is %s, due %v, leased to %q: %w", id, n.State, n.NextAt, n.LeaseHolder, storage.ErrConflict)
		}
		n.LeaseHolder, n.LeaseUntil = holder, millis(now.Add(lease))
		return putJSON(tx.Bucket(bucketNotifications), id, n)
	})
	if err != nil {
		return storage.Notification{}, fmt.Errorf("bolt: claim notification %s: %w", id, err)
	}
	return n, nil
}

// ReleaseNotifications releases holder's leases, as storage.Notifications
// documents.
func (db *DB) ReleaseNotifications(ctx context.Context, holder string) (int, error) {
	if holder == "" {
		return 0, fmt.Errorf("bolt: release notifications: no holder: %w", storage.ErrInvalid)
	}
	k := 0
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		k = 0
		var mine []storage.Notification
		err := tx.Bucket(bucketNotificationsPending).ForEach(func(key, _ []byte) error {
			n, err := getNotification(tx, string(key))
			if err != nil {
				return err
			}
			if n.LeaseHolder == holder {
				mine = append(mine, n)
			}
			return nil
		})
		if err != nil {
			return err
		}
		all := tx.Bucket(bucketNotifications)
		for _, n := range mine {
			n.LeaseHolder, n.LeaseUntil = "", time.Time{}
			if err := putJSON(all, n.ID, n); err != nil {
				return err
			}
			k++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("bolt: release notifications: %w", err)
	}
	return k, nil
}
