package bolt

import (
	"context"
	"fmt"
	"testing"

	"github.com/pairsync/pairsync/storage"
	bbolt "go.etcd.io/bbolt"
)

// TestLogHoldsLatestOnly checks the layout behind Changes: a pairing's log
// holds exactly one entry per record, at its latest seq, so a feed read never
// skips over superseded entries.
func TestLogHoldsLatestOnly(t *testing.T) {
	ctx := context.Background()
	db := openTemp(t)
	k := func(i int) storage.Key { return storage.Key{Collection: "visits", ID: fmt.Sprint(i)} }
	var puts []storage.Put
	for i := range 10 {
		puts = append(puts, storage.Put{Key: k(i)})
	}
	if _, err := db.Commit(ctx, storage.Batch{Pairing: "p", Puts: puts}); err != nil {
		t.Fatalf("commit: got error %v, want none", err)
	}
	for round := range 3 {
		for i := range 5 {
			r, err := db.Get(ctx, k(i))
			if err != nil {
				t.Fatalf("get: got error %v, want none", err)
			}
			if _, err := db.Commit(ctx, storage.Batch{Pairing: "p", Puts: []storage.Put{{Key: k(i), Expect: r.Seq, Data: []byte{byte(round)}}}}); err != nil {
				t.Fatalf("commit: got error %v, want none", err)
			}
		}
	}
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		log := tx.Bucket(bucketLog).Bucket([]byte("p"))
		n := 0
		err := log.ForEach(func(seq, key []byte) error {
			n++
			r, err := decodeRecord(tx.Bucket(bucketRecords).Get(key))
			if err != nil {
				return err
			}
			if got, want := r.seq, uint64FromKey(seq); got != want {
				return fmt.Errorf("log entry %d names a record at seq %d, want %d", want, got, want)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if n != 10 {
			return fmt.Errorf("got %d log entries, want 10 (one per record)", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func uint64FromKey(b []byte) uint64 {
	var n uint64
	for _, c := range b {
		n = n<<8 | uint64(c)
	}
	return n
}
