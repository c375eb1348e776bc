package mongo

import (
	"context"

	"github.com/pairsync/pairsync/storage"
)

// CommitBody runs the body of Commit's transaction as it runs in a
// transaction (the pairing's counter taken first), but outside one, so
// that a server without transactions can test that path with batches whose
// checks pass (a refused one would keep its counter increment).
func CommitBody(ctx context.Context, db *DB, b storage.Batch) (storage.Committed, error) {
	if err := validBatch(b); err != nil {
		return storage.Committed{}, err
	}
	return db.commit(ctx, b, true)
}
