package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/pairsync/pairsync/storage"
)

var _ storage.Attempts = (*DB)(nil)

// attemptDoc is a throttle counter in the attempts collection: _id is the
// key, start when its window began, count the attempts in it.
type attemptDoc struct {
	Key   string    `bson:"_id"`
	Start time.Time `bson:"start"`
	Count int       `bson:"count"`
}

// ReserveAttempt reserves the limits one by one, each with single-document
// atomic updates (no transaction: FerretDB has none, and one document per
// key needs none), and gives back the ones it took when a later one
// refuses. Per key: an $inc matching only a live window below Max; else a
// reset of an ended window (an upsert whose insert collides with a live
// window's document); else the key is full, or another call changed it
// between the two, and the $inc is tried again.
func (db *DB) ReserveAttempt(ctx context.Context, now time.Time, window time.Duration, limits ...storage.AttemptLimit) (time.Duration, bool, error) {
	if err := storage.CheckAttempts(window, limits); err != nil {
		return 0, false, fmt.Errorf("mongo: reserve attempt: %w", err)
	}
	now = millis(now)
	var wait time.Duration
	err := db.run(ctx, func(ctx context.Context) error {
		for i, l := range limits {
			w, err := db.reserveOne(ctx, now, window, l)
			if err != nil || w == 0 {
				if err != nil {
					return err
				}
				continue
			}
			wait = w
			if err := db.refund(ctx, now, window, limits[:i]); err != nil {
				return err
			}
			// The longest wait of the reached limits, as far as they
			// are seen now.
			for _, o := range limits[i+1:] {
				var a attemptDoc
				err := db.attempts.FindOne(ctx, d("_id", o.Key)).Decode(&a)
				if err == nil && now.Sub(a.Start) < window && a.Count >= o.Max {
					wait = max(wait, window-now.Sub(a.Start))
				} else if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
					return err
				}
			}
			return nil
		}
		return nil
	})
	if err != nil {
		return 0, false, fmt.Errorf("mongo: reserve attempt: %w", err)
	}
	return wait, wait == 0, nil
}

// reserveOne counts one attempt on l and returns 0, or counts nothing and
// returns how long until l's window ends.
func (db *DB) reserveOne(ctx context.Context, now time.Time, window time.Duration, l storage.AttemptLimit) (time.Duration, error) {
	since := now.Add(-window)
	for range 8 {
		res, err := db.attempts.UpdateOne(ctx,
			bson.D{{Key: "_id", Value: l.Key}, {Key: "start", Value: d("$gt", since)}, {Key: "count", Value: d("$lt", l.Max)}},
			d("$inc", d("count", 1)))
		if err != nil {
			return 0, err
		}
		if res.MatchedCount == 1 {
			return 0, nil
		}
		_, err = db.attempts.UpdateOne(ctx,
			bson.D{{Key: "_id", Value: l.Key}, {Key: "start", Value: d("$lte", since)}},
			d("$set", bson.D{{Key: "start", Value: now}, {Key: "count", Value: 1}}),
			options.UpdateOne().SetUpsert(true))
		if err == nil {
			return 0, nil
		}
		if !mongo.IsDuplicateKeyError(err) {
			return 0, err
		}
		// A live window: full, or changed by a racing call since the $inc.
		var a attemptDoc
		if err := db.attempts.FindOne(ctx, d("_id", l.Key)).Decode(&a); err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
			return 0, err
		} else if err == nil && now.Sub(a.Start) < window && a.Count >= l.Max {
			return window - now.Sub(a.Start), nil
		}
	}
	return 0, fmt.Errorf("attempts %q changed by racing calls 8 times: %w", l.Key, storage.ErrConflict)
}

// RefundAttempt gives back one attempt of every limit whose window is open.
func (db *DB) RefundAttempt(ctx context.Context, now time.Time, window time.Duration, limits ...storage.AttemptLimit) error {
	if err := storage.CheckAttempts(window, limits); err != nil {
		return fmt.Errorf("mongo: refund attempt: %w", err)
	}
	err := db.run(ctx, func(ctx context.Context) error {
		return db.refund(ctx, millis(now), window, limits)
	})
	if err != nil {
		return fmt.Errorf("mongo: refund attempt: %w", err)
	}
	return nil
}

func (db *DB) refund(ctx context.Context, now time.Time, window time.Duration, limits []storage.AttemptLimit) error {
	for _, l := range limits {
		_, err := db.attempts.UpdateOne(ctx,
			bson.D{{Key: "_id", Value: l.Key}, {Key: "start", Value: d("$gt", now.Add(-window))}, {Key: "count", Value: d("$gt", 0)}},
			d("$inc", d("count", -1)))
		if err != nil {
			return err
		}
	}
	return nil
}

// PruneAttempts deletes the counters whose window started before
// startedBefore.
func (db *DB) PruneAttempts(ctx context.Context, startedBefore time.Time) (int, error) {
	var n int64
	err := db.run(ctx, func(ctx context.Context) error {
		res, err := db.attempts.DeleteMany(ctx, d("start", d("$lt", millis(startedBefore))))
		if err != nil {
			return err
		}
		n = res.DeletedCount
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("mongo: prune attempts: %w", err)
	}
	return int(n), nil
}
