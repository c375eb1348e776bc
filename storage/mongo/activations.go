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

var _ storage.Activations = (*DB)(nil)

// activationDoc is a storage.Activation in the activations collection,
// keyed by CodeHash; UsedAt is absent until the code is used. A user has
// at most one document (unique index on user_id): the current code.
type activationDoc struct {
	CodeHash  string    `bson:"_id"`
	UserID    string    `bson:"user_id"`
	CreatedBy string    `bson:"created_by,omitempty"`
	CreatedAt time.Time `bson:"created_at"`
	ExpiresAt time.Time `bson:"expires_at"`
	UsedAt    time.Time `bson:"used_at,omitempty"`
}

func (a activationDoc) activation() storage.Activation {
	return storage.Activation{
		CodeHash: a.CodeHash, UserID: a.UserID, CreatedBy: a.CreatedBy,
		CreatedAt: utc(a.CreatedAt), ExpiresAt: utc(a.ExpiresAt), UsedAt: utc(a.UsedAt),
	}
}

func checkActivation(a storage.Activation) error {
	if !storage.ValidSHA256(a.CodeHash) {
		return fmt.Errorf("code hash is not a lowercase hex SHA-256: %w", storage.ErrInvalid)
	}
	if err := storage.CheckIdent("user id", a.UserID); err != nil {
		return err
	}
	if a.ExpiresAt.IsZero() {
		return fmt.Errorf("zero expiry: %w", storage.ErrInvalid)
	}
	if !a.UsedAt.IsZero() {
		return fmt.Errorf("a new code cannot be used: %w", storage.ErrInvalid)
	}
	return nil
}

// CreateActivation stores a code and makes it the user's current one,
// deleting the user's previous code (used or not) in the same transaction:
// at most one code per user is stored. A zero CreatedAt becomes now.
// storage.ErrExists for a taken hash; storage.ErrInvalid when CodeHash is
// not a lowercase hex SHA-256, UserID is empty, ExpiresAt is zero or UsedAt
// is set.
func (db *DB) CreateActivation(ctx context.Context, a storage.Activation) error {
	if err := checkActivation(a); err != nil {
		return fmt.Errorf("mongo: create activation: %w", err)
	}
	if a.CreatedAt.IsZero() {
		a.CreatedAt = now()
	}
	doc := activationDoc{
		CodeHash: a.CodeHash, UserID: a.UserID, CreatedBy: a.CreatedBy,
		CreatedAt: millis(a.CreatedAt), ExpiresAt: millis(a.ExpiresAt),
	}
	err := db.write(ctx, func(ctx context.Context) error {
		taken, err := exists(ctx, db.activations, doc.CodeHash)
		if err != nil {
			return err
		}
		if taken {
			return fmt.Errorf("code hash taken: %w", storage.ErrExists)
		}
		if _, err := db.activations.DeleteMany(ctx, d("user_id", doc.UserID)); err != nil {
			return fmt.Errorf("delete the previous code: %w", err)
		}
		_, err = db.activations.InsertOne(ctx, doc)
		if mongo.IsDuplicateKeyError(err) {
			return fmt.Errorf("code hash taken, or a code created concurrently: %w", storage.ErrExists)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("mongo: create activation for %s: %w", a.UserID, err)
	}
	return nil
}

// errNoActivation is ConsumeActivation's one answer to every refusal, so
// that neither the caller nor a log learns which check failed.
var errNoActivation = fmt.Errorf("mongo: consume activation: unknown, used, replaced or expired code: %w", storage.ErrNotFound)

// ConsumeActivation marks the code used at now and returns it, in one
// atomic find-and-modify, if it is stored (a replaced code is deleted),
// unused and expires after now. Every refusal is the same error, wrapping
// storage.ErrNotFound.
func (db *DB) ConsumeActivation(ctx context.Context, hash string, now time.Time) (storage.Activation, error) {
	var doc activationDoc
	err := db.run(ctx, func(ctx context.Context) error {
		return found(db.activations.FindOneAndUpdate(ctx, liveActivation(hash, now), d("$set", d("used_at", millis(now))), options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&doc))
	})
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Activation{}, errNoActivation
	}
	if err != nil {
		return storage.Activation{}, fmt.Errorf("mongo: consume activation: %w", err)
	}
	return doc.activation(), nil
}

// liveActivation matches the code with hash if it is stored (a replaced
// code is deleted), unused and expires after now.
func liveActivation(hash string, now time.Time) bson.D {
	return bson.D{
		{Key: "_id", Value: hash},
		{Key: "used_at", Value: d("$exists", false)},
		{Key: "expires_at", Value: d("$gt", now)},
	}
}

var errNoLiveActivation = fmt.Errorf("mongo: live activation: unknown, used, replaced or expired code: %w", storage.ErrNotFound)

// LiveActivation returns the code with hash, unchanged, if ConsumeActivation
// would accept it at now (stored — a replaced code is deleted —, unused and
// expiring after now). Every refusal is the same error, wrapping
// storage.ErrNotFound.
func (db *DB) LiveActivation(ctx context.Context, hash string, now time.Time) (storage.Activation, error) {
	var doc activationDoc
	err := db.run(ctx, func(ctx context.Context) error {
		return found(db.activations.FindOne(ctx, liveActivation(hash, now)).Decode(&doc))
	})
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Activation{}, errNoLiveActivation
	}
	if err != nil {
		return storage.Activation{}, fmt.Errorf("mongo: live activation: %w", err)
	}
	return doc.activation(), nil
}
