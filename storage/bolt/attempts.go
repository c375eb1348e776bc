package bolt

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/pairsync/pairsync/storage"
)

var _ storage.Attempts = (*DB)(nil)

// The attempts bucket (bucketAttempts) maps a throttle key to its JSON
// attemptDoc: when its window started and how many attempts it holds.

type attemptDoc struct {
	Start time.Time `json:"start"`
	Count int       `json:"count"`
}

// live reports whether the window is open at now.
func (a attemptDoc) live(now time.Time, window time.Duration) bool {
	return now.Sub(a.Start) < window
}

func getAttempt(b *bbolt.Bucket, key string) (attemptDoc, bool, error) {
	raw := b.Get([]byte(key))
	if raw == nil {
		return attemptDoc{}, false, nil
	}
	var a attemptDoc
	if err := json.Unmarshal(raw, &a); err != nil {
		return attemptDoc{}, false, fmt.Errorf("decode attempts %q: %w", key, err)
	}
	return a, true, nil
}

// ReserveAttempt checks and counts every limit in one transaction, so
// racing calls are serialized and never pass a Max.
func (db *DB) ReserveAttempt(ctx context.Context, now time.Time, window time.Duration, limits ...storage.AttemptLimit) (time.Duration, bool, error) {
	if err := storage.CheckAttempts(window, limits); err != nil {
		return 0, false, fmt.Errorf("bolt: reserve attempt: %w", err)
	}
	now = millis(now)
	var wait time.Duration
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketAttempts)
		docs := make([]attemptDoc, len(limits))
		for i, l := range limits {
			a, ok, err := getAttempt(b, l.Key)
			if err != nil {
				return err
			}
			if !ok || !a.live(now, window) {
				a = attemptDoc{Start: now}
			}
			if a.Count >= l.Max {
				if w := window - now.Sub(a.Start); w > wait {
					wait = w
				}
			}
			docs[i] = a
		}
		if wait > 0 {
			return nil
		}
		for i, l := range limits {
			docs[i].Count++
			if err := putJSON(b, l.Key, docs[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, false, fmt.Errorf("bolt: reserve attempt: %w", err)
	}
	return wait, wait == 0, nil
}

// RefundAttempt gives back one attempt of every limit whose window is open.
func (db *DB) RefundAttempt(ctx context.Context, now time.Time, window time.Duration, limits ...storage.AttemptLimit) error {
	if err := storage.CheckAttempts(window, limits); err != nil {
		return fmt.Errorf("bolt: refund attempt: %w", err)
	}
	now = millis(now)
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketAttempts)
		for _, l := range limits {
			a, ok, err := getAttempt(b, l.Key)
			if err != nil {
				return err
			}
			if !ok || !a.live(now, window) || a.Count == 0 {
				continue
			}
			a.Count--
			if err := putJSON(b, l.Key, a); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("bolt: refund attempt: %w", err)
	}
	return nil
}

// PruneAttempts deletes the counters whose window started before
// startedBefore.
func (db *DB) PruneAttempts(ctx context.Context, startedBefore time.Time) (int, error) {
	startedBefore = millis(startedBefore)
	n := 0
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketAttempts)
		var old [][]byte
		err := b.ForEach(func(k, v []byte) error {
			var a attemptDoc
			if err := json.Unmarshal(v, &a); err != nil || a.Start.Before(startedBefore) {
				old = append(old, k) // an undecodable counter counts nothing
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range old {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		n = len(old)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("bolt: prune attempts: %w", err)
	}
	return n, nil
}
