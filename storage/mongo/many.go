package mongo

import (
	"bytes"
	"context"
	"fmt"
	"math"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/pairsync/pairsync/storage"
)

// manyChunk is how many documents one GetMany or ReceiptsOf query names
// at most (by _id, with $in): a push names at most 500 (syncproto's
// MaxChanges), so one query, its answer in as few batches as the
// documents' size allows.
const manyChunk = 1_000

// GetMany returns the current versions of the records named, by key; see
// storage.GetMany. One query by _id per manyChunk distinct keys (not a
// snapshot across queries, as storage.GetMany allows). The returned Data
// belongs to the caller.
func (db *DB) GetMany(ctx context.Context, keys []storage.Key) (map[storage.Key]storage.Record, error) {
	ids := make([]string, 0, len(keys))
	named := make(map[storage.Key]bool, len(keys))
	for _, k := range keys {
		if err := validKey(k); err != nil {
			return nil, fmt.Errorf("mongo: get many: %w", err)
		}
		if !named[k] {
			named[k] = true
			ids = append(ids, recordID(k))
		}
	}
	out := make(map[storage.Key]storage.Record, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	err := db.run(ctx, func(ctx context.Context) error {
		return findByID(ctx, ids, func(ctx context.Context, chunk []string) error {
			docs, err := find[recordDoc](ctx, db.records, d("_id", d("$in", chunk)), options.Find().SetBatchSize(int32(len(chunk))))
			for _, doc := range docs {
				r := doc.record()
				out[r.Key] = r
			}
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("mongo: get %d records: %w", len(keys), err)
	}
	return out, nil
}

// ReceiptsOf returns the answers stored for the replica's counters named,
// by counter; see storage.Receipts. One query by _id per manyChunk
// distinct counters. The returned slices belong to the caller.
func (db *DB) ReceiptsOf(ctx context.Context, replica string, counters []uint64) (map[uint64][]byte, error) {
	ids := make([]string, 0, len(counters))
	named := make(map[uint64]bool, len(counters))
	for _, c := range counters {
		// A counter above MaxInt64 has no receipt (Receipt: ErrNotFound).
		if !named[c] && c <= math.MaxInt64 {
			named[c] = true
			ids = append(ids, receiptID(replica, c))
		}
	}
	out := make(map[uint64][]byte, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	err := db.run(ctx, func(ctx context.Context) error {
		return findByID(ctx, ids, func(ctx context.Context, chunk []string) error {
			docs, err := find[receiptDoc](ctx, db.receipts, d("_id", d("$in", chunk)),
				options.Find().SetProjection(bson.D{{Key: "counter", Value: 1}, {Key: "answer", Value: 1}}).SetBatchSize(int32(len(chunk))))
			for _, doc := range docs {
				out[uint64(doc.Counter)] = bytes.Clone(doc.Answer)
			}
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("mongo: receipts of %s (%d counters): %w", replica, len(counters), err)
	}
	return out, nil
}

// findByID calls query with the ids, manyChunk at a time.
func findByID(ctx context.Context, ids []string, query func(ctx context.Context, chunk []string) error) error {
	for start := 0; start < len(ids); start += manyChunk {
		if err := query(ctx, ids[start:min(start+manyChunk, len(ids))]); err != nil {
			return err
		}
	}
	return nil
}
