package storagetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pairsync/pairsync/storage"
)

func (s suite) durability(t *testing.T) {
	t.Run("Reopen", s.durabilityReopen)
	t.Run("ReopenIdentity", s.durabilityIdentity)
}

// fullState renders everything the durability case wrote.
func fullState(t *testing.T, st storage.Store) string {
	t.Helper()
	var b strings.Builder
	b.WriteString(state(t, st, []string{"p1", "p2"}, []string{"a", "b", "c", "x"}, map[string]uint64{"dev1": 4, "dev2": 1}))
	users, more, err := st.ListUsers(t.Context(), storage.UserQuery{})
	if err != nil {
		t.Fatalf("list users: got error %v, want none", err)
	}
	for _, u := range users {
		fmt.Fprintf(&b, "user %s %s %s %s rev %d created %s\n", u.ID, u.Username, u.Phone, u.Name, u.Rev, u.CreatedAt.UTC())
	}
	fmt.Fprintf(&b, "more users: %v\n", more)
	devs, err := st.DevicesOf(t.Context(), "u1")
	if err != nil {
		t.Fatalf("devices of u1: got error %v, want none", err)
	}
	for _, d := range devs {
		fmt.Fprintf(&b, "device %s %s rev %d last seen %s\n", d.ID, d.Name, d.Rev, d.LastSeen.UTC())
	}
	return b.String()
}

// durabilityReopen writes, closes, reopens, and checks that everything
// acknowledged is there, nothing refused is, and sequences continue.
func (s suite) durabilityReopen(t *testing.T) {
	if s.opts.Reopen == nil {
		t.Skip("storagetest: durability case skipped: Options.Reopen is not set")
	}
	st := s.open(t)
	ctx := t.Context()
	mustCommit(t, st, storage.Batch{Pairing: "p1",
		Puts:     []storage.Put{put("a", 0, "a1"), put("b", 0, "b1")},
		Receipts: []storage.Receipt{{Replica: "dev1", Counter: 1, Answer: []byte("applied")}},
	})
	mustCommit(t, st, storage.Batch{Pairing: "p2",
		Puts:     []storage.Put{put("c", 0, "c1")},
		Receipts: []storage.Receipt{{Replica: "dev2", Counter: 1, Answer: []byte("applied")}},
	})
	mustCommit(t, st, storage.Batch{Pairing: "p1",
		Puts:     []storage.Put{put("a", 1, "a2")},
		Receipts: []storage.Receipt{{Replica: "dev1", Counter: 2, Answer: []byte("merged")}},
	})
	mustCommit(t, st, storage.Batch{Receipts: []storage.Receipt{{Replica: "dev1", Counter: 3, Answer: []byte("rejected")}}})
	_, err := st.Commit(ctx, storage.Batch{Pairing: "p1",
		Puts:     []storage.Put{put("x", 0, "x1"), put("b", 1, "stale")},
		Receipts: []storage.Receipt{{Replica: "dev1", Counter: 4, Answer: []byte("applied")}},
	})
	wantErr(t, "refused commit", err, storage.ErrConflict)
	u := mustCreateUser(t, st, storage.User{ID: "u1", Username: "alice", Phone: "111", Name: "Alice", CreatedAt: t0})
	u.Name = "Alice W."
	if _, err := st.UpdateUser(ctx, u); err != nil {
		t.Fatalf("update user: got error %v, want none", err)
	}
	d, err := st.CreateDevice(ctx, storage.Device{ID: "d1", UserID: "u1", Name: "phone", CreatedAt: t0})
	wantErr(t, "create device", err, nil)
	d.LastSeen = t0.Add(time.Hour)
	_, err = st.UpdateDevice(ctx, d)
	wantErr(t, "update device", err, nil)

	before := fullState(t, st)
	if err := st.Close(); err != nil {
		t.Fatalf("close: got error %v, want none", err)
	}
	re := s.opts.Reopen(t, st)
	if after := fullState(t, re); after != before {
		t.Fatalf("state after reopening:\ngot\n%s\nwant\n%s", after, before)
	}
	for _, want := range []string{"head p1=3", "get a: [visits/a@3[p1]=a2]", "get x: not found",
		"receipt dev1/3: \"rejected\"", "receipt dev1/4: not found", "user u1 alice 111 Alice W. rev 2", "device d1 phone rev 2"} {
		if !strings.Contains(before, want) {
			t.Fatalf("state before closing:\n%s\nwant it to hold %q", before, want)
		}
	}
	c := mustCommit(t, re, storage.Batch{Pairing: "p1", Puts: []storage.Put{put("b", 2, "b2")}})
	equal(t, "seqs after reopening", c.Seqs, []uint64{4})
	_, err = re.Commit(ctx, storage.Batch{Receipts: []storage.Receipt{{Replica: "dev1", Counter: 1}}})
	wantErr(t, "receipt written before reopening, again", err, storage.ErrConflict)
}

