package storagetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pairsync/pairsync/storage"
)

func (s suite) leases(t *testing.T) {
	t.Run("Expiry", s.leasesExpiry)
	t.Run("Renew", s.leasesRenew)
	t.Run("Release", s.leasesRelease)
	t.Run("Names", s.leasesNames)
	t.Run("Invalid", s.leasesInvalid)
	t.Run("ConcurrentAcquire", s.leasesConcurrentAcquire)
	t.Run("Closed", s.leasesClosed)
}

// leaseStep is one call of a lease case: holder acquires name at t0+at for
// ttl (or releases it) and, for an acquire, whether it then holds it.
type leaseStep struct {
	holder  string
	name    string // "" means "job"
	release bool
	at      time.Duration
	ttl     time.Duration
	want    bool
}

// runLeaseSteps runs steps in order on one fresh store.
func (s suite) runLeaseSteps(t *testing.T, steps []leaseStep) {
	t.Helper()
	ls := s.open(t)
	for i, st := range steps {
		name := st.name
		if name == "" {
			name = "job"
		}
		if st.release {
			if err := ls.ReleaseLease(t.Context(), name, st.holder); err != nil {
				t.Fatalf("step %d: %s releases %s: got error %v, want none", i, st.holder, name, err)
			}
			continue
		}
		got, err := ls.AcquireLease(t.Context(), name, st.holder, t0.Add(st.at), st.ttl)
		if err != nil {
			t.Fatalf("step %d: %s acquires %s at t0+%v: got error %v, want none", i, st.holder, name, st.at, err)
		}
		if got != st.want {
			t.Fatalf("step %d: %s acquires %s at t0+%v for %v: got %v, want %v", i, st.holder, name, st.at, st.ttl, got, st.want)
		}
	}
}

// leasesExpiry: a free lease is taken; another holder is refused until the
// expiry, which is the first instant the lease is free (expiry ≤ now).
func (s suite) leasesExpiry(t *testing.T) {
	s.runLeaseSteps(t, []leaseStep{
		{holder: "a", at: 0, ttl: time.Minute, want: true},
		{holder: "b", at: 0, ttl: time.Minute, want: false},
		{holder: "b", at: 30 * time.Second, ttl: time.Minute, want: false},
		{holder: "b", at: time.Minute - time.Millisecond, ttl: time.Minute, want: false},
		{holder: "b", at: time.Minute, ttl: time.Minute, want: true}, // expiry exactly at now
		{holder: "a", at: time.Minute + time.Second, ttl: time.Minute, want: false},
		{holder: "a", at: 2*time.Minute - time.Millisecond, ttl: time.Minute, want: false},
		{holder: "a", at: 3 * time.Minute, ttl: time.Minute, want: true}, // long expired
	})
}

// leasesRenew: the holder's acquire renews the lease from its own now, also
// to a shorter ttl and after its lease expired unclaimed.
func (s suite) leasesRenew(t *testing.T) {
	s.runLeaseSteps(t, []leaseStep{
		{holder: "a", at: 0, ttl: time.Minute, want: true},
		{holder: "a", at: 50 * time.Second, ttl: time.Minute, want: true}, // now until t0+1m50s
		{holder: "b", at: time.Minute, ttl: time.Minute, want: false},
		{holder: "b", at: time.Minute + 49*time.Second, ttl: time.Minute, want: false},
		{holder: "a", at: time.Minute + 49*time.Second, ttl: time.Second, want: true}, // shortened: until t0+1m50s
		{holder: "b", at: time.Minute + 50*time.Second, ttl: time.Minute, want: true},
		{holder: "a", at: time.Minute + 51*time.Second, ttl: time.Minute, want: false},
		// b's lease (until t0+2m50s) runs out unclaimed; b renews it late.
		{holder: "b", at: 10 * time.Minute, ttl: time.Minute, want: true},
		{holder: "a", at: 10*time.Minute + time.Second, ttl: time.Minute, want: false},
	})
}

// leasesRelease: releasing frees the lease at once; a release by another
// holder, or of an unknown lease, does nothing.
func (s suite) leasesRelease(t *testing.T) {
	s.runLeaseSteps(t, []leaseStep{
		{holder: "a", release: true}, // unknown lease
		{holder: "a", at: 0, ttl: time.Hour, want: true},
		{holder: "b", release: true}, // not b's
		{holder: "b", at: time.Second, ttl: time.Hour, want: false},
		{holder: "a", release: true},
		{holder: "b", at: 2 * time.Second, ttl: time.Hour, want: true},
		{holder: "a", release: true}, // no longer a's
		{holder: "a", at: 3 * time.Second, ttl: time.Hour, want: false},
		{holder: "b", release: true},
		{holder: "b", release: true}, // twice
		{holder: "a", at: 4 * time.Second, ttl: time.Hour, want: true},
	})
}

