package storagetest

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pairsync/pairsync/storage"
)

func (s suite) attempts(t *testing.T) {
	t.Run("Window", s.attemptsWindow)
	t.Run("Refund", s.attemptsRefund)
	t.Run("LongestWait", s.attemptsLongestWait)
	t.Run("Prune", s.attemptsPrune)
	t.Run("Invalid", s.attemptsInvalid)
	t.Run("ConcurrentReserve", s.attemptsConcurrentReserve)
	t.Run("Closed", s.attemptsClosed)
}

// at is t0 at whole milliseconds (stores keep milliseconds), plus d.
func at(d time.Duration) time.Time { return t0.Truncate(time.Millisecond).Add(d) }

const attemptWindow = 15 * time.Minute

func reserve(t *testing.T, st storage.Store, now time.Time, limits ...storage.AttemptLimit) (time.Duration, bool) {
	t.Helper()
	wait, ok, err := st.ReserveAttempt(t.Context(), now, attemptWindow, limits...)
	if err != nil {
		t.Fatalf("reserve at %v: got error %v, want none", now, err)
	}
	return wait, ok
}

// attemptsWindow: Max attempts pass in a window, the next is refused with
// the time left and counts nothing on any key, and the window's end lifts
// it.
func (s suite) attemptsWindow(t *testing.T) {
	st := s.open(t)
	acct, ip := storage.AttemptLimit{Key: "a|u1|ip", Max: 3}, storage.AttemptLimit{Key: "i|ip", Max: 5}
	for i := range 3 {
		if wait, ok := reserve(t, st, at(time.Duration(i)*time.Second), acct, ip); !ok {
			t.Fatalf("attempt %d: refused (wait %v), want counted", i+1, wait)
		}
	}
	wait, ok := reserve(t, st, at(3*time.Second), acct, ip)
	equal(t, "4th attempt refused", ok, false)
	equal(t, "4th attempt's wait", wait, attemptWindow-3*time.Second)
	// The refusal counted nothing on ip: two more pass there, then no more.
	for i := range 2 {
		if _, ok := reserve(t, st, at(4*time.Second), ip); !ok {
			t.Fatalf("ip attempt %d after the refusal: refused, want counted (a refusal counts nothing)", 4+i)
		}
	}
	if _, ok := reserve(t, st, at(5*time.Second), ip); ok {
		t.Fatal("6th attempt on ip (Max 5): counted, want refused")
	}
	wait, _ = reserve(t, st, at(10*time.Minute), acct)
	equal(t, "wait 10 minutes into the window", wait, 5*time.Minute)
	if wait, ok := reserve(t, st, at(attemptWindow), acct, ip); !ok {
		t.Fatalf("at the window's end: refused (wait %v), want a fresh window", wait)
	}
	// The fresh window started then: 2 more, then refused until it ends.
	reserve(t, st, at(attemptWindow+time.Second), acct)
	reserve(t, st, at(attemptWindow+time.Second), acct)
	wait, ok = reserve(t, st, at(attemptWindow+time.Minute), acct)
	equal(t, "refused in the fresh window", ok, false)
	equal(t, "wait in the fresh window", wait, attemptWindow-time.Minute)
	// Keys compare exactly.
	if _, ok := reserve(t, st, at(attemptWindow+time.Minute), storage.AttemptLimit{Key: "A|u1|ip", Max: 1}); !ok {
		t.Fatal("another key: refused, want counted")
	}
}

// attemptsRefund: a refund gives back one attempt of an open window, never
// goes below zero, and does nothing to an ended window.
func (s suite) attemptsRefund(t *testing.T) {
	st := s.open(t)
	l := storage.AttemptLimit{Key: "k", Max: 2}
	refund := func(now time.Time) {
		t.Helper()
		if err := st.RefundAttempt(t.Context(), now, attemptWindow, l); err != nil {
			t.Fatalf("refund: got error %v, want none", err)
		}
	}
	refund(at(0)) // an unknown key: nothing
	reserve(t, st, at(0), l)
	reserve(t, st, at(0), l)
	if _, ok := reserve(t, st, at(time.Second), l); ok {
		t.Fatal("3rd attempt (Max 2): counted, want refused")
	}
	refund(at(time.Second))
	if _, ok := reserve(t, st, at(2*time.Second), l); !ok {
		t.Fatal("after a refund: refused, want one more attempt")
	}
	if _, ok := reserve(t, st, at(2*time.Second), l); ok {
		t.Fatal("after the refunded attempt was used: counted, want refused")
	}
	refund(at(3 * time.Second))
	refund(at(3 * time.Second))
	refund(at(3 * time.Second)) // below zero: nothing
	for i := range 2 {
		if _, ok := reserve(t, st, at(4*time.Second), l); !ok {
			t.Fatalf("attempt %d after refunds to zero: refused, want counted", i+1)
		}
	}
	if _, ok := reserve(t, st, at(4*time.Second), l); ok {
		t.Fatal("3rd attempt after refunds to zero: counted, want refused (a count never goes below zero)")
	}
	refund(at(attemptWindow + time.Hour)) // the window has ended: nothing
	reserve(t, st, at(attemptWindow+time.Hour), l)
	reserve(t, st, at(attemptWindow+time.Hour), l)
	if _, ok := reserve(t, st, at(attemptWindow+time.Hour), l); ok {
		t.Fatal("a refund of an ended window counted in the next: want refused after 2")
	}
}

