package storagetest

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/pairsync/pairsync/storage"
)

func (s suite) records(t *testing.T) {
	t.Run("Empty", s.recordsEmpty)
	t.Run("CommitGetChanges", s.recordsCommitGetChanges)
	t.Run("Update", s.recordsUpdate)
	t.Run("UpdatedThreeTimes", s.recordsUpdatedThreeTimes)
	t.Run("Conflicts", s.recordsConflicts)
	t.Run("Receipts", s.recordsReceipts)
	t.Run("ReceiptsOf", s.recordsReceiptsOf)
	t.Run("GetMany", s.recordsGetMany)
	t.Run("ExpectHead", s.recordsExpectHead)
	t.Run("Purge", s.recordsPurge)
	t.Run("PruneReceipts", s.recordsPruneReceipts)
	t.Run("PruneReceiptsAcked", s.recordsPruneReceiptsAcked)
	t.Run("PairingImmutable", s.recordsPairingImmutable)
	t.Run("Paging", s.recordsPaging)
	t.Run("PagingBigRecord", s.recordsPagingBigRecord)
	t.Run("PagingWalk", s.recordsPagingWalk)
	t.Run("PagingDefaults", s.recordsPagingDefaults)
	t.Run("Ownership", s.recordsOwnership)
	t.Run("Invalid", s.recordsInvalid)
	t.Run("Canceled", s.recordsCanceled)
}

func (s suite) recordsEmpty(t *testing.T) {
	st := s.open(t)
	_, err := st.Get(t.Context(), key("a"))
	wantErr(t, "get absent record", err, storage.ErrNotFound)
	equal(t, "head of unknown pairing", mustHead(t, st, "p1"), 0)
	_, err = st.Receipt(t.Context(), "dev1", 1)
	wantErr(t, "absent receipt", err, storage.ErrNotFound)
	for _, after := range []uint64{0, 7} {
		p := mustChanges(t, st, "p1", after, storage.PageLimit{})
		if len(p.Records) != 0 || p.Next != after || p.More {
			t.Fatalf("changes of unknown pairing after %d: got %d records, Next %d, More %v; want 0, %d, false",
				after, len(p.Records), p.Next, p.More, after)
		}
	}
}

func (s suite) recordsCommitGetChanges(t *testing.T) {
	st := s.open(t)
	c := mustCommit(t, st, storage.Batch{Pairing: "p1", Puts: []storage.Put{
		put("a", 0, "a1"), put("b", 0, "b1"), put("c", 0, "c1"),
	}})
	equal(t, "first batch seqs", c.Seqs, []uint64{1, 2, 3})
	equal(t, "first batch head", c.Head, 3)
	equal(t, "head", mustHead(t, st, "p1"), 3)
	sameRecord(t, "get b", mustGet(t, st, key("b")),
		storage.Record{Key: key("b"), Pairing: "p1", Seq: 2, Data: []byte("b1")})

	c = mustCommit(t, st, storage.Batch{Pairing: "p1", Puts: []storage.Put{put("d", 0, "d1"), put("e", 0, "e1")}})
	equal(t, "second batch seqs", c.Seqs, []uint64{4, 5})
	equal(t, "second batch head", c.Head, 5)

	c = mustCommit(t, st, storage.Batch{Pairing: "p2", Puts: []storage.Put{
		{Key: storage.Key{Collection: "issues", ID: "a"}, Data: []byte("other collection, other pairing")},
	}})
	equal(t, "other pairing's first seqs", c.Seqs, []uint64{1})
	equal(t, "head p1 after a commit to p2", mustHead(t, st, "p1"), 5)

	all := allChanges(t, st, "p1")
	equal(t, "changes p1", brief(all), "[visits/a@1[p1]=a1 visits/b@2[p1]=b1 visits/c@3[p1]=c1 visits/d@4[p1]=d1 visits/e@5[p1]=e1]")
	p := mustChanges(t, st, "p1", 3, storage.PageLimit{})
	equal(t, "changes p1 after 3", brief(p.Records), "[visits/d@4[p1]=d1 visits/e@5[p1]=e1]")
	equal(t, "changes p1 after 3: Next", p.Next, 5)
	equal(t, "changes p2", brief(allChanges(t, st, "p2")), "[issues/a@1[p2]=other co…(31 bytes)]")
	sameRecord(t, "get visits/a", mustGet(t, st, key("a")),
		storage.Record{Key: key("a"), Pairing: "p1", Seq: 1, Data: []byte("a1")})
}

