package bolt_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/storage/bolt"
)

// A push commits, per pairing, its changed records and a receipt per change
// (the answer, for exactly-once replays) with a compare-and-set on the
// pairing's head, after reading, per change, the receipt (absent) and the
// stored record (absent for a new visit). Records here are the size of
// fieldctl bench's visits as stored (~2.6 KB).
const pushRecordSize = 2600

// BenchmarkCommitPush commits batches of 50 new records with 50 receipts
// and ExpectHead, fsync on: what one push of fieldctl's batch size costs
// the store; BenchmarkCommit (records only, 1 KB) is the raw rate.
func BenchmarkCommitPush(b *testing.B) {
	db := benchOpen(b, false)
	ctx := context.Background()
	data := bytes.Repeat([]byte("访"), pushRecordSize/3)
	answer := []byte(`{"dot":"01a20328-1c27-7db3-9c66-98296b6b063a:123","status":"applied","seq":123}`)
	b.SetBytes(benchBatch * int64(len(data)))
	n := 0
	for b.Loop() {
		head, err := db.Head(ctx, "p1")
		if err != nil {
			b.Fatal(err)
		}
		batch := storage.Batch{Pairing: "p1", ExpectHead: &head}
		for range benchBatch {
			n++
			batch.Puts = append(batch.Puts, storage.Put{Key: storage.Key{Collection: "visits", ID: fmt.Sprintf("01a20324-cb52-783c-9b67-%012d", n)}, Data: data})
			batch.Receipts = append(batch.Receipts, storage.Receipt{Replica: "01a20328-1c27-7db3-9c66-98296b6b063a", Counter: uint64(n), Answer: answer})
		}
		if _, err := db.Commit(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}

// pushReadsStore is the push-read benchmarks' store: 20,000 records of
// one pairing, committed 500 at a time.
func pushReadsStore(b *testing.B) *bolt.DB {
	db := benchOpen(b, true)
	data := bytes.Repeat([]byte("访"), pushRecordSize/3)
	for n := 0; n < 20_000; {
		puts := make([]storage.Put, 500)
		for i := range puts {
			n++
			puts[i] = storage.Put{Key: storage.Key{Collection: "visits", ID: fmt.Sprintf("01a20324-cb52-783c-9b67-%012d", n)}, Data: data}
		}
		if _, err := db.Commit(context.Background(), storage.Batch{Pairing: "p1", Puts: puts}); err != nil {
			b.Fatal(err)
		}
	}
	return db
}

// BenchmarkPushReads: the reads a push makes before its commit, per change:
// a receipt lookup and a record lookup, each its own read transaction,
// both missing (a new visit), in a store of 20,000 records.
func BenchmarkPushReads(b *testing.B) {
	db := pushReadsStore(b)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if _, err := db.Receipt(ctx, "01a20328-1c27-7db3-9c66-98296b6b063a", uint64(i)); !errors.Is(err, storage.ErrNotFound) {
			b.Fatal(err)
		}
		if _, err := db.Get(ctx, storage.Key{Collection: "visits", ID: fmt.Sprintf("01a20324-cb52-783c-9b67-9%011d", i)}); !errors.Is(err, storage.ErrNotFound) {
			b.Fatal(err)
		}
	}
}

// BenchmarkPushReadsBatched: the same reads as BenchmarkPushReads, made as
// a push makes them since it reads in batches: one ReceiptsOf and one
// GetMany for a push of benchBatch changes (each read transaction shared
// by them all). One op is one push; ns/change compares with
// BenchmarkPushReads' ns/op.
func BenchmarkPushReadsBatched(b *testing.B) {
	db := pushReadsStore(b)
	ctx := context.Background()
	counters := make([]uint64, benchBatch)
	keys := make([]storage.Key, benchBatch)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		for j := range benchBatch {
			i++
			counters[j] = uint64(i)
			keys[j] = storage.Key{Collection: "visits", ID: fmt.Sprintf("01a20324-cb52-783c-9b67-9%011d", i)}
		}
		if got, err := db.ReceiptsOf(ctx, "01a20328-1c27-7db3-9c66-98296b6b063a", counters); err != nil || len(got) != 0 {
			b.Fatal(len(got), err)
		}
		if got, err := db.GetMany(ctx, keys); err != nil || len(got) != 0 {
			b.Fatal(len(got), err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchBatch), "ns/change")
}

// BenchmarkCommitPushConcurrent is BenchmarkCommitPush from 50 goroutines
// at once (fieldctl bench's 50 devices), each on its own pairing: the
// store's rate when concurrent pushes share transactions and fsyncs
// (group commit). One op is one batch of 50 records and 50 receipts.
func BenchmarkCommitPushConcurrent(b *testing.B) {
	const pushers = 50
	db := benchOpen(b, false)
	ctx := context.Background()
	data := bytes.Repeat([]byte("访"), pushRecordSize/3)
	answer := []byte(`{"dot":"01a20328-1c27-7db3-9c66-98296b6b063a:123","status":"applied","seq":123}`)
	b.SetBytes(benchBatch * int64(len(data)))
	var next atomic.Int64
	b.SetParallelism((pushers + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		g := next.Add(1)
		pairing := fmt.Sprintf("p%d", g)
		replica := fmt.Sprintf("01a20328-1c27-7db3-9c66-%012d", g)
		n := 0
		for pb.Next() {
			head, err := db.Head(ctx, pairing)
			if err != nil {
				b.Error(err)
				return
			}
			batch := storage.Batch{Pairing: pairing, ExpectHead: &head}
			for range benchBatch {
				n++
				batch.Puts = append(batch.Puts, storage.Put{Key: storage.Key{Collection: "visits", ID: fmt.Sprintf("%s-%012d", pairing, n)}, Data: data})
				batch.Receipts = append(batch.Receipts, storage.Receipt{Replica: replica, Counter: uint64(n), Answer: answer})
			}
			if _, err := db.Commit(ctx, batch); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "records/s")
}
