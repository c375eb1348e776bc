package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/pairsync/pairsync/storage"
)

// key returns a record key in collection "visits".
func key(id string) storage.Key { return storage.Key{Collection: "visits", ID: id} }

// put returns a put of key(id) with data.
func put(id string, expect uint64, data string) storage.Put {
	return storage.Put{Key: key(id), Expect: expect, Data: []byte(data)}
}

// wantErr fails t unless err is (or wraps) want; want nil means no error.
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Fatalf("%s: got error %v, want none", what, err)
	case want != nil && !errors.Is(err, want):
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

func mustCommit(t *testing.T, s storage.Store, b storage.Batch) storage.Committed {
	t.Helper()
	c, err := s.Commit(t.Context(), b)
	if err != nil {
		t.Fatalf("commit %s: got error %v, want none", b.Pairing, err)
	}
	return c
}

func mustGet(t *testing.T, s storage.Store, k storage.Key) storage.Record {
	t.Helper()
	r, err := s.Get(t.Context(), k)
	if err != nil {
		t.Fatalf("get %v: got error %v, want none", k, err)
	}
	return r
}

func mustHead(t *testing.T, s storage.Store, pairing string) uint64 {
	t.Helper()
	h, err := s.Head(t.Context(), pairing)
	if err != nil {
		t.Fatalf("head %s: got error %v, want none", pairing, err)
	}
	return h
}

func mustChanges(t *testing.T, s storage.Store, pairing string, after uint64, limit storage.PageLimit) storage.Page {
	t.Helper()
	p, err := s.Changes(t.Context(), pairing, after, limit)
	if err != nil {
		t.Fatalf("changes %s after %d: got error %v, want none", pairing, after, err)
	}
	return p
}

// allChanges walks a pairing's whole feed with default limits, checking the
// invariants every page must keep.
func allChanges(t *testing.T, s storage.Store, pairing string) []storage.Record {
	t.Helper()
	var out []storage.Record
	var after uint64
	for pages := 0; ; pages++ {
		if pages > 1_000_000 {
			t.Fatalf("changes %s: feed never ends", pairing)
		}
		p := mustChanges(t, s, pairing, after, storage.PageLimit{})
		checkPage(t, p, after)
		out = append(out, p.Records...)
		after = p.Next
		if !p.More {
			return out
		}
	}
}

// checkPage checks a page's own invariants: ascending seqs after the
// cursor, Next the last seq (or the cursor when empty), More only with
// records.
func checkPage(t *testing.T, p storage.Page, after uint64) {
	t.Helper()
	prev := after
	for _, r := range p.Records {
		if r.Seq <= prev {
			t.Fatalf("page after %d: seq %d follows %d, want ascending seqs after the cursor", after, r.Seq, prev)
		}
		prev = r.Seq
	}
	if p.Next != prev {
		t.Fatalf("page after %d: got Next %d, want %d (last seq, or the cursor when empty)", after, p.Next, prev)
	}
	if len(p.Records) == 0 && p.More {
		t.Fatalf("page after %d: got an empty page with More, want More false", after)
	}
}

// brief renders records as "id@seq=data" for comparisons and messages.
func brief(rs []storage.Record) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		d := string(r.Data)
		if len(d) > 12 {
			d = fmt.Sprintf("%s…(%d bytes)", d[:8], len(d))
		}
		parts[i] = fmt.Sprintf("%s/%s@%d[%s]=%s", r.Collection, r.ID, r.Seq, r.Pairing, d)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// seqs returns the seqs of rs.
func seqs(rs []storage.Record) []uint64 {
	out := make([]uint64, len(rs))
	for i, r := range rs {
		out[i] = r.Seq
	}
	return out
}

// state is what a failed call must leave unchanged: heads, feeds, records
// and receipts, rendered as text.
func state(t *testing.T, s storage.Store, pairings []string, ids []string, receipts map[string]uint64) string {
	t.Helper()
	var b strings.Builder
	for _, p := range pairings {
		fmt.Fprintf(&b, "head %s=%d changes %s\n", p, mustHead(t, s, p), brief(allChanges(t, s, p)))
	}
	for _, id := range ids {
		r, err := s.Get(t.Context(), key(id))
		switch {
		case errors.Is(err, storage.ErrNotFound):
			fmt.Fprintf(&b, "get %s: not found\n", id)
		case err != nil:
			t.Fatalf("get %s: got error %v, want none or ErrNotFound", id, err)
		default:
			fmt.Fprintf(&b, "get %s: %s\n", id, brief([]storage.Record{r}))
		}
	}
	for _, replica := range slices.Sorted(maps.Keys(receipts)) {
		n := receipts[replica]
		for c := uint64(1); c <= n; c++ {
			a, err := s.Receipt(t.Context(), replica, c)
			switch {
			case errors.Is(err, storage.ErrNotFound):
				fmt.Fprintf(&b, "receipt %s/%d: not found\n", replica, c)
			case err != nil:
				t.Fatalf("receipt %s/%d: got error %v, want none or ErrNotFound", replica, c, err)
			default:
				fmt.Fprintf(&b, "receipt %s/%d: %q\n", replica, c, a)
			}
		}
	}
	return b.String()
}

// sameRecord fails t unless got equals want.
func sameRecord(t *testing.T, what string, got, want storage.Record) {
	t.Helper()
	if got.Key != want.Key || got.Pairing != want.Pairing || got.Seq != want.Seq || !bytes.Equal(got.Data, want.Data) {
		t.Fatalf("%s: got %s, want %s", what, brief([]storage.Record{got}), brief([]storage.Record{want}))
	}
}

// equal fails t unless got and want are deeply equal.
func equal[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: got %+v, want %+v", what, got, want)
	}
}

// canceled returns a context that is already canceled.
func canceled(t *testing.T) context.Context {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	return ctx
}