func (s suite) recordsUpdate(t *testing.T) {
	st := s.open(t)
	mustCommit(t, st, storage.Batch{Pairing: "p1", Puts: []storage.Put{put("a", 0, "a1"), put("b", 0, "b1")}})
	c := mustCommit(t, st, storage.Batch{Pairing: "p1", Puts: []storage.Put{put("a", 1, "a2")}})
	equal(t, "update seqs", c.Seqs, []uint64{3})
	sameRecord(t, "get a after update", mustGet(t, st, key("a")),
		storage.Record{Key: key("a"), Pairing: "p1", Seq: 3, Data: []byte("a2")})
	equal(t, "changes", brief(allChanges(t, st, "p1")), "[visits/b@2[p1]=b1 visits/a@3[p1]=a2]")
	// Empty data is a valid version.
	c = mustCommit(t, st, storage.Batch{Pairing: "p1", Puts: []storage.Put{{Key: key("a"), Expect: 3}}})
	equal(t, "empty-data update seqs", c.Seqs, []uint64{4})
	if r := mustGet(t, st, key("a")); len(r.Data) != 0 || r.Seq != 4 {
		t.Fatalf("get a after empty update: got %s, want seq 4 and no data", brief([]storage.Record{r}))
	}
}

func (s suite) recordsUpdatedThreeTimes(t *testing.T) {
	st := s.open(t)
	for _, b := range [][]storage.Put{
		{put("a", 0, "a1"), put("b", 0, "b1"), put("c", 0, "c1")}, // 1 2 3
		{put("a", 1, "a2")}, // 4
		{put("b", 2, "b2")}, // 5
		{put("a", 4, "a3")}, // 6
		{put("c", 3, "c2")}, // 7
		{put("a", 6, "a4")}, // 8
	} {
		mustCommit(t, st, storage.Batch{Pairing: "p1", Puts: b})
	}
	sameRecord(t, "get a", mustGet(t, st, key("a")),
		storage.Record{Key: key("a"), Pairing: "p1", Seq: 8, Data: []byte("a4")})
	for _, tc := range []struct {
		after uint64
		want  string
	}{
		{0, "[visits/b@5[p1]=b2 visits/c@7[p1]=c2 visits/a@8[p1]=a4]"},
		{1, "[visits/b@5[p1]=b2 visits/c@7[p1]=c2 visits/a@8[p1]=a4]"},
		{4, "[visits/b@5[p1]=b2 visits/c@7[p1]=c2 visits/a@8[p1]=a4]"},
		{5, "[visits/c@7[p1]=c2 visits/a@8[p1]=a4]"},
		{6, "[visits/c@7[p1]=c2 visits/a@8[p1]=a4]"},
		{7, "[visits/a@8[p1]=a4]"},
		{8, "[]"},
	} {
		t.Run(fmt.Sprintf("after=%d", tc.after), func(t *testing.T) {
			p := mustChanges(t, st, "p1", tc.after, storage.PageLimit{})
			checkPage(t, p, tc.after)
			equal(t, "changes", brief(p.Records), tc.want)
		})
	}
}

