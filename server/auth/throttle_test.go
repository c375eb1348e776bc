package auth

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pairsync/pairsync/storage/bolt"
)

// newTestThrottle is a Throttle on a fresh bolt file with a clock the test
// moves.
func newTestThrottle(t *testing.T, now *time.Time) (*Throttle, *bolt.DB) {
	t.Helper()
	db, err := bolt.Open(t.Context(), bolt.Config{Path: filepath.Join(t.TempDir(), "t.db"), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return NewThrottle(db, 15*time.Minute, func() time.Time { return *now }), db
}

func TestThrottle(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	th, _ := newTestThrottle(t, &now)
	ctx := t.Context()
	acct := Limit{Key: "acct|ip", Max: 3}
	ip := Limit{Key: "ip", Max: 5}
	for i := 1; i <= 3; i++ {
		if _, ok, err := th.Reserve(ctx, acct, ip); !ok || err != nil {
			t.Fatalf("attempt %d: got ok=%v err=%v, want counted; 3 attempts allowed", i, ok, err)
		}
	}
	wait, ok, err := th.Reserve(ctx, acct, ip)
	if ok || err != nil || wait != 15*time.Minute {
		t.Fatalf("after 3 attempts: got ok=%v wait=%v err=%v, want refused for 15m", ok, wait, err)
	}
	now = now.Add(10 * time.Minute)
	if wait, _, _ := th.Reserve(ctx, acct); wait != 5*time.Minute {
		t.Fatalf("got wait %v, want 5m left", wait)
	}
	now = now.Add(5 * time.Minute)
	if _, ok, _ := th.Reserve(ctx, acct, ip); !ok {
		t.Fatal("still refused after the window; want the window to lift")
	}
}

// TestThrottleKeysHashed: the store never holds a key as typed (a login
// may be a phone number).
func TestThrottleKeysHashed(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	th, db := newTestThrottle(t, &now)
	if _, _, err := th.Reserve(t.Context(), Limit{Key: "a|?13800138000|10.0.0.1", Max: 3}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(db.Path())
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("13800138000")) {
		t.Fatal("the store's file holds the phone number typed as a login; want only its hash")
	}
}

// TestThrottleReserveIsAtomic: 60 concurrent attempts against a limit of 3
// get exactly 3 reservations; a refund gives one back.
func TestThrottleReserveIsAtomic(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	th, _ := newTestThrottle(t, &now)
	ctx := t.Context()
	limits := []Limit{{Key: "acct|ip", Max: 3}, {Key: "ip", Max: 30}}
	var granted atomic.Int32
	var wg sync.WaitGroup
	for range 60 {
		wg.Go(func() {
			if _, ok, err := th.Reserve(ctx, limits...); ok && err == nil {
				granted.Add(1)
			}
		})
	}
	wg.Wait()
	if n := granted.Load(); n != 3 {
		t.Fatalf("got %d reservations of 60 concurrent attempts, want 3", n)
	}
	if wait, ok, _ := th.Reserve(ctx, limits...); ok || wait != 15*time.Minute {
		t.Fatalf("a 4th attempt: got ok=%v wait=%v, want refused for 15m", ok, wait)
	}
	if err := th.Refund(ctx, limits...); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := th.Reserve(ctx, limits...); !ok {
		t.Fatal("after a refund: refused, want one more attempt")
	}
}

// TestThrottleEvictionKeepsBlockedCounters: fresh keys never free a blocked
// counter (nothing is evicted), and Prune deletes only ended windows.
func TestThrottleEvictionKeepsBlockedCounters(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	th, _ := newTestThrottle(t, &now)
	ctx := t.Context()
	victim := Limit{Key: "acct|attacker-ip", Max: 3}
	for range 3 {
		th.Reserve(ctx, victim)
	}
	for i := range 500 {
		now = now.Add(time.Millisecond)
		if _, _, err := th.Reserve(ctx, Limit{Key: "chaff-" + string(rune('a'+i%26)) + time.Duration(i).String(), Max: 3}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := th.Prune(ctx); err != nil || n != 0 {
		t.Fatalf("prune within the window: got %d, %v; want 0 deleted", n, err)
	}
	if _, ok, _ := th.Reserve(ctx, victim); ok {
		t.Fatal("after 500 fresh keys and a prune the blocked counter let an attempt through; want it kept")
	}
	now = now.Add(16 * time.Minute)
	if n, err := th.Prune(ctx); err != nil || n != 501 {
		t.Fatalf("prune after the window: got %d, %v; want 501 deleted", n, err)
	}
}
