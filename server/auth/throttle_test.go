package auth

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestThrottle(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	th := NewThrottle(15*time.Minute, 1000, func() time.Time { return now })
	acct := Limit{Key: "acct|ip", Max: 3}
	ip := Limit{Key: "ip", Max: 5}
	for i := 1; i <= 3; i++ {
		if _, blocked := th.Blocked(acct, ip); blocked {
			t.Fatalf("blocked before failure %d; want 3 failures allowed", i)
		}
		th.Fail(acct, ip)
	}
	wait, blocked := th.Blocked(acct, ip)
	if !blocked || wait != 15*time.Minute {
		t.Fatalf("after 3 failures: got blocked=%v wait=%v, want blocked for 15m", blocked, wait)
	}
	now = now.Add(10 * time.Minute)
	if wait, _ := th.Blocked(acct); wait != 5*time.Minute {
		t.Fatalf("got wait %v, want 5m left", wait)
	}
	now = now.Add(5 * time.Minute)
	if _, blocked := th.Blocked(acct, ip); blocked {
		t.Fatal("still blocked after the window; want the window to lift")
	}
	th.Fail(acct)
	th.Reset(acct.Key)
	if _, blocked := th.Blocked(Limit{Key: acct.Key, Max: 1}); blocked {
		t.Fatal("blocked after Reset")
	}
}

func TestThrottleBounded(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	th := NewThrottle(time.Minute, 100, func() time.Time { return now })
	for i := 0; i < 10_000; i++ {
		th.Fail(Limit{Key: string(rune(i + 0x4e00)), Max: 1})
	}
	if n := len(th.entries); n > 100 {
		t.Fatalf("got %d entries, want at most 100", n)
	}
}

// TestThrottleReserveIsAtomic: 60 concurrent attempts against a limit of 3
// get exactly 3 reservations (issue 18 M5); a refund gives one back.
func TestThrottleReserveIsAtomic(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	th := NewThrottle(15*time.Minute, 1000, func() time.Time { return now })
	limits := []Limit{{Key: "acct|ip", Max: 3}, {Key: "ip", Max: 30}}
	var granted atomic.Int32
	var wg sync.WaitGroup
	for range 60 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, ok := th.Reserve(limits...); ok {
				granted.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := granted.Load(); n != 3 {
		t.Fatalf("got %d reservations of 60 concurrent attempts, want 3", n)
	}
	if wait, ok := th.Reserve(limits...); ok || wait != 15*time.Minute {
		t.Fatalf("a 4th attempt: got ok=%v wait=%v, want refused for 15m", ok, wait)
	}
	th.Refund(limits...)
	if _, ok := th.Reserve(limits...); !ok {
		t.Fatal("after a refund: refused, want one more attempt")
	}
}

// TestThrottleEvictionKeepsBlockedCounters: flooding a full throttle with
// fresh keys never frees a blocked counter (no random eviction).
func TestThrottleEvictionKeepsBlockedCounters(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	th := NewThrottle(15*time.Minute, 50, func() time.Time { return now })
	victim := Limit{Key: "acct|attacker-ip", Max: 3}
	for range 3 {
		th.Fail(victim)
	}
	for i := range 5000 {
		now = now.Add(time.Millisecond)
		th.Fail(Limit{Key: fmt.Sprintf("chaff-%d", i), Max: 3})
		if _, blocked := th.Blocked(victim); !blocked {
			t.Fatalf("after %d fresh keys the blocked counter was dropped; want it kept", i+1)
		}
	}
	if n := len(th.entries); n > 50 {
		t.Fatalf("got %d entries, want at most 50", n)
	}
}