// leasesNames: leases of different names are independent, names and
// holders compare exactly.
func (s suite) leasesNames(t *testing.T) {
	s.runLeaseSteps(t, []leaseStep{
		{holder: "a", name: "sla", at: 0, ttl: time.Hour, want: true},
		{holder: "b", name: "gc", at: 0, ttl: time.Hour, want: true},
		{holder: "b", name: "sla", at: time.Second, ttl: time.Hour, want: false},
		{holder: "a", name: "gc", at: time.Second, ttl: time.Hour, want: false},
		{holder: "a", name: "SLA", at: time.Second, ttl: time.Hour, want: true},
		{holder: "A", name: "sla", at: time.Second, ttl: time.Hour, want: false},
		{holder: "a", name: "gc", release: true}, // not a's: nothing
		{holder: "a", name: "gc", at: 2 * time.Second, ttl: time.Hour, want: false},
		{holder: "b", name: "gc", release: true},
		{holder: "b", name: "sla", at: 3 * time.Second, ttl: time.Hour, want: false},
	})
}

// leasesInvalid: an empty name or holder, or a ttl ≤ 0, is
// storage.ErrInvalid and takes nothing.
func (s suite) leasesInvalid(t *testing.T) {
	ls := s.open(t)
	for _, tc := range []struct {
		name, lease, holder string
		ttl                 time.Duration
	}{
		{"empty name", "", "a", time.Minute},
		{"empty holder", "job", "", time.Minute},
		{"zero ttl", "job", "a", 0},
		{"negative ttl", "job", "a", -time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			held, err := ls.AcquireLease(t.Context(), tc.lease, tc.holder, t0, tc.ttl)
			wantErr(t, "acquire", err, storage.ErrInvalid)
			equal(t, "held after a refused acquire", held, false)
		})
	}
	held, err := ls.AcquireLease(t.Context(), "job", "b", t0, time.Minute)
	wantErr(t, "acquire after refused calls", err, nil)
	equal(t, "b holds the lease no refused call took", held, true)
}

// leasesConcurrentAcquire: holders racing for a free lease at the same
// instant: exactly one gets it.
func (s suite) leasesConcurrentAcquire(t *testing.T) {
	s.needConcurrency(t)
	ls := s.open(t)
	const racers, rounds = 8, 5
	for round := range rounds {
		name := fmt.Sprint("job", round)
		held := make([]bool, racers)
		errs := make([]error, racers)
		var wg sync.WaitGroup
		for i := range racers {
			wg.Go(func() {
				held[i], errs[i] = ls.AcquireLease(t.Context(), name, fmt.Sprint("h", i), t0, time.Minute)
			})
		}
		wg.Wait()
		winner := -1
		for i := range racers {
			if errs[i] != nil {
				t.Fatalf("round %d: acquire by h%d: got error %v, want none", round, i, errs[i])
			}
			if held[i] {
				if winner >= 0 {
					t.Fatalf("round %d: h%d and h%d both hold %s, want exactly one", round, winner, i, name)
				}
				winner = i
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: nobody holds %s, want exactly one holder", round, name)
		}
		// The winner is the one the store kept.
		for i := range racers {
			got, err := ls.AcquireLease(t.Context(), name, fmt.Sprint("h", i), t0.Add(time.Second), time.Minute)
			wantErr(t, "acquire after the race", err, nil)
			equal(t, fmt.Sprintf("round %d: h%d holds %s after the race (winner h%d)", round, i, name, winner), got, i == winner)
		}
	}
}

// leasesClosed: lease calls after Close fail with storage.ErrUnavailable.
func (s suite) leasesClosed(t *testing.T) {
	ls := s.open(t)
	if err := ls.Close(); err != nil {
		t.Fatalf("close: got error %v, want none", err)
	}
	_, err := ls.AcquireLease(t.Context(), "job", "a", t0, time.Minute)
	if !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("acquire after Close: got error %v, want ErrUnavailable", err)
	}
	err = ls.ReleaseLease(t.Context(), "job", "a")
	if !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("release after Close: got error %v, want ErrUnavailable", err)
	}
}
