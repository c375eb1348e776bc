package bolt

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/pairsync/pairsync/storage"
	bbolt "go.etcd.io/bbolt"
)

var _ storage.Leases = (*DB)(nil)

// The leases bucket (bucketLeases) maps a lease name to its JSON leaseDoc.
// A released lease is deleted; an expired one stays until it is taken
// again.

// leaseDoc is a lease as stored (JSON) in the leases bucket, keyed by name.
type leaseDoc struct {
	Holder  string    `json:"holder"`
	Expires time.Time `json:"expires"`
}

// checkLease rejects what AcquireLease and ReleaseLease refuse.
func checkLease(name, holder string) error {
	if err := storage.CheckIdent("lease name", name); err != nil {
		return err
	}
	return storage.CheckIdent("holder", holder)
}

// AcquireLease takes the named lease for holder until now+ttl (stored at
// millisecond precision) if it is free, expired (expiry ≤ now) or already
// holder's, in one transaction, and reports whether holder holds it.
// storage.ErrInvalid for an empty name or holder or a ttl ≤ 0.
func (db *DB) AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error) {
	if err := checkLease(name, holder); err != nil {
		return false, fmt.Errorf("bolt: acquire lease %q: %w", name, err)
	}
	if ttl <= 0 {
		return false, fmt.Errorf("bolt: acquire lease %q: ttl %v ≤ 0: %w", name, ttl, storage.ErrInvalid)
	}
	held := false
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketLeases)
		if raw := b.Get([]byte(name)); raw != nil {
			var cur leaseDoc
			if err := json.Unmarshal(raw, &cur); err != nil {
				return fmt.Errorf("decode: %w", err)
			}
			if cur.Holder != holder && cur.Expires.After(now) {
				return nil // held by another, not expired
			}
		}
		held = true
		return putJSON(b, name, leaseDoc{Holder: holder, Expires: millis(now.Add(ttl))})
	})
	if err != nil {
		return false, fmt.Errorf("bolt: acquire lease %q: %w", name, err)
	}
	return held, nil
}

// ReleaseLease deletes the named lease if holder holds it; otherwise it
// does nothing. storage.ErrInvalid for an empty name or holder.
func (db *DB) ReleaseLease(ctx context.Context, name, holder string) error {
	if err := checkLease(name, holder); err != nil {
		return fmt.Errorf("bolt: release lease %q: %w", name, err)
	}
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketLeases)
		raw := b.Get([]byte(name))
		if raw == nil {
			return nil
		}
		var cur leaseDoc
		if err := json.Unmarshal(raw, &cur); err != nil {
			return fmt.Errorf("decode: %w", err)
		}
		if cur.Holder != holder {
			return nil
		}
		return b.Delete([]byte(name))
	})
	if err != nil {
		return fmt.Errorf("bolt: release lease %q: %w", name, err)
	}
	return nil
}
