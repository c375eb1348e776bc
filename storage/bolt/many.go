package bolt

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/pairsync/pairsync/storage"
	bbolt "go.etcd.io/bbolt"
)

// The reads of many records or receipts in one call (storage.GetMany,
// storage.Receipts.ReceiptsOf): one read transaction each, whatever the
// number of keys.

// GetMany returns the current versions of the records named, by key, in
// one read transaction; see storage.GetMany. The returned Data belongs to
// the caller.
func (db *DB) GetMany(ctx context.Context, keys []storage.Key) (map[storage.Key]storage.Record, error) {
	for _, k := range keys {
		if err := validKey(k); err != nil {
			return nil, fmt.Errorf("bolt: get many: %w", err)
		}
	}
	out := make(map[storage.Key]storage.Record, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		records := tx.Bucket(bucketRecords)
		for _, k := range keys {
			if _, ok := out[k]; ok {
				continue
			}
			v := records.Get(recordKey(k))
			if v == nil {
				continue
			}
			r, err := decodeRecord(v)
			if err != nil {
				return fmt.Errorf("%s/%s: %w", k.Collection, k.ID, err)
			}
			out[k] = r.record(k)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: get %d records: %w", len(keys), err)
	}
	return out, nil
}

// ReceiptsOf returns the answers stored for the replica's counters named,
// by counter, in one read transaction; see storage.Receipts. The returned
// slices belong to the caller.
func (db *DB) ReceiptsOf(ctx context.Context, replica string, counters []uint64) (map[uint64][]byte, error) {
	out := make(map[uint64][]byte, len(counters))
	if len(counters) == 0 {
		return out, nil
	}
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		receipts := tx.Bucket(bucketReceipts)
		key := appendStr(make([]byte, 0, len(replica)+binary.MaxVarintLen64+8), replica)
		n := len(key)
		for _, c := range counters {
			v := receipts.Get(binary.BigEndian.AppendUint64(key[:n], c))
			if v == nil {
				continue
			}
			answer, err := decodeAnswer(replica, c, v)
			if err != nil {
				return fmt.Errorf("receipt %d: %w", c, err)
			}
			out[c] = answer
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: receipts of %s (%d counters): %w", replica, len(counters), err)
	}
	return out, nil
}