func (s suite) lifecycle(t *testing.T) {
	t.Run("Ping", func(t *testing.T) {
		st := s.open(t)
		if err := st.Ping(t.Context()); err != nil {
			t.Fatalf("ping: got error %v, want none", err)
		}
	})
	t.Run("Closed", s.lifecycleClosed)
	t.Run("ClosedIdentity", s.lifecycleClosedIdentity)
}

// lifecycleClosed checks that every call after Close fails, without a panic.
func (s suite) lifecycleClosed(t *testing.T) {
	st := s.open(t)
	mustCommit(t, st, storage.Batch{Pairing: "p1", Puts: []storage.Put{put("a", 0, "a1")}})
	mustCreateUser(t, st, storage.User{ID: "u1", Username: "alice"})
	if err := st.Close(); err != nil {
		t.Fatalf("close: got error %v, want none", err)
	}
	for _, tc := range []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"Ping", func(ctx context.Context) error { return st.Ping(ctx) }},
		{"Get", func(ctx context.Context) error { _, err := st.Get(ctx, key("a")); return err }},
		{"Head", func(ctx context.Context) error { _, err := st.Head(ctx, "p1"); return err }},
		{"Changes", func(ctx context.Context) error { _, err := st.Changes(ctx, "p1", 0, storage.PageLimit{}); return err }},
		{"Commit", func(ctx context.Context) error {
			_, err := st.Commit(ctx, storage.Batch{Pairing: "p1", Puts: []storage.Put{put("b", 0, "b1")}})
			return err
		}},
		{"Receipt", func(ctx context.Context) error { _, err := st.Receipt(ctx, "dev1", 1); return err }},
		{"CreateUser", func(ctx context.Context) error {
			_, err := st.CreateUser(ctx, storage.User{ID: "u2", Username: "bob"})
			return err
		}},
		{"User", func(ctx context.Context) error { _, err := st.User(ctx, "u1"); return err }},
		{"UserByLogin", func(ctx context.Context) error { _, err := st.UserByLogin(ctx, "alice"); return err }},
		{"UsersByPhone", func(ctx context.Context) error { _, err := st.UsersByPhone(ctx, "111"); return err }},
		{"UpdateUser", func(ctx context.Context) error {
			_, err := st.UpdateUser(ctx, storage.User{ID: "u1", Username: "alice", Rev: 1})
			return err
		}},
		{"ListUsers", func(ctx context.Context) error { _, _, err := st.ListUsers(ctx, storage.UserQuery{}); return err }},
		{"CountUsers", func(ctx context.Context) error { _, err := st.CountUsers(ctx); return err }},
		{"CreateDevice", func(ctx context.Context) error {
			_, err := st.CreateDevice(ctx, storage.Device{ID: "d1", UserID: "u1"})
			return err
		}},
		{"Device", func(ctx context.Context) error { _, err := st.Device(ctx, "d1"); return err }},
		{"UpdateDevice", func(ctx context.Context) error {
			_, err := st.UpdateDevice(ctx, storage.Device{ID: "d1", UserID: "u1", Rev: 1})
			return err
		}},
		{"DevicesOf", func(ctx context.Context) error { _, err := st.DevicesOf(ctx, "u1"); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(t.Context()); err == nil {
				t.Fatalf("%s after Close: got no error, want one", tc.name)
			}
		})
	}
}
