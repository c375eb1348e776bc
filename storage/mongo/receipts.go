package mongo

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/pairsync/pairsync/storage"
)

// prunedDoc is a replica's entry in receipts_pruned: the counter below
// which its receipts were deleted.
type prunedDoc struct {
	Replica string `bson:"_id"`
	Below   int64  `bson:"below"`
}

// PrunedBelow returns the counter below which a replica's receipts were
// pruned; see storage.Receipts.
func (db *DB) PrunedBelow(ctx context.Context, replica string) (uint64, error) {
	var doc prunedDoc
	err := db.run(ctx, func(ctx context.Context) error {
		err := db.pruned.FindOne(ctx, d("_id", replica)).Decode(&doc)
		if errors.Is(err, mongo.ErrNoDocuments) {
			return nil
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("mongo: pruned below %s: %w", replica, err)
	}
	return uint64(doc.Below), nil
}

// PruneReceipts deletes, per replica, the receipts below the highest Acked
// of its receipts (else more than keep counters below its newest one). It
// walks the replicas with one seek each on the
// (replica, counter) index and, for each, raises PrunedBelow before it
// deletes: a crash between the two leaves receipts that are no longer
// needed, never a processed change that looks unprocessed. Replicas are
// pruned one by one, not in one transaction.
func (db *DB) PruneReceipts(ctx context.Context, keep uint64) (int, error) {
	deleted := 0
	err := db.run(ctx, func(ctx context.Context) error {
		last := ""
		for {
			// The next replica and its newest counter.
			var newest receiptDoc
			err := db.receipts.FindOne(ctx, d("replica", d("$gt", last)), options.FindOne().
				SetSort(bson.D{{Key: "replica", Value: 1}, {Key: "counter", Value: -1}}).
				SetProjection(d("answer", 0))).Decode(&newest)
			if errors.Is(err, mongo.ErrNoDocuments) {
				return nil
			}
			if err != nil {
				return err
			}
			last = newest.Replica
			// The highest Acked: among the receipts pruning leaves, about
			// one push's (the replica's part of the index, then sorted).
			var acked receiptDoc
			err = db.receipts.FindOne(ctx, bson.D{{Key: "replica", Value: last}, {Key: "acked", Value: d("$gt", int64(0))}}, options.FindOne().
				SetSort(d("acked", -1)).SetProjection(d("answer", 0))).Decode(&acked)
			if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
				return err
			}
			below := acked.Acked
			if below == 0 && uint64(newest.Counter) > keep {
				below = newest.Counter - int64(keep)
			}
			if below <= 0 {
				continue
			}
			if _, err := db.pruned.UpdateOne(ctx, d("_id", last), d("$max", d("below", below)), options.UpdateOne().SetUpsert(true)); err != nil {
				return fmt.Errorf("replica %s: raise pruned-below: %w", last, err)
			}
			res, err := db.receipts.DeleteMany(ctx, bson.D{{Key: "replica", Value: last}, {Key: "counter", Value: d("$lt", below)}})
			if err != nil {
				return fmt.Errorf("replica %s: %w", last, err)
			}
			deleted += int(res.DeletedCount)
		}
	})
	if err != nil {
		return deleted, fmt.Errorf("mongo: prune receipts: %w", err)
	}
	return deleted, nil
}

var _ storage.Receipts = (*DB)(nil)
