package mongo

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/pairsync/pairsync/storage"
)

// Purge deletes records of a pairing for good and raises its horizon, in
// one transaction; see storage.Records. A record changed since it was read
// (another seq or pairing) fails the whole call with storage.ErrConflict.
// Raising the horizon writes the pairing's counter document, so a purge
// and a commit of one pairing never interleave.
func (db *DB) Purge(ctx context.Context, pairing string, records []storage.Record) error {
	if pairing == "" {
		return fmt.Errorf("mongo: purge: empty pairing: %w", storage.ErrInvalid)
	}
	err := db.write(ctx, func(ctx context.Context) error {
		ids := make([]string, len(records))
		for i, r := range records {
			ids[i] = recordID(r.Key)
		}
		if len(ids) == 0 {
			return nil
		}
		docs, err := find[recordDoc](ctx, db.records, d("_id", d("$in", ids)),
			options.Find().SetProjection(d("data", 0)))
		if err != nil {
			return fmt.Errorf("read records: %w", err)
		}
		stored := make(map[string]recordDoc, len(docs))
		for _, r := range docs {
			stored[r.ID] = r
		}
		var (
			victims []mongo.WriteModel
			horizon int64
		)
		for i, r := range records {
			sr, ok := stored[ids[i]]
			if !ok {
				continue
			}
			if sr.Pairing != pairing || uint64(sr.Seq) != r.Seq {
				return fmt.Errorf("%s/%s changed since it was read (seq %d, stored %d): %w", r.Collection, r.ID, r.Seq, sr.Seq, storage.ErrConflict)
			}
			victims = append(victims, mongo.NewDeleteOneModel().SetFilter(bson.D{{Key: "_id", Value: sr.ID}, {Key: "seq", Value: sr.Seq}}))
			horizon = max(horizon, sr.Seq)
			delete(stored, ids[i]) // a record listed twice is deleted once
		}
		if len(victims) == 0 {
			return nil
		}
		res, err := db.records.BulkWrite(ctx, victims)
		if err != nil {
			return fmt.Errorf("delete records: %w", err)
		}
		if res.DeletedCount != int64(len(victims)) {
			return fmt.Errorf("a record changed concurrently: %w", storage.ErrConflict)
		}
		_, err = db.heads.UpdateOne(ctx, d("_id", pairing), d("$max", d("horizon", horizon)), options.UpdateOne().SetUpsert(true))
		if err != nil {
			return fmt.Errorf("raise horizon: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("mongo: purge %s: %w", pairing, err)
	}
	return nil
}

// Horizon returns the highest purged sequence of a pairing.
func (db *DB) Horizon(ctx context.Context, pairing string) (uint64, error) {
	h, err := db.head(ctx, pairing)
	if err != nil {
		return 0, fmt.Errorf("mongo: horizon %s: %w", pairing, err)
	}
	return uint64(h.Horizon), nil
}
