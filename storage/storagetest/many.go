package storagetest

import (
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/pairsync/pairsync/storage"
)

// manyKeys is more keys or counters than one query of an adapter that
// reads them in chunks names (storage/mongo: 1,000).
const manyKeys = 1_100

// recordsGetMany: GetMany answers each key named as Get does: the latest
// version of a record, whatever its pairing; nothing for a key without a
// record (never written, purged, the same id in another collection); a key
// named twice once; no keys, no records; more keys than one query of an
// adapter names. An empty collection or id is ErrInvalid. The records
// belong to the caller.
func (s suite) recordsGetMany(t *testing.T) {
	st := s.open(t)
	ctx := t.Context()
	for _, keys := range [][]storage.Key{nil, {}} {
		got, err := st.GetMany(ctx, keys)
		wantErr(t, "get many of no keys", err, nil)
		equal(t, "get many of no keys", len(got), 0)
	}
	other := storage.Key{Collection: "issues", ID: "a"}
	mustCommit(t, st, storage.Batch{Pairing: "p1", Puts: []storage.Put{put("a", 0, "a1"), put("b", 0, "b1"), put("gone", 0, "g1")}})
	mustCommit(t, st, storage.Batch{Pairing: "p2", Puts: []storage.Put{put("c", 0, "c1"), {Key: other, Data: []byte("issue a")}}})
	mustCommit(t, st, storage.Batch{Pairing: "p1", Puts: []storage.Put{put("b", 2, "b2")}}) // b@4
	if err := st.Purge(ctx, "p1", []storage.Record{{Key: key("gone"), Seq: 3}}); err != nil {
		t.Fatalf("purge: %v", err)
	}
	keys := []storage.Key{key("b"), key("nope"), key("a"), other, key("c"), key("b"), key("gone"),
		{Collection: "issues", ID: "b"}, {Collection: "visit", ID: "sa"}, {Collection: "visitsa", ID: "x"}}
	got, err := st.GetMany(ctx, keys)
	wantErr(t, "get many", err, nil)
	want := map[storage.Key]storage.Record{
		key("a"): {Key: key("a"), Pairing: "p1", Seq: 1, Data: []byte("a1")},
		key("b"): {Key: key("b"), Pairing: "p1", Seq: 4, Data: []byte("b2")},
		key("c"): {Key: key("c"), Pairing: "p2", Seq: 1, Data: []byte("c1")},
		other:    {Key: other, Pairing: "p2", Seq: 2, Data: []byte("issue a")},
	}
	sameRecords(t, "get many", got, want)
	for _, k := range keys {
		r, err := st.Get(ctx, k)
		if errors.Is(err, storage.ErrNotFound) {
			continue
		}
		wantErr(t, "get", err, nil)
		sameRecord(t, fmt.Sprintf("get many %s/%s as get", k.Collection, k.ID), got[k], r)
	}

	t.Run("more keys than a query", func(t *testing.T) {
		var puts []storage.Put
		var keys []storage.Key
		want := map[storage.Key]storage.Record{}
		for i := range manyKeys {
			k := key(fmt.Sprintf("m%04d", i))
			keys = append(keys, k)
			if i%2 == 1 {
				continue // absent
			}
			puts = append(puts, storage.Put{Key: k, Data: []byte(k.ID)})
			want[k] = storage.Record{Key: k, Pairing: "p3", Seq: uint64(len(puts)), Data: []byte(k.ID)}
		}
		mustCommit(t, st, storage.Batch{Pairing: "p3", Puts: puts})
		got, err := st.GetMany(ctx, keys)
		wantErr(t, "get many", err, nil)
		sameRecords(t, fmt.Sprintf("get many of %d keys", len(keys)), got, want)
	})
	t.Run("invalid", func(t *testing.T) {
		for _, bad := range []storage.Key{{Collection: "visits"}, {ID: "a"}} {
			_, err := st.GetMany(ctx, []storage.Key{key("a"), bad})
			wantErr(t, fmt.Sprintf("get many with key %q/%q", bad.Collection, bad.ID), err, storage.ErrInvalid)
		}
	})
	t.Run("ownership", func(t *testing.T) {
		got, err := st.GetMany(ctx, []storage.Key{key("a")})
		wantErr(t, "get many", err, nil)
		copy(got[key("a")].Data, "XX")
		equal(t, "get after the caller changed a record get many returned", string(mustGet(t, st, key("a")).Data), "a1")
	})
	t.Run("canceled", func(t *testing.T) {
		if _, err := st.GetMany(canceled(t), []storage.Key{key("a")}); err == nil {
			t.Fatalf("get many with a canceled context: got no error, want one")
		}
	})
}

// sameRecords fails t unless got holds the records of want, by key, and
// nothing else.
func sameRecords(t *testing.T, what string, got, want map[storage.Key]storage.Record) {
	t.Helper()
	for k, r := range want {
		g, ok := got[k]
		if !ok {
			t.Fatalf("%s: %s/%s missing, want %s", what, k.Collection, k.ID, brief([]storage.Record{r}))
		}
		sameRecord(t, fmt.Sprintf("%s: %s/%s", what, k.Collection, k.ID), g, r)
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			t.Fatalf("%s: got %s, want no record at %s/%s", what, brief([]storage.Record{g}), k.Collection, k.ID)
		}
	}
}

