package bolt

import (
	"context"
	"encoding/binary"
	"fmt"

	bbolt "go.etcd.io/bbolt"

	"github.com/pairsync/pairsync/storage"
)

// DefaultHeadsPage is HeadsSince's page size when limit is 0.
const DefaultHeadsPage = 1000

// stampHead gives a pairing that a commit advances the next store-wide
// commit stamp, in the commit's own transaction (so stamps follow commit
// order): meta commit_stamp counts, heads_by_stamp maps stamp → pairing
// and head_stamps pairing → its stamp (to drop its previous entry).
func stampHead(tx *bbolt.Tx, pairing string) error {
	meta := tx.Bucket(bucketMeta)
	var stamp uint64
	if v := meta.Get(keyCommitStamp); len(v) == 8 {
		stamp = binary.BigEndian.Uint64(v)
	}
	stamp++
	if err := meta.Put(keyCommitStamp, u64(stamp)); err != nil {
		return fmt.Errorf("commit stamp: %w", err)
	}
	byStamp, stamps := tx.Bucket(bucketHeadsByStamp), tx.Bucket(bucketHeadStamps)
	if old := stamps.Get([]byte(pairing)); len(old) == 8 {
		if err := byStamp.Delete(old); err != nil {
			return fmt.Errorf("head stamp: %w", err)
		}
	}
	if err := byStamp.Put(u64(stamp), []byte(pairing)); err != nil {
		return fmt.Errorf("head stamp: %w", err)
	}
	if err := stamps.Put([]byte(pairing), u64(stamp)); err != nil {
		return fmt.Errorf("head stamp: %w", err)
	}
	return nil
}

// stampUnstamped stamps the heads of a file written before the heads feed
// (run on Open; a no-op once every head has a stamp).
func stampUnstamped(tx *bbolt.Tx) error {
	stamps := tx.Bucket(bucketHeadStamps)
	var missing []string
	if err := tx.Bucket(bucketHeads).ForEach(func(k, _ []byte) error {
		if stamps.Get(k) == nil {
			missing = append(missing, string(k))
		}
		return nil
	}); err != nil {
		return err
	}
	for _, p := range missing {
		if err := stampHead(tx, p); err != nil {
			return err
		}
	}
	return nil
}

// HeadsSince returns the pairings whose last advancing commit has a stamp
// after the cursor, in stamp order, from one consistent snapshot.
func (db *DB) HeadsSince(ctx context.Context, after uint64, limit int) (storage.HeadsPage, error) {
	if limit <= 0 {
		limit = DefaultHeadsPage
	}
	page := storage.HeadsPage{Next: after}
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(keyCommitStamp); len(v) == 8 {
			page.Last = binary.BigEndian.Uint64(v)
		}
		c := tx.Bucket(bucketHeadsByStamp).Cursor()
		for k, v := c.Seek(u64(after + 1)); k != nil; k, v = c.Next() {
			if len(page.Heads) == limit {
				page.More = true
				break
			}
			stamp := binary.BigEndian.Uint64(k)
			page.Heads = append(page.Heads, storage.HeadStamp{Pairing: string(v), Seq: readHead(tx, string(v)), Stamp: stamp})
			page.Next = stamp
		}
		return nil
	})
	if err != nil {
		return storage.HeadsPage{}, fmt.Errorf("bolt: heads since %d: %w", after, err)
	}
	return page, nil
}

// ConfirmedHead is Head: one process owns the file, so no read is stale.
func (db *DB) ConfirmedHead(ctx context.Context, pairing string) (uint64, error) {
	return db.Head(ctx, pairing)
}

// HeadsOf reads the heads and horizons of the pairings named in one read
// transaction.
func (db *DB) HeadsOf(ctx context.Context, pairings []string) ([]storage.PairingHead, error) {
	out := make([]storage.PairingHead, len(pairings))
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		horizons := tx.Bucket(bucketHorizons)
		for i, p := range pairings {
			out[i] = storage.PairingHead{Pairing: p, Seq: readHead(tx, p), Horizon: readU64(horizons, p)}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: heads of %d pairings: %w", len(pairings), err)
	}
	return out, nil
}
