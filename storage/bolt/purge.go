package bolt

import (
	"context"
	"encoding/binary"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/pairsync/pairsync/storage"
)

// Purge deletes records of a pairing for good and raises its horizon; see
// storage.Records.
func (db *DB) Purge(ctx context.Context, pairing string, records []storage.Record) error {
	if pairing == "" {
		return fmt.Errorf("bolt: purge: empty pairing: %w", storage.ErrInvalid)
	}
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		recs := tx.Bucket(bucketRecords)
		log := tx.Bucket(bucketLog).Bucket([]byte(pairing))
		horizon := readU64(tx.Bucket(bucketHorizons), pairing)
		type victim struct {
			key []byte
			seq uint64
		}
		var victims []victim
		for _, r := range records {
			k := recordKey(r.Key)
			v := recs.Get(k)
			if v == nil {
				continue
			}
			sr, _, err := decodeRecordHead(v)
			if err != nil {
				return fmt.Errorf("%s/%s: %w", r.Collection, r.ID, err)
			}
			if string(sr.pairing) != pairing || sr.seq != r.Seq {
				return fmt.Errorf("%s/%s changed since it was read (seq %d, stored %d): %w", r.Collection, r.ID, r.Seq, sr.seq, storage.ErrConflict)
			}
			victims = append(victims, victim{k, sr.seq})
		}
		for _, v := range victims {
			if err := recs.Delete(v.key); err != nil {
				return err
			}
			if log != nil {
				if err := log.Delete(u64(v.seq)); err != nil {
					return err
				}
			}
			horizon = max(horizon, v.seq)
		}
		return tx.Bucket(bucketHorizons).Put([]byte(pairing), u64(horizon))
	})
	if err != nil {
		return fmt.Errorf("bolt: purge %s: %w", pairing, err)
	}
	return nil
}

// Horizon returns the highest purged sequence of a pairing.
func (db *DB) Horizon(ctx context.Context, pairing string) (uint64, error) {
	var h uint64
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		h = readU64(tx.Bucket(bucketHorizons), pairing)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("bolt: horizon %s: %w", pairing, err)
	}
	return h, nil
}

func readU64(b *bbolt.Bucket, key string) uint64 {
	if key == "" {
		return 0
	}
	v := b.Get([]byte(key))
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}