// recordsReceiptsOf: ReceiptsOf answers each counter of the replica named
// that has a receipt, as Receipt does, and nothing for the others (never
// written, another replica's, even one whose name starts with this one's,
// a counter above MaxInt64); a counter named twice once; no counters, no
// answers; more counters than one query of an adapter names. The answers
// belong to the caller.
func (s suite) recordsReceiptsOf(t *testing.T) {
	st := s.open(t)
	ctx := t.Context()
	for _, counters := range [][]uint64{nil, {}} {
		got, err := st.ReceiptsOf(ctx, "dev1", counters)
		wantErr(t, "receipts of no counters", err, nil)
		equal(t, "receipts of no counters", len(got), 0)
	}
	mustCommit(t, st, storage.Batch{Pairing: "p1", Puts: []storage.Put{put("a", 0, "a1")}, Receipts: []storage.Receipt{
		{Replica: "dev1", Counter: 1, Answer: []byte("dev1/1")},
		{Replica: "dev1", Counter: 2, Answer: []byte("dev1/2"), Acked: 1},
	}})
	mustCommit(t, st, storage.Batch{Receipts: []storage.Receipt{
		{Replica: "dev1", Counter: 5, Answer: []byte("dev1/5")},
		{Replica: "dev1x", Counter: 4, Answer: []byte("dev1x/4")},
		{Replica: "dev", Counter: 3, Answer: []byte("dev/3")},
		{Replica: "dev2", Counter: 6, Answer: []byte("dev2/6")},
	}})
	got, err := st.ReceiptsOf(ctx, "dev1", []uint64{5, 1, 4, 3, 6, 5, 99, 0, 2, math.MaxUint64})
	wantErr(t, "receipts of dev1", err, nil)
	equal(t, "receipts of dev1", answers(got), map[uint64]string{1: "dev1/1", 2: "dev1/2", 5: "dev1/5"})
	got, err = st.ReceiptsOf(ctx, "dev", []uint64{1, 3, 4, 5})
	wantErr(t, "receipts of dev", err, nil)
	equal(t, "receipts of dev", answers(got), map[uint64]string{3: "dev/3"})
	got, err = st.ReceiptsOf(ctx, "dev9", []uint64{1, 2, 3, 4, 5, 6})
	wantErr(t, "receipts of dev9", err, nil)
	equal(t, "receipts of dev9", answers(got), map[uint64]string{})

	t.Run("more counters than a query", func(t *testing.T) {
		var receipts []storage.Receipt
		var counters []uint64
		want := map[uint64]string{}
		for c := uint64(1000); c < 1000+manyKeys; c++ {
			counters = append(counters, c)
			if c%3 == 0 {
				a := fmt.Sprintf("dev1/%d", c)
				receipts = append(receipts, storage.Receipt{Replica: "dev1", Counter: c, Answer: []byte(a)})
				want[c] = a
			}
		}
		mustCommit(t, st, storage.Batch{Receipts: receipts})
		got, err := st.ReceiptsOf(ctx, "dev1", counters)
		wantErr(t, "receipts of dev1", err, nil)
		for _, c := range counters {
			if g, w := string(got[c]), want[c]; g != w {
				t.Fatalf("receipts of %d counters: answer of %d: got %q, want %q", len(counters), c, g, w)
			}
		}
		equal(t, fmt.Sprintf("receipts of %d counters: answers", len(counters)), len(got), len(want))
		for _, c := range []uint64{1002, 1003} {
			r, err := st.Receipt(ctx, "dev1", c)
			if c%3 == 0 {
				wantErr(t, "receipt", err, nil)
				equal(t, fmt.Sprintf("receipts of %d as receipt", c), string(got[c]), string(r))
			} else {
				wantErr(t, "receipt", err, storage.ErrNotFound)
			}
		}
	})
	t.Run("ownership", func(t *testing.T) {
		got, err := st.ReceiptsOf(ctx, "dev1", []uint64{1})
		wantErr(t, "receipts of", err, nil)
		copy(got[1], "XXXXXX")
		a, err := st.Receipt(ctx, "dev1", 1)
		wantErr(t, "receipt", err, nil)
		equal(t, "receipt after the caller changed an answer receipts of returned", string(a), "dev1/1")
	})
	t.Run("canceled", func(t *testing.T) {
		if _, err := st.ReceiptsOf(canceled(t), "dev1", []uint64{1}); err == nil {
			t.Fatalf("receipts of with a canceled context: got no error, want one")
		}
	})
}

// answers is a ReceiptsOf answer as strings.
func answers(m map[uint64][]byte) map[uint64]string {
	out := make(map[uint64]string, len(m))
	for c, a := range m {
		out[c] = string(a)
	}
	return out
}
