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

var _ storage.SigningKeys = (*DB)(nil)

// signingKeyDoc is a storage.SigningKey as stored (JSON) in the
// signing_keys bucket, keyed by ID. The key set is a handful of keys, so
// reads decode them all.
type signingKeyDoc struct {
	ID        string    `json:"id"`
	Algorithm string    `json:"alg"`
	Private   []byte    `json:"private"`
	CreatedAt time.Time `json:"created_at"`
	RetiredAt time.Time `json:"retired_at"`
}

func (d signingKeyDoc) signingKey() storage.SigningKey {
	return storage.SigningKey{
		ID: d.ID, Algorithm: d.Algorithm, Private: d.Private, CreatedAt: d.CreatedAt, RetiredAt: d.RetiredAt,
	}
}

// allSigningKeys decodes every stored key, in bucket (ID) order.
func allSigningKeys(b *bbolt.Bucket) ([]signingKeyDoc, error) {
	var out []signingKeyDoc
	err := b.ForEach(func(k, v []byte) error {
		var doc signingKeyDoc
		if err := json.Unmarshal(v, &doc); err != nil {
			return fmt.Errorf("decode key %s: %w", k, err)
		}
		out = append(out, doc)
		return nil
	})
	return out, err
}

// SigningKeys returns every stored key, oldest (CreatedAt, then ID) first.
// The returned keys, Private included, belong to the caller.
func (db *DB) SigningKeys(ctx context.Context) ([]storage.SigningKey, error) {
	var docs []signingKeyDoc
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		docs, err = allSigningKeys(tx.Bucket(bucketSigningKeys))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: signing keys: %w", err)
	}
	out := make([]storage.SigningKey, len(docs))
	for i, d := range docs {
		out[i] = d.signingKey()
	}
	slices.SortFunc(out, func(a, b storage.SigningKey) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
	return out, nil
}

// RotateSigningKey stores k as the active key and, in the same transaction,
// retires every active key at k.CreatedAt; a zero CreatedAt becomes now.
// With ifNone set it stores k only into an empty key set and returns
// storage.ErrExists otherwise. storage.ErrExists also for a taken ID;
// storage.ErrInvalid for an empty ID or Private or a set RetiredAt. Nothing
// is written on error.
func (db *DB) RotateSigningKey(ctx context.Context, k storage.SigningKey, ifNone bool) error {
	if err := storage.CheckIdent("id", k.ID); err != nil {
		return fmt.Errorf("bolt: rotate signing key %s: %w", k.ID, err)
	}
	if len(k.Private) == 0 {
		return fmt.Errorf("bolt: rotate signing key %s: empty private key: %w", k.ID, storage.ErrInvalid)
	}
	if !k.RetiredAt.IsZero() {
		return fmt.Errorf("bolt: rotate signing key %s: a new key cannot be retired: %w", k.ID, storage.ErrInvalid)
	}
	if k.CreatedAt.IsZero() {
		k.CreatedAt = now()
	}
	doc := signingKeyDoc{ID: k.ID, Algorithm: k.Algorithm, Private: k.Private, CreatedAt: millis(k.CreatedAt)}
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		keys := tx.Bucket(bucketSigningKeys)
		if ifNone {
			if first, _ := keys.Cursor().First(); first != nil {
				return fmt.Errorf("a key exists: %w", storage.ErrExists)
			}
		}
		if keys.Get([]byte(k.ID)) != nil {
			return fmt.Errorf("id taken: %w", storage.ErrExists)
		}
		stored, err := allSigningKeys(keys)
		if err != nil {
			return err
		}
		for _, old := range stored {
			if !old.RetiredAt.IsZero() {
				continue
			}
			old.RetiredAt = doc.CreatedAt
			if err := putJSON(keys, old.ID, old); err != nil {
				return fmt.Errorf("retire %s: %w", old.ID, err)
			}
		}
		return putJSON(keys, doc.ID, doc)
	})
	if err != nil {
		return fmt.Errorf("bolt: rotate signing key %s: %w", k.ID, err)
	}
	return nil
}

// PruneSigningKeys deletes the keys retired before retiredBefore; the
// active key is never deleted.
func (db *DB) PruneSigningKeys(ctx context.Context, retiredBefore time.Time) error {
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		keys := tx.Bucket(bucketSigningKeys)
		stored, err := allSigningKeys(keys)
		if err != nil {
			return err
		}
		for _, d := range stored {
			if d.RetiredAt.IsZero() || !d.RetiredAt.Before(retiredBefore) {
				continue
			}
			if err := keys.Delete([]byte(d.ID)); err != nil {
				return fmt.Errorf("delete %s: %w", d.ID, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("bolt: prune signing keys: %w", err)
	}
	return nil
}
