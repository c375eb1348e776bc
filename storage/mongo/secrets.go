package mongo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/pairsync/pairsync/storage"
)

var _ storage.Secrets = (*DB)(nil)

// secretDoc is one secret in the secrets collection, keyed by name.
type secretDoc struct {
	Name  string `bson:"_id"`
	Value []byte `bson:"value"`
}

// Secret returns the secret stored under name, storing fresh first when
// there is none: an insert that only the first caller wins (the others hit
// the _id and read the winner's).
func (db *DB) Secret(ctx context.Context, name string, fresh []byte) ([]byte, error) {
	if name == "" || len(fresh) == 0 {
		return nil, fmt.Errorf("mongo: secret %q: empty name or value: %w", name, storage.ErrInvalid)
	}
	var out []byte
	err := db.run(ctx, func(ctx context.Context) error {
		var doc secretDoc
		err := db.secrets.FindOne(ctx, d("_id", name)).Decode(&doc)
		if errors.Is(err, mongo.ErrNoDocuments) {
			_, err = db.secrets.InsertOne(ctx, secretDoc{Name: name, Value: fresh})
			if err == nil {
				out = bytes.Clone(fresh)
				return nil
			}
			if !mongo.IsDuplicateKeyError(err) {
				return err
			}
			err = db.winner(ctx, name, &doc)
		}
		if err != nil {
			return err
		}
		out = bytes.Clone(doc.Value)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("mongo: secret %s: %w", name, err)
	}
	return out, nil
}

// winner reads the secret another caller stored first. Its insert made
// ours fail, but a read at read concern majority sees it only once a
// majority has it, which may take a moment more: poll until then, for at
// most Config.Timeout (storage.ErrUnavailable after it).
func (db *DB) winner(ctx context.Context, name string, doc *secretDoc) error {
	deadline := time.Now().Add(db.timeout)
	for wait := time.Millisecond; ; wait = min(2*wait, 100*time.Millisecond) {
		err := db.secrets.FindOne(ctx, d("_id", name)).Decode(doc)
		if !errors.Is(err, mongo.ErrNoDocuments) {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the secret stored first is not readable at majority after %v: %w", db.timeout, storage.ErrUnavailable)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}