// attemptsLongestWait: when several limits are reached, the wait is the
// longest of theirs.
func (s suite) attemptsLongestWait(t *testing.T) {
	st := s.open(t)
	early, late := storage.AttemptLimit{Key: "early", Max: 1}, storage.AttemptLimit{Key: "late", Max: 1}
	reserve(t, st, at(0), early)
	reserve(t, st, at(5*time.Minute), late)
	for _, order := range [][]storage.AttemptLimit{{early, late}, {late, early}} {
		wait, ok := reserve(t, st, at(6*time.Minute), order...)
		equal(t, fmt.Sprintf("refused (%s first)", order[0].Key), ok, false)
		equal(t, fmt.Sprintf("wait (%s first)", order[0].Key), wait, attemptWindow-time.Minute)
	}
	if _, ok := reserve(t, st, at(attemptWindow), early); !ok {
		t.Fatal("early's window ended: refused, want counted (the refusals counted nothing)")
	}
}

// attemptsPrune: counters of windows started before the time are deleted,
// live ones (blocked ones too) are kept.
func (s suite) attemptsPrune(t *testing.T) {
	st := s.open(t)
	blocked := storage.AttemptLimit{Key: "blocked", Max: 1}
	for i := range 3 {
		reserve(t, st, at(time.Duration(i)*time.Minute), storage.AttemptLimit{Key: fmt.Sprint("old", i), Max: 3})
	}
	reserve(t, st, at(20*time.Minute), blocked)
	n, err := st.PruneAttempts(t.Context(), at(20*time.Minute).Add(-attemptWindow))
	wantErr(t, "prune", err, nil)
	equal(t, "pruned counters", n, 3)
	if _, ok := reserve(t, st, at(21*time.Minute), blocked); ok {
		t.Fatal("a blocked counter after a prune: counted, want still refused")
	}
	n, err = st.PruneAttempts(t.Context(), at(20*time.Minute).Add(-attemptWindow))
	wantErr(t, "prune again", err, nil)
	equal(t, "pruned counters the second time", n, 0)
}

// attemptsInvalid: what the contract forbids is storage.ErrInvalid.
func (s suite) attemptsInvalid(t *testing.T) {
	st := s.open(t)
	for _, tc := range []struct {
		name   string
		window time.Duration
		limits []storage.AttemptLimit
	}{
		{"no limits", attemptWindow, nil},
		{"empty key", attemptWindow, []storage.AttemptLimit{{Key: "", Max: 1}}},
		{"long key", attemptWindow, []storage.AttemptLimit{{Key: string(make([]byte, 1025)), Max: 1}}},
		{"zero max", attemptWindow, []storage.AttemptLimit{{Key: "k", Max: 0}}},
		{"zero window", 0, []storage.AttemptLimit{{Key: "k", Max: 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, ok, err := st.ReserveAttempt(t.Context(), at(0), tc.window, tc.limits...)
			wantErr(t, "reserve", err, storage.ErrInvalid)
			equal(t, "reserved", ok, false)
			wantErr(t, "refund", st.RefundAttempt(t.Context(), at(0), tc.window, tc.limits...), storage.ErrInvalid)
		})
	}
}

// attemptsConcurrentReserve: racing reservations never pass a Max: 60 on
// one account and client get 3; 60 on 60 accounts from one client get the
// client's 30 (SECURITY.md 14, across processes).
func (s suite) attemptsConcurrentReserve(t *testing.T) {
	s.needConcurrency(t)
	st := s.open(t)
	race := func(key func(i int) string) int {
		var granted atomic.Int32
		var wg sync.WaitGroup
		errs := make([]error, 60)
		for i := range 60 {
			wg.Go(func() {
				_, ok, err := st.ReserveAttempt(t.Context(), at(0), attemptWindow,
					storage.AttemptLimit{Key: key(i), Max: 3}, storage.AttemptLimit{Key: "i|" + key(-1), Max: 30})
				errs[i] = err
				if ok {
					granted.Add(1)
				}
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("concurrent reserve: got error %v, want none", err)
		}
		return int(granted.Load())
	}
	equal(t, "granted of 60 racing on one account", race(func(int) string { return "a|one|ip1" }), 3)
	equal(t, "granted of 60 racing on 60 accounts", race(func(i int) string {
		if i < 0 {
			return "ip2"
		}
		return fmt.Sprint("a|", i, "|ip2")
	}), 30)
}

// attemptsClosed: calls after Close fail with storage.ErrUnavailable.
func (s suite) attemptsClosed(t *testing.T) {
	st := s.open(t)
	if err := st.Close(); err != nil {
		t.Fatalf("close: got error %v, want none", err)
	}
	l := storage.AttemptLimit{Key: "k", Max: 1}
	_, _, err := st.ReserveAttempt(t.Context(), at(0), attemptWindow, l)
	wantErr(t, "reserve after Close", err, storage.ErrUnavailable)
	wantErr(t, "refund after Close", st.RefundAttempt(t.Context(), at(0), attemptWindow, l), storage.ErrUnavailable)
	_, err = st.PruneAttempts(t.Context(), at(0))
	wantErr(t, "prune after Close", err, storage.ErrUnavailable)
}
