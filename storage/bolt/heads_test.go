package bolt

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/pairsync/pairsync/storage"
	bbolt "go.etcd.io/bbolt"
)

// TestHeadsFeedOfOlderFile: a file written before the heads feed (no
// stamps) gets a stamp for every head when opened, so a ledger reading the
// feed from 0 finds every pairing.
func TestHeadsFeedOfOlderFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "p.db")
	db, err := Open(ctx, Config{Path: path, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"p1", "p2"} {
		if _, err := db.Commit(ctx, storage.Batch{Pairing: p, Puts: []storage.Put{{Key: storage.Key{Collection: "visits", ID: p}}}}); err != nil {
			t.Fatal(err)
		}
	}
	// Make it an older file: no stamps at all.
	if err := db.bolt.Update(func(tx *bbolt.Tx) error {
		for _, b := range [][]byte{bucketHeadsByStamp, bucketHeadStamps} {
			if err := tx.DeleteBucket(b); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Delete(keyCommitStamp)
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = Open(ctx, Config{Path: path, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	page, err := db.HeadsSince(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Heads) != 2 || page.Last != 2 {
		t.Fatalf("heads of an older file after Open: got %+v, want p1 and p2 stamped (Last 2)", page)
	}
}
