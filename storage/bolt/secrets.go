package bolt

import (
	"bytes"
	"context"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/pairsync/pairsync/storage"
)

var _ storage.Secrets = (*DB)(nil)

// Secret returns the secret stored under name, storing fresh first when
// there is none.
func (db *DB) Secret(ctx context.Context, name string, fresh []byte) ([]byte, error) {
	if name == "" || len(fresh) == 0 {
		return nil, fmt.Errorf("bolt: secret %q: empty name or value: %w", name, storage.ErrInvalid)
	}
	var out []byte
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketSecrets)
		if v := b.Get([]byte(name)); v != nil {
			out = bytes.Clone(v)
			return nil
		}
		out = bytes.Clone(fresh)
		return b.Put([]byte(name), out)
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: secret %s: %w", name, err)
	}
	return out, nil
}
