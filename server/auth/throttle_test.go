package auth

import (
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