func (s suite) recordsConflicts(t *testing.T) {
	// Every case starts from: p1 holds a@1 and b@2, receipt dev1/1 exists.
	setup := func(t *testing.T) storage.Store {
		st := s.open(t)
		mustCommit(t, st, storage.Batch{Pairing: "p1",
			Puts:     []storage.Put{put("a", 0, "a1"), put("b", 0, "b1")},
			Receipts: []storage.Receipt{{Replica: "dev1", Counter: 1, Answer: []byte("applied")}},
		})
		return st
	}
	for _, tc := range []struct {
		name  string
		batch storage.Batch
	}{
		{"create existing", storage.Batch{Pairing: "p1", Puts: []storage.Put{put("a", 0, "a2")}}},
		{"stale expect", storage.Batch{Pairing: "p1", Puts: []storage.Put{put("b", 1, "b2")}}},
		{"expect from the future", storage.Batch{Pairing: "p1", Puts: []storage.Put{put("a", 9, "a2")}}},
		{"expect on absent record", storage.Batch{Pairing: "p1", Puts: []storage.Put{put("x", 1, "x1")}}},
		{"only the last of many puts conflicts", storage.Batch{Pairing: "p1",
			Puts: []storage.Put{
				put("x", 0, "x1"), put("y", 0, "y1"), put("a", 1, "a2"), put("b", 1, "b2"),
			},
			Receipts: []storage.Receipt{{Replica: "dev1", Counter: 2, Answer: []byte("applied")}},
		}},
		{"other pairing", storage.Batch{Pairing: "p2", Puts: []storage.Put{put("a", 1, "a2")}}},
		{"other pairing after a new record", storage.Batch{Pairing: "p2",
			Puts: []storage.Put{put("z", 0, "z1"), put("a", 1, "a2")}}},
		{"receipt exists", storage.Batch{Pairing: "p1",
			Puts: []storage.Put{put("x", 0, "x1")},
			Receipts: []storage.Receipt{
				{Replica: "dev1", Counter: 2, Answer: []byte("applied")},
				{Replica: "dev1", Counter: 1, Answer: []byte("duplicate")},
			},
		}},
		{"receipt exists in a receipts-only batch", storage.Batch{
			Receipts: []storage.Receipt{{Replica: "dev1", Counter: 1, Answer: []byte("rejected")}},
		}},
		{"head moved on", storage.Batch{Pairing: "p1", ExpectHead: ptr(uint64(1)),
			Puts: []storage.Put{put("x", 0, "x1")}}},
		{"head expected ahead", storage.Batch{Pairing: "p1", ExpectHead: ptr(uint64(3)),
			Puts: []storage.Put{put("x", 0, "x1")}}},
		{"head of an empty pairing", storage.Batch{Pairing: "p2", ExpectHead: ptr(uint64(2)),
			Puts: []storage.Put{put("z", 0, "z1")}}},
		{"head checked on a receipts-only batch", storage.Batch{Pairing: "p1", ExpectHead: ptr(uint64(0)),
			Receipts: []storage.Receipt{{Replica: "dev1", Counter: 2, Answer: []byte("rejected")}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := setup(t)
			snap := func() string {
				return state(t, st, []string{"p1", "p2"}, []string{"a", "b", "x", "y", "z"}, map[string]uint64{"dev1": 2})
			}
			before := snap()
			_, err := st.Commit(t.Context(), tc.batch)
			wantErr(t, "commit", err, storage.ErrConflict)
			if after := snap(); after != before {
				t.Fatalf("state after a failed commit:\ngot\n%s\nwant (unchanged)\n%s", after, before)
			}
			// A failed commit burns no sequence number.
			c := mustCommit(t, st, storage.Batch{Pairing: "p1", Puts: []storage.Put{put("a", 1, "a2")}})
			equal(t, "seqs of the next commit", c.Seqs, []uint64{3})
		})
	}
}

func ptr[T any](v T) *T { return &v }

// recordsExpectHead: with ExpectHead, puts take the sequences the writer
// predicted (head+1, …), so it can write them into its receipts.
func (s suite) recordsExpectHead(t *testing.T) {
	st := s.open(t)
	c := mustCommit(t, st, storage.Batch{Pairing: "p1", ExpectHead: ptr(uint64(0)),
		Puts: []storage.Put{put("a", 0, "a1"), put("b", 0, "b1")}})
	equal(t, "seqs from an empty pairing", c.Seqs, []uint64{1, 2})
	c = mustCommit(t, st, storage.Batch{Pairing: "p1", ExpectHead: ptr(uint64(2)),
		Puts:     []storage.Put{put("a", 1, "a2")},
		Receipts: []storage.Receipt{{Replica: "dev1", Counter: 1, Answer: []byte("applied seq 3")}}})
	equal(t, "seqs after head 2", c.Seqs, []uint64{3})
	equal(t, "head", c.Head, uint64(3))
}

// recordsPurge: purged records leave the store and the feed, the horizon
// rises to the highest purged sequence, the head does not move, and a
// record changed since it was read is not purged.
func (s suite) recordsPurge(t *testing.T) {
	st := s.open(t)
	ctx := t.Context()
	mustCommit(t, st, storage.Batch{Pairing: "p1", Puts: []storage.Put{put("a", 0, "a1"), put("b", 0, "b1"), put("c", 0, "c1")}})
	mustCommit(t, st, storage.Batch{Pairing: "p1", Puts: []storage.Put{put("b", 2, "b2")}}) // b@4
	if h, err := st.Horizon(ctx, "p1"); err != nil || h != 0 {
		t.Fatalf("horizon before purging: got %d, %v; want 0", h, err)
	}
	// A stale read of b (seq 2) refuses the whole purge.
	err := st.Purge(ctx, "p1", []storage.Record{{Key: key("a"), Seq: 1}, {Key: key("b"), Seq: 2}})
	wantErr(t, "purge with a stale seq", err, storage.ErrConflict)
	if _, err := st.Get(ctx, key("a")); err != nil {
		t.Fatalf("a after a refused purge: %v, want it kept", err)
	}
	if err := st.Purge(ctx, "p1", []storage.Record{{Key: key("a"), Seq: 1}, {Key: key("b"), Seq: 4}, {Key: key("zz"), Seq: 9}}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "b"} {
		_, err := st.Get(ctx, key(id))
		wantErr(t, "get purged "+id, err, storage.ErrNotFound)
	}
	p := mustChanges(t, st, "p1", 0, storage.PageLimit{})
	equal(t, "feed after purge", brief(p.Records), "[visits/c@3[p1]=c1]")
	if h, _ := st.Horizon(ctx, "p1"); h != 4 {
		t.Fatalf("horizon: got %d, want 4 (b's seq)", h)
	}
	if h, _ := st.Head(ctx, "p1"); h != 4 {
		t.Fatalf("head after purge: got %d, want 4 (unchanged)", h)
	}
	// The horizon never goes down.
	if err := st.Purge(ctx, "p1", []storage.Record{{Key: key("c"), Seq: 3}}); err != nil {
		t.Fatal(err)
	}
	if h, _ := st.Horizon(ctx, "p1"); h != 4 {
		t.Fatalf("horizon after purging an older record: got %d, want 4", h)
	}
	c := mustCommit(t, st, storage.Batch{Pairing: "p1", Puts: []storage.Put{put("d", 0, "d1")}})
	equal(t, "seq after purges", c.Seqs, []uint64{5})
}

// recordsPruneReceipts: receipts more than keep counters below a replica's
// newest go, per replica, and PrunedBelow says where they stop.
func (s suite) recordsPruneReceipts(t *testing.T) {
	st := s.open(t)
	ctx := t.Context()
	var rs []storage.Receipt
	for i := uint64(1); i <= 20; i++ {
		rs = append(rs, storage.Receipt{Replica: "dev1", Counter: i, Answer: []byte("a")})
	}
	for i := uint64(1); i <= 3; i++ {
		rs = append(rs, storage.Receipt{Replica: "dev2", Counter: i, Answer: []byte("b")})
	}
	rs = append(rs, storage.Receipt{Replica: "dev10", Counter: 40, Answer: []byte("c")})
	mustCommit(t, st, storage.Batch{Receipts: rs})
	n, err := st.PruneReceipts(ctx, 5)
	if err != nil || n != 14 {
		t.Fatalf("prune: got %d, %v; want 14 (dev1's 1..14)", n, err)
	}
	for _, tc := range []struct {
		replica string
		counter uint64
		kept    bool
	}{{"dev1", 14, false}, {"dev1", 1, false}, {"dev1", 15, true}, {"dev1", 20, true}, {"dev2", 1, true}, {"dev10", 40, true}} {
		_, err := st.Receipt(ctx, tc.replica, tc.counter)
		if kept := err == nil; kept != tc.kept {
			t.Errorf("receipt %s/%d after prune: kept=%v (%v), want %v", tc.replica, tc.counter, kept, err, tc.kept)
		}
	}
	for replica, want := range map[string]uint64{"dev1": 15, "dev2": 0, "dev10": 35, "nobody": 0} {
		if got, err := st.PrunedBelow(ctx, replica); err != nil || got != want {
			t.Errorf("PrunedBelow(%s): got %d, %v; want %d", replica, got, err, want)
		}
	}
	if n, err := st.PruneReceipts(ctx, 5); err != nil || n != 0 {
		t.Fatalf("second prune: got %d, %v; want 0", n, err)
	}
}

// recordsPruneReceiptsAcked: receipts carrying Acked (the lowest counter
// of their push) are pruned below the highest Acked, whatever keep says:
// a push whose counters spread far apart keeps every receipt a retry of
// it needs, and the receipts of pushes the device has moved past go.
func (s suite) recordsPruneReceiptsAcked(t *testing.T) {
	st := s.open(t)
	ctx := t.Context()
	var first, second []storage.Receipt
	for i := uint64(1); i <= 10; i++ {
		first = append(first, storage.Receipt{Replica: "dev1", Counter: i, Answer: []byte("a"), Acked: 1})
	}
	for _, c := range []uint64{11, 15_000} { // one push, far apart
		second = append(second, storage.Receipt{Replica: "dev1", Counter: c, Answer: []byte("b"), Acked: 11})
	}
	mustCommit(t, st, storage.Batch{Receipts: first})
	if n, err := st.PruneReceipts(ctx, 5); err != nil || n != 0 {
		t.Fatalf("prune after the first push: got %d, %v; want 0 (the device may still retry all of it)", n, err)
	}
	mustCommit(t, st, storage.Batch{Receipts: second})
	n, err := st.PruneReceipts(ctx, 5)
	if err != nil || n != 10 {
		t.Fatalf("prune: got %d, %v; want 10 (the first push's, below Acked 11)", n, err)
	}
	for c, kept := range map[uint64]bool{1: false, 10: false, 11: true, 15_000: true} {
		if _, err := st.Receipt(ctx, "dev1", c); (err == nil) != kept {
			t.Errorf("receipt dev1/%d after prune: %v, want kept=%v", c, err, kept)
		}
	}
	if got, err := st.PrunedBelow(ctx, "dev1"); err != nil || got != 11 {
		t.Errorf("PrunedBelow(dev1): got %d, %v; want 11", got, err)
	}
}

func (s suite) recordsReceipts(t *testing.T) {
	st := s.open(t)
	ctx := t.Context()
	mustCommit(t, st, storage.Batch{Pairing: "p1",
		Puts:     []storage.Put{put("a", 0, "a1")},
		Receipts: []storage.Receipt{{Replica: "dev1", Counter: 1, Answer: []byte("applied a")}},
	})
	got, err := st.Receipt(ctx, "dev1", 1)
	wantErr(t, "receipt dev1/1", err, nil)
	equal(t, "receipt dev1/1", string(got), "applied a")

	t.Run("receipts only, no pairing", func(t *testing.T) {
		c := mustCommit(t, st, storage.Batch{Receipts: []storage.Receipt{
			{Replica: "dev1", Counter: 2, Answer: []byte("rejected 2")},
			{Replica: "dev1", Counter: 3, Answer: []byte("rejected 3")},
		}})
		if len(c.Seqs) != 0 || c.Head != 0 {
			t.Fatalf("committed: got %+v, want no seqs and head 0", c)
		}
		got, err := st.Receipt(ctx, "dev1", 3)
		wantErr(t, "receipt dev1/3", err, nil)
		equal(t, "receipt dev1/3", string(got), "rejected 3")
		equal(t, "head p1", mustHead(t, st, "p1"), 1)
	})
	t.Run("receipts only, with pairing", func(t *testing.T) {
		c := mustCommit(t, st, storage.Batch{Pairing: "p1", Receipts: []storage.Receipt{
			{Replica: "dev2", Counter: 1, Answer: []byte("rejected")},
		}})
		if len(c.Seqs) != 0 || c.Head != 1 {
			t.Fatalf("committed: got %+v, want no seqs and head 1 (unchanged)", c)
		}
		equal(t, "head p1", mustHead(t, st, "p1"), 1)
		equal(t, "changes p1", brief(allChanges(t, st, "p1")), "[visits/a@1[p1]=a1]")
	})
	t.Run("written once", func(t *testing.T) {
		_, err := st.Commit(ctx, storage.Batch{Pairing: "p1",
			Puts:     []storage.Put{put("b", 0, "b1")},
			Receipts: []storage.Receipt{{Replica: "dev1", Counter: 1, Answer: []byte("second answer")}},
		})
		wantErr(t, "second commit of receipt dev1/1", err, storage.ErrConflict)
		got, err := st.Receipt(ctx, "dev1", 1)
		wantErr(t, "receipt dev1/1", err, nil)
		equal(t, "receipt dev1/1 after a duplicate", string(got), "applied a")
		_, err = st.Get(ctx, key("b"))
		wantErr(t, "get b of the refused batch", err, storage.ErrNotFound)
	})
	t.Run("keys are (replica, counter)", func(t *testing.T) {
		mustCommit(t, st, storage.Batch{Receipts: []storage.Receipt{
			{Replica: "dev3", Counter: 1, Answer: []byte("dev3/1")},
			{Replica: "dev1x", Counter: 1, Answer: []byte("dev1x/1")},
		}})
		for _, tc := range []struct {
			replica string
			counter uint64
			want    string
		}{
			{"dev1", 1, "applied a"}, {"dev3", 1, "dev3/1"}, {"dev1x", 1, "dev1x/1"},
			{"dev", 1, ""}, {"dev1", 99, ""}, {"dev4", 1, ""}, {"dev1", 0, ""},
		} {
			got, err := st.Receipt(ctx, tc.replica, tc.counter)
			what := fmt.Sprintf("receipt %s/%d", tc.replica, tc.counter)
			if tc.want == "" {
				wantErr(t, what, err, storage.ErrNotFound)
				continue
			}
			wantErr(t, what, err, nil)
			equal(t, what, string(got), tc.want)
		}
	})
}

func (s suite) recordsPairingImmutable(t *testing.T) {
	st := s.open(t)
	mustCommit(t, st, storage.Batch{Pairing: "p1", Puts: []storage.Put{put("a", 0, "a1")}})
	for _, expect := range []uint64{0, 1} {
		_, err := st.Commit(t.Context(), storage.Batch{Pairing: "p2", Puts: []storage.Put{put("a", expect, "moved")}})
		wantErr(t, fmt.Sprintf("put into another pairing with expect %d", expect), err, storage.ErrConflict)
	}
	sameRecord(t, "get a", mustGet(t, st, key("a")),
		storage.Record{Key: key("a"), Pairing: "p1", Seq: 1, Data: []byte("a1")})
	equal(t, "head p2", mustHead(t, st, "p2"), 0)
	equal(t, "changes p2", brief(allChanges(t, st, "p2")), "[]")
}

// tenRecords commits r1…r10 to p1 (seqs 1…10, 100 bytes of data each).
func tenRecords(t *testing.T, st storage.Store) {
	var puts []storage.Put
	for i := 1; i <= 10; i++ {
		puts = append(puts, storage.Put{Key: key(fmt.Sprintf("r%02d", i)), Data: bytes.Repeat([]byte{byte('a' + i)}, 100)})
	}
	mustCommit(t, st, storage.Batch{Pairing: "p1", Puts: puts})
}

func (s suite) recordsPaging(t *testing.T) {
	st := s.open(t)
	tenRecords(t, st)
	for _, tc := range []struct {
		name     string
		pairing  string
		after    uint64
		limit    storage.PageLimit
		wantSeqs []uint64
		wantNext uint64
		wantMore bool
	}{
		{"empty pairing", "p0", 0, storage.PageLimit{}, []uint64{}, 0, false},
		{"empty pairing, cursor set", "p0", 5, storage.PageLimit{}, []uint64{}, 5, false},
		{"after head", "p1", 10, storage.PageLimit{}, []uint64{}, 10, false},
		{"after beyond head", "p1", 25, storage.PageLimit{}, []uint64{}, 25, false},
		{"after max uint64", "p1", math.MaxUint64, storage.PageLimit{}, []uint64{}, math.MaxUint64, false},
		{"all", "p1", 0, storage.PageLimit{}, []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 10, false},
		{"limit 1", "p1", 0, storage.PageLimit{Records: 1}, []uint64{1}, 1, true},
		{"limit 1 in the middle", "p1", 4, storage.PageLimit{Records: 1}, []uint64{5}, 5, true},
		{"limit 1 at the end", "p1", 9, storage.PageLimit{Records: 1}, []uint64{10}, 10, false},
		{"exact boundary, first page", "p1", 0, storage.PageLimit{Records: 5}, []uint64{1, 2, 3, 4, 5}, 5, true},
		{"exact boundary, last page", "p1", 5, storage.PageLimit{Records: 5}, []uint64{6, 7, 8, 9, 10}, 10, false},
		{"limit over the rest", "p1", 7, storage.PageLimit{Records: 5}, []uint64{8, 9, 10}, 10, false},
		{"limit equals the rest", "p1", 0, storage.PageLimit{Records: 10}, []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 10, false},
		{"bytes exactly three records", "p1", 0, storage.PageLimit{Bytes: 300}, []uint64{1, 2, 3}, 3, true},
		{"bytes one short of three", "p1", 0, storage.PageLimit{Bytes: 299}, []uint64{1, 2}, 2, true},
		{"bytes exactly the rest", "p1", 7, storage.PageLimit{Bytes: 300}, []uint64{8, 9, 10}, 10, false},
		{"bytes below one record", "p1", 0, storage.PageLimit{Bytes: 1}, []uint64{1}, 1, true},
		{"bytes below one record, last", "p1", 9, storage.PageLimit{Bytes: 1}, []uint64{10}, 10, false},
		{"records limit first", "p1", 0, storage.PageLimit{Records: 2, Bytes: 1000}, []uint64{1, 2}, 2, true},
		{"bytes limit first", "p1", 0, storage.PageLimit{Records: 5, Bytes: 250}, []uint64{1, 2}, 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := mustChanges(t, st, tc.pairing, tc.after, tc.limit)
			checkPage(t, p, tc.after)
			equal(t, "seqs", seqs(p.Records), tc.wantSeqs)
			equal(t, "Next", p.Next, tc.wantNext)
			equal(t, "More", p.More, tc.wantMore)
		})
	}
}

