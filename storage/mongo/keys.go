package mongo

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/pairsync/pairsync/storage"
)

var _ storage.SigningKeys = (*DB)(nil)

// signingKeyDoc is a storage.SigningKey in the signing_keys collection,
// keyed by ID; RetiredAt is absent while the key is active.
type signingKeyDoc struct {
	ID        string    `bson:"_id"`
	Algorithm string    `bson:"alg"`
	Private   []byte    `bson:"private"`
	CreatedAt time.Time `bson:"created_at"`
	RetiredAt time.Time `bson:"retired_at,omitempty"`
}

func (k signingKeyDoc) signingKey() storage.SigningKey {
	return storage.SigningKey{
		ID: k.ID, Algorithm: k.Algorithm, Private: bytes.Clone(k.Private), CreatedAt: utc(k.CreatedAt), RetiredAt: utc(k.RetiredAt),
	}
}

// metaKeySet is the _id of the meta document every rotation writes (the
// active key's id): two rotations, or two first keys, racing on it collide,
// so one is retried and sees the other's key.
const metaKeySet = "signing_keys"

// SigningKeys returns every stored key, oldest (CreatedAt, then ID) first.
// The returned keys, Private included, belong to the caller.
func (db *DB) SigningKeys(ctx context.Context) ([]storage.SigningKey, error) {
	var docs []signingKeyDoc
	err := db.run(ctx, func(ctx context.Context) error {
		var err error
		docs, err = find[signingKeyDoc](ctx, db.signingKeys, bson.D{},
			options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}, {Key: "_id", Value: 1}}))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("mongo: signing keys: %w", err)
	}
	out := make([]storage.SigningKey, len(docs))
	for i, k := range docs {
		out[i] = k.signingKey()
	}
	return out, nil
}

// RotateSigningKey stores k as the active key and, in the same
// transaction, retires every active key at k.CreatedAt; a zero CreatedAt
// becomes now. With ifNone set it stores k only into an empty key set and
// returns storage.ErrExists otherwise. storage.ErrExists also for a taken
// ID; storage.ErrInvalid for an empty ID or Private or a set RetiredAt.
// Nothing is written on error.
func (db *DB) RotateSigningKey(ctx context.Context, k storage.SigningKey, ifNone bool) error {
	if err := storage.CheckIdent("id", k.ID); err != nil {
		return fmt.Errorf("mongo: rotate signing key %s: %w", k.ID, err)
	}
	if len(k.Private) == 0 {
		return fmt.Errorf("mongo: rotate signing key %s: empty private key: %w", k.ID, storage.ErrInvalid)
	}
	if !k.RetiredAt.IsZero() {
		return fmt.Errorf("mongo: rotate signing key %s: a new key cannot be retired: %w", k.ID, storage.ErrInvalid)
	}
	if k.CreatedAt.IsZero() {
		k.CreatedAt = now()
	}
	doc := signingKeyDoc{ID: k.ID, Algorithm: k.Algorithm, Private: k.Private, CreatedAt: millis(k.CreatedAt)}
	err := db.write(ctx, func(ctx context.Context) error {
		if ifNone {
			n, err := db.signingKeys.CountDocuments(ctx, bson.D{}, options.Count().SetLimit(1))
			if err != nil {
				return err
			}
			if n > 0 {
				return fmt.Errorf("a key exists: %w", storage.ErrExists)
			}
		}
		n, err := db.signingKeys.CountDocuments(ctx, d("_id", k.ID), options.Count().SetLimit(1))
		if err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("id taken: %w", storage.ErrExists)
		}
		if _, err := db.meta.UpdateOne(ctx, d("_id", metaKeySet), d("$set", d("active", k.ID)),
			options.UpdateOne().SetUpsert(true)); err != nil {
			return fmt.Errorf("key set: %w", err)
		}
		if _, err := db.signingKeys.UpdateMany(ctx, d("retired_at", d("$exists", false)),
			d("$set", d("retired_at", doc.CreatedAt))); err != nil {
			return fmt.Errorf("retire: %w", err)
		}
		_, err = db.signingKeys.InsertOne(ctx, doc)
		if mongo.IsDuplicateKeyError(err) {
			return fmt.Errorf("id taken: %w", storage.ErrExists)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("mongo: rotate signing key %s: %w", k.ID, err)
	}
	return nil
}

// PruneSigningKeys deletes the keys retired before retiredBefore; the
// active key is never deleted.
func (db *DB) PruneSigningKeys(ctx context.Context, retiredBefore time.Time) error {
	err := db.run(ctx, func(ctx context.Context) error {
		_, err := db.signingKeys.DeleteMany(ctx, d("retired_at", bson.D{
			{Key: "$exists", Value: true}, {Key: "$lt", Value: ceilMillis(retiredBefore)},
		}))
		return err
	})
	if err != nil {
		return fmt.Errorf("mongo: prune signing keys: %w", err)
	}
	return nil
}
