package mongo

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/pairsync/pairsync/storage"
)

var _ storage.Leases = (*DB)(nil)

// checkLease rejects what AcquireLease and ReleaseLease refuse.
func checkLease(name, holder string) error {
	if err := storage.CheckIdent("lease name", name); err != nil {
		return err
	}
	return storage.CheckIdent("holder", holder)
}

// AcquireLease takes the named lease for holder until now+ttl (stored at
// millisecond precision) if it is free, expired (expiry ≤ now) or already
// holder's, and reports whether holder holds it. It is one atomic upsert
// on the lease's document, matching it only when holder may take it: when
// another holder has it, the upsert's insert collides with the document's
// _id, and the answer is false. storage.ErrInvalid for an empty name or
// holder or a ttl ≤ 0.
func (db *DB) AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error) {
	if err := checkLease(name, holder); err != nil {
		return false, fmt.Errorf("mongo: acquire lease %q: %w", name, err)
	}
	if ttl <= 0 {
		return false, fmt.Errorf("mongo: acquire lease %q: ttl %v ≤ 0: %w", name, ttl, storage.ErrInvalid)
	}
	held := false
	err := db.run(ctx, func(ctx context.Context) error {
		_, err := db.leases.UpdateOne(ctx,
			bson.D{{Key: "_id", Value: name}, {Key: "$or", Value: bson.A{
				d("holder", holder),
				d("expires", d("$lte", now)),
			}}},
			d("$set", bson.D{{Key: "holder", Value: holder}, {Key: "expires", Value: millis(now.Add(ttl))}}),
			options.UpdateOne().SetUpsert(true))
		if mongo.IsDuplicateKeyError(err) {
			return nil // another holder's, not expired
		}
		if err != nil {
			return err
		}
		held = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("mongo: acquire lease %q: %w", name, err)
	}
	return held, nil
}

// ReleaseLease deletes the named lease if holder holds it; otherwise it
// does nothing. storage.ErrInvalid for an empty name or holder.
func (db *DB) ReleaseLease(ctx context.Context, name, holder string) error {
	if err := checkLease(name, holder); err != nil {
		return fmt.Errorf("mongo: release lease %q: %w", name, err)
	}
	err := db.run(ctx, func(ctx context.Context) error {
		_, err := db.leases.DeleteOne(ctx, bson.D{{Key: "_id", Value: name}, {Key: "holder", Value: holder}})
		return err
	})
	if err != nil {
		return fmt.Errorf("mongo: release lease %q: %w", name, err)
	}
	return nil
}