func (s suite) recordsPagingBigRecord(t *testing.T) {
	st := s.open(t)
	mustCommit(t, st, storage.Batch{Pairing: "p1", Puts: []storage.Put{
		put("small1", 0, "0123456789"),
		put("big", 0, strings.Repeat("x", 5000)),
		put("small2", 0, "0123456789"),
	}})
	limit := storage.PageLimit{Bytes: 1000}
	for _, tc := range []struct {
		after    uint64
		wantSeqs []uint64
		wantMore bool
	}{
		{0, []uint64{1}, true},
		{1, []uint64{2}, true}, // over the byte limit, returned alone
		{2, []uint64{3}, false},
	} {
		t.Run(fmt.Sprintf("after=%d", tc.after), func(t *testing.T) {
			p := mustChanges(t, st, "p1", tc.after, limit)
			checkPage(t, p, tc.after)
			equal(t, "seqs", seqs(p.Records), tc.wantSeqs)
			equal(t, "More", p.More, tc.wantMore)
		})
	}
}

func (s suite) recordsPagingWalk(t *testing.T) {
	st := s.open(t)
	tenRecords(t, st)
	// Move r03 and r07 to the end; the feed then holds 10 records, seqs
	// 1 2 4 5 6 8 9 10 11 12.
	mustCommit(t, st, storage.Batch{Pairing: "p1", Puts: []storage.Put{
		{Key: key("r03"), Expect: 3, Data: bytes.Repeat([]byte("3"), 100)},
		{Key: key("r07"), Expect: 7, Data: bytes.Repeat([]byte("7"), 100)},
	}})
	want := []uint64{1, 2, 4, 5, 6, 8, 9, 10, 11, 12}
	for _, limit := range []storage.PageLimit{
		{Records: 1}, {Records: 3}, {Records: 4}, {Records: 10}, {Records: 11},
		{Bytes: 1}, {Bytes: 250}, {Bytes: 400}, {Records: 2, Bytes: 150},
	} {
		t.Run(fmt.Sprintf("records=%d,bytes=%d", limit.Records, limit.Bytes), func(t *testing.T) {
			var got []uint64
			var after uint64
			for page := 0; ; page++ {
				if page > len(want) {
					t.Fatalf("walk: got more than %d pages, want at most %d", page, len(want))
				}
				p := mustChanges(t, st, "p1", after, limit)
				checkPage(t, p, after)
				got = append(got, seqs(p.Records)...)
				if (limit.Records > 0 && len(p.Records) > limit.Records) || len(p.Records) == 0 {
					t.Fatalf("page after %d: got %d records, want 1…%d", after, len(p.Records), limit.Records)
				}
				if limit.Bytes > 0 && len(p.Records) > 1 {
					if n := dataBytes(p.Records); n > limit.Bytes {
						t.Fatalf("page after %d: got %d bytes of data in %d records, want at most %d", after, n, len(p.Records), limit.Bytes)
					}
				}
				if p.More {
					// A page stops only at a limit: the next record (100
					// bytes, like all here) would not have fit.
					full := (limit.Records > 0 && len(p.Records) == limit.Records) ||
						(limit.Bytes > 0 && dataBytes(p.Records)+100 > limit.Bytes)
					if !full {
						t.Fatalf("page after %d: got %d records (%d bytes) and More, want a page filled to its limit", after, len(p.Records), dataBytes(p.Records))
					}
				}
				after = p.Next
				wantMore := len(got) < len(want)
				equal(t, fmt.Sprintf("More of the page after %d", after), p.More, wantMore)
				if !p.More {
					break
				}
			}
			equal(t, "seqs of the walk", got, want)
		})
	}
}

