package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"

	"go.etcd.io/bbolt"
)

// PrunedBelow returns the counter below which a replica's receipts were
// pruned; see storage.Receipts.
func (db *DB) PrunedBelow(ctx context.Context, replica string) (uint64, error) {
	var n uint64
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		n = readU64(tx.Bucket(bucketPruned), replica)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("bolt: pruned below %s: %w", replica, err)
	}
	return n, nil
}

// PruneReceipts deletes, per replica, the receipts below the highest Acked
// written (else more than keep counters below its newest one). Receipts are
// keyed str(replica) ‖ u64(counter), so each replica's receipts are one
// ordered run of keys.
func (db *DB) PruneReceipts(ctx context.Context, keep uint64) (int, error) {
	deleted := 0
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		receipts, pruned, acked := tx.Bucket(bucketReceipts), tx.Bucket(bucketPruned), tx.Bucket(bucketAcked)
		c := receipts.Cursor()
		for k, _ := c.First(); k != nil; {
			replica, rest, err := readStr(k)
			if err != nil || len(rest) != 8 {
				return fmt.Errorf("corrupt receipt key %x", k)
			}
			prefix := appendStr(nil, replica)
			// The replica's newest counter: the last key with its prefix.
			var last []byte
			for kk, _ := c.Seek(prefix); kk != nil && bytes.HasPrefix(kk, prefix); kk, _ = c.Next() {
				last = kk
			}
			newest := binary.BigEndian.Uint64(last[len(prefix):])
			next, _ := c.Seek(append(prefix, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff))
			nextKey := append([]byte(nil), next...)
			below := readU64(acked, replica)
			if below == 0 && newest > keep {
				below = newest - keep
			}
			if below > 0 {
				var victims [][]byte
				for kk, _ := c.Seek(prefix); kk != nil && bytes.HasPrefix(kk, prefix); kk, _ = c.Next() {
					if binary.BigEndian.Uint64(kk[len(prefix):]) >= below {
						break
					}
					victims = append(victims, append([]byte(nil), kk...))
				}
				for _, v := range victims {
					if err := receipts.Delete(v); err != nil {
						return err
					}
				}
				deleted += len(victims)
				if below > readU64(pruned, replica) {
					if err := pruned.Put([]byte(replica), u64(below)); err != nil {
						return err
					}
				}
			}
			if len(nextKey) == 0 {
				break
			}
			k, _ = c.Seek(nextKey)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("bolt: prune receipts: %w", err)
	}
	return deleted, nil
}
