package bolt_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/storage/bolt"
)

// Shape of the benchmark batches: what one push of a busy phone commits.
const (
	benchBatch      = 50
	benchRecordSize = 1024
)

func benchOpen(b *testing.B, noSync bool) *bolt.DB {
	b.Helper()
	db, err := bolt.Open(context.Background(), bolt.Config{Path: filepath.Join(b.TempDir(), "bench.db"), NoSync: noSync})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

// BenchmarkCommit commits batches of 50 new ~1 KB records to one pairing:
// the raw bolt rate the server's push rate is compared with. "fsync" is the
// production setting; "nosync" shows what the disk flush costs.
func BenchmarkCommit(b *testing.B) {
	for _, tc := range []struct {
		name   string
		noSync bool
	}{{"fsync", false}, {"nosync", true}} {
		b.Run(tc.name, func(b *testing.B) {
			db := benchOpen(b, tc.noSync)
			ctx := context.Background()
			data := bytes.Repeat([]byte("v"), benchRecordSize)
			b.SetBytes(benchBatch * benchRecordSize)
			n := 0
			for b.Loop() {
				puts := make([]storage.Put, benchBatch)
				for i := range puts {
					n++
					puts[i] = storage.Put{Key: storage.Key{Collection: "visits", ID: fmt.Sprintf("%012d", n)}, Data: data}
				}
				if _, err := db.Commit(ctx, storage.Batch{Pairing: "p1", Puts: puts}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkChanges reads default pages (500 records) of a 20,000-record
// feed of ~1 KB records, cycling through it.
func BenchmarkChanges(b *testing.B) {
	const total = 20_000
	db := benchOpen(b, true)
	ctx := context.Background()
	data := bytes.Repeat([]byte("v"), benchRecordSize)
	for n := 0; n < total; {
		puts := make([]storage.Put, 500)
		for i := range puts {
			n++
			puts[i] = storage.Put{Key: storage.Key{Collection: "visits", ID: fmt.Sprintf("%012d", n)}, Data: data}
		}
		if _, err := db.Commit(ctx, storage.Batch{Pairing: "p1", Puts: puts}); err != nil {
			b.Fatal(err)
		}
	}
	var after uint64
	records := 0
	for b.Loop() {
		p, err := db.Changes(ctx, "p1", after, storage.PageLimit{})
		if err != nil {
			b.Fatal(err)
		}
		records += len(p.Records)
		after = p.Next
		if !p.More {
			after = 0
		}
	}
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
}
