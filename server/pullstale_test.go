package server

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/syncproto"
)

// staleHeadOnce is a store whose first ordinary head read of a pairing
// (Head, or its answer in HeadsOf, which a pull reads heads with) comes
// from a lagging node, as a new primary's may just after a failover:
// behind by one commit, once armed (the failover happens then: a pull
// reads every head it syncs, from cursor 0 too). Confirmed reads return
// confirm (the store's own ConfirmedHead when nil).
type staleHeadOnce struct {
	storage.Store
	pairing string
	armed   atomic.Bool
	once    sync.Once
	confirm func(ctx context.Context, pairing string) (uint64, error)
	stale   bool // a stale head was returned
}

func (s *staleHeadOnce) Head(ctx context.Context, pairing string) (uint64, error) {
	h, err := s.Store.Head(ctx, pairing)
	if err == nil && pairing == s.pairing && h > 0 && s.armed.Load() {
		s.once.Do(func() { h, s.stale = h-1, true })
	}
	return h, err
}

func (s *staleHeadOnce) HeadsOf(ctx context.Context, pairings []string) ([]storage.PairingHead, error) {
	hs, err := s.Store.HeadsOf(ctx, pairings)
	for i := range hs {
		if err == nil && hs[i].Pairing == s.pairing && hs[i].Seq > 0 && s.armed.Load() {
			s.once.Do(func() { hs[i].Seq, s.stale = hs[i].Seq-1, true })
		}
	}
	return hs, err
}

func (s *staleHeadOnce) ConfirmedHead(ctx context.Context, pairing string) (uint64, error) {
	if s.confirm != nil {
		return s.confirm(ctx, pairing)
	}
	return s.Store.ConfirmedHead(ctx, pairing)
}

// TestPullStaleHeadAfterFailover: a pull whose cursor is ahead of a head
// read from a lagging node confirms the head before telling the device to
// read the pairing again: a confirmed head at or past the cursor serves the
// pull as usual (no needless resync); a head that cannot be confirmed now
// is a 503 with Retry-After; a confirmed head still behind the cursor (a
// database restored from an older backup) is a resync, as before.
func TestPullStaleHeadAfterFailover(t *testing.T) {
	for _, tc := range []struct {
		name       string
		confirm    func(ctx context.Context, pairing string) (uint64, error)
		ahead      uint64 // added to the device's cursor
		wantStatus int
		wantResync bool
	}{
		{name: "stale read, confirmed head", wantStatus: 200},
		{name: "stale read, no confirmation", wantStatus: 503,
			confirm: func(context.Context, string) (uint64, error) {
				return 0, fmt.Errorf("no primary: %w", storage.ErrUnavailable)
			}},
		{name: "cursor from a lost database", ahead: 5, wantStatus: 200, wantResync: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newIDEnv(t)
			pairingsFixture(t, e)
			hooked := &staleHeadOnce{Store: e.db, pairing: "p1", confirm: tc.confirm}
			s2, err := New(Config{}, Deps{Store: hooked, Photos: e.s.photos, Now: e.now, PasswordParams: fastPasswords, ProtocolOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			other := &idEnv{t: t, s: s2, db: e.db, base: serve(t, s2), units: e.units, users: e.users}
			offA := e.device(t, "officerA")
			conA := other.device(t, "adminA")
			offA.push(offA.set("visits", "v1", "p1", map[string]any{"notes": "一"}))
			offA.push(offA.set("visits", "v2", "p1", map[string]any{"notes": "二"}))
			conA.pull() // cursor p1 at the head, through the hooked server: no stale read yet
			hooked.armed.Store(true)
			cursor := maps.Clone(conA.cursor)
			cursor["p1"] += tc.ahead
			body, _ := syncproto.Encode(&syncproto.PullRequest{V: 1, Cursor: cursor})
			r := other.call("POST", "/v1/sync/pull", conA.token, body)
			if !hooked.stale && tc.ahead == 0 {
				t.Fatal("the store never returned its stale head: the test did not test")
			}
			if r.status != tc.wantStatus {
				t.Fatalf("pull with cursor %v: got %d %s, want %d", cursor, r.status, r.body, tc.wantStatus)
			}
			if r.status == 503 {
				if r.header.Get("Retry-After") == "" {
					t.Errorf("503: got no Retry-After, want one")
				}
				return
			}
			ans, err := syncproto.DecodePullAnswer(r.body, syncproto.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if got := slices.Contains(ans.Resync, "p1"); got != tc.wantResync {
				t.Errorf("resync p1: got %v (resync %v), want %v", got, ans.Resync, tc.wantResync)
			}
			if !tc.wantResync && ans.Cursor["p1"] != cursor["p1"] {
				t.Errorf("cursor p1: got %d, want %d (nothing new)", ans.Cursor["p1"], cursor["p1"])
			}
		})
	}
}