func dataBytes(rs []storage.Record) int {
	n := 0
	for _, r := range rs {
		n += len(r.Data)
	}
	return n
}

func (s suite) recordsPagingDefaults(t *testing.T) {
	t.Run("500 records", func(t *testing.T) {
		st := s.open(t)
		puts := make([]storage.Put, 501)
		for i := range puts {
			puts[i] = put(fmt.Sprintf("r%03d", i), 0, "0123456789")
		}
		mustCommit(t, st, storage.Batch{Pairing: "p1", Puts: puts})
		p := mustChanges(t, st, "p1", 0, storage.PageLimit{})
		if len(p.Records) != 500 || !p.More || p.Next != 500 {
			t.Fatalf("default page: got %d records, More %v, Next %d; want 500, true, 500", len(p.Records), p.More, p.Next)
		}
		p = mustChanges(t, st, "p1", 500, storage.PageLimit{})
		equal(t, "second page", seqs(p.Records), []uint64{501})
		equal(t, "second page More", p.More, false)
	})
	t.Run("1 MiB", func(t *testing.T) {
		st := s.open(t)
		var puts []storage.Put
		for i := range 3 {
			puts = append(puts, storage.Put{Key: key(fmt.Sprint("big", i)), Data: bytes.Repeat([]byte{'a'}, 400<<10)})
		}
		mustCommit(t, st, storage.Batch{Pairing: "p1", Puts: puts})
		p := mustChanges(t, st, "p1", 0, storage.PageLimit{})
		equal(t, "default page of 400 KiB records", seqs(p.Records), []uint64{1, 2})
		equal(t, "More", p.More, true)
	})
}

func (s suite) recordsOwnership(t *testing.T) {
	st := s.open(t)
	data := []byte("original")
	answer := []byte("answer")
	mustCommit(t, st, storage.Batch{Pairing: "p1",
		Puts:     []storage.Put{{Key: key("a"), Data: data}},
		Receipts: []storage.Receipt{{Replica: "dev1", Counter: 1, Answer: answer}},
	})
	copy(data, "XXXXXXXX")
	copy(answer, "XXXXXX")
	r := mustGet(t, st, key("a"))
	equal(t, "data after the caller reused its buffer", string(r.Data), "original")
	copy(r.Data, "YYYYYYYY")
	p := mustChanges(t, st, "p1", 0, storage.PageLimit{})
	equal(t, "changes after the caller changed a returned record", string(p.Records[0].Data), "original")
	copy(p.Records[0].Data, "ZZZZZZZZ")
	equal(t, "get after the caller changed a page", string(mustGet(t, st, key("a")).Data), "original")
	a, err := st.Receipt(t.Context(), "dev1", 1)
	wantErr(t, "receipt", err, nil)
	equal(t, "answer after the caller reused its buffer", string(a), "answer")
	copy(a, "QQQQQQ")
	a, _ = st.Receipt(t.Context(), "dev1", 1)
	equal(t, "answer after the caller changed a returned one", string(a), "answer")
}

func (s suite) recordsInvalid(t *testing.T) {
	st := s.open(t)
	mustCommit(t, st, storage.Batch{Pairing: "p1", Puts: []storage.Put{put("a", 0, "a1")}})
	for _, tc := range []struct {
		name  string
		batch storage.Batch
		want  error // nil: any error will do
	}{
		{"puts without a pairing", storage.Batch{Puts: []storage.Put{put("x", 0, "x1")}}, storage.ErrInvalid},
		{"empty id", storage.Batch{Pairing: "p1", Puts: []storage.Put{put("x", 0, "x1"), put("", 0, "")}}, storage.ErrInvalid},
		{"empty collection", storage.Batch{Pairing: "p1", Puts: []storage.Put{
			put("x", 0, "x1"), {Key: storage.Key{ID: "y"}},
		}}, storage.ErrInvalid},
		{"same key twice", storage.Batch{Pairing: "p1", Puts: []storage.Put{put("x", 0, "x1"), put("x", 0, "x2")}}, nil},
		{"same receipt twice", storage.Batch{Pairing: "p1",
			Puts: []storage.Put{put("x", 0, "x1")},
			Receipts: []storage.Receipt{
				{Replica: "dev1", Counter: 1, Answer: []byte("1")},
				{Replica: "dev1", Counter: 1, Answer: []byte("2")},
			}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := state(t, st, []string{"p1", ""}, []string{"a", "x", "y"}, map[string]uint64{"dev1": 1})
			_, err := st.Commit(t.Context(), tc.batch)
			if err == nil {
				t.Fatalf("commit: got no error, want one")
			}
			if tc.want != nil {
				wantErr(t, "commit", err, tc.want)
			}
			if after := state(t, st, []string{"p1", ""}, []string{"a", "x", "y"}, map[string]uint64{"dev1": 1}); after != before {
				t.Fatalf("state after a refused commit:\ngot\n%s\nwant (unchanged)\n%s", after, before)
			}
		})
	}
}

func (s suite) recordsCanceled(t *testing.T) {
	st := s.open(t)
	ctx := canceled(t)
	_, err := st.Commit(ctx, storage.Batch{Pairing: "p1",
		Puts:     []storage.Put{put("a", 0, "a1")},
		Receipts: []storage.Receipt{{Replica: "dev1", Counter: 1}},
	})
	wantErr(t, "commit with a canceled context", err, context.Canceled)
	equal(t, "head", mustHead(t, st, "p1"), 0)
	_, err = st.Receipt(t.Context(), "dev1", 1)
	wantErr(t, "receipt of the canceled commit", err, storage.ErrNotFound)
	if _, err := st.Get(ctx, key("a")); err == nil {
		t.Fatalf("get with a canceled context: got no error, want one")
	}
}
