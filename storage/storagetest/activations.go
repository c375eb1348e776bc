package storagetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pairsync/pairsync/storage"
)

func (s suite) activations(t *testing.T) {
	t.Run("ConsumeOnce", s.activationsConsumeOnce)
	t.Run("Refused", s.activationsRefused)
	t.Run("Replace", s.activationsReplace)
	t.Run("CreateRefused", s.activationsCreateRefused)
	t.Run("ConcurrentConsume", s.activationsConcurrentConsume)
	t.Run("Live", s.activationsLive)
}

// code returns the code hash (hex SHA-256) of a named activation code.
func code(name string) string { return sum([]byte("code " + name)) }

// activation returns code name for user, created at t0 by "admin".
func activation(name, user string, expires time.Time) storage.Activation {
	return storage.Activation{CodeHash: code(name), UserID: user, CreatedBy: "admin", CreatedAt: t0, ExpiresAt: expires}
}

func mustCreateActivation(t *testing.T, as storage.Activations, a storage.Activation) {
	t.Helper()
	if err := as.CreateActivation(t.Context(), a); err != nil {
		t.Fatalf("create activation for %s: got error %v, want none", a.UserID, err)
	}
}

// consumed reports whether code name is accepted at now: "ok" or the error.
func consumed(t *testing.T, as storage.Activations, name string, now time.Time) string {
	t.Helper()
	a, err := as.ConsumeActivation(t.Context(), code(name), now)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return "not found"
	case err != nil:
		t.Fatalf("consume %s: got error %v, want none or ErrNotFound", name, err)
	case a.CodeHash != code(name):
		t.Fatalf("consume %s: got the activation of hash %s, want %s", name, a.CodeHash, code(name))
	}
	return "ok"
}

// sameActivation fails t unless got equals want, comparing times as
// instants.
func sameActivation(t *testing.T, what string, got, want storage.Activation) {
	t.Helper()
	g, w := got, want
	for _, p := range []*storage.Activation{&g, &w} {
		p.CreatedAt, p.ExpiresAt, p.UsedAt = p.CreatedAt.UTC(), p.ExpiresAt.UTC(), p.UsedAt.UTC()
	}
	if g != w {
		t.Fatalf("%s: got %+v, want %+v", what, got, want)
	}
}

func (s suite) activationsConsumeOnce(t *testing.T) {
	as := s.open(t)
	in := activation("x", "u1", t0.Add(72*time.Hour))
	mustCreateActivation(t, as, in)
	now := t0.Add(time.Hour)
	got, err := as.ConsumeActivation(t.Context(), code("x"), now)
	wantErr(t, "consume", err, nil)
	want := in
	want.UsedAt = now
	sameActivation(t, "consumed activation", got, want)
	equal(t, "second consume", consumed(t, as, "x", now.Add(time.Minute)), "not found")

	// A zero CreatedAt is stamped.
	z := activation("z", "u2", time.Now().Add(time.Hour))
	z.CreatedAt = time.Time{}
	before := time.Now().Add(-time.Second)
	mustCreateActivation(t, as, z)
	got, err = as.ConsumeActivation(t.Context(), code("z"), time.Now())
	wantErr(t, "consume z", err, nil)
	if got.CreatedAt.Before(before) || got.CreatedAt.After(time.Now().Add(time.Second)) {
		t.Fatalf("activation with zero CreatedAt: got CreatedAt %v, want about now", got.CreatedAt)
	}
}

func (s suite) activationsRefused(t *testing.T) {
	exp := t0.Add(time.Hour)
	for _, tc := range []struct {
		name  string
		setup []storage.Activation // after code "x" of u1, expiring at exp
		hash  string
		now   time.Time
		want  string
	}{
		{"valid", nil, code("x"), t0, "ok"},
		{"just before expiry", nil, code("x"), exp.Add(-time.Millisecond), "ok"},
		{"at expiry", nil, code("x"), exp, "not found"},
		{"after expiry", nil, code("x"), exp.Add(24 * time.Hour), "not found"},
		{"unknown", nil, code("nope"), t0, "not found"},
		{"malformed hash", nil, "x", t0, "not found"},
		{"empty hash", nil, "", t0, "not found"},
		{"replaced", []storage.Activation{activation("y", "u1", exp)}, code("x"), t0, "not found"},
		{"another user's newer code", []storage.Activation{activation("y", "u2", exp)}, code("x"), t0, "ok"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			as := s.open(t)
			mustCreateActivation(t, as, activation("x", "u1", exp))
			for _, a := range tc.setup {
				mustCreateActivation(t, as, a)
			}
			// LiveActivation answers as ConsumeActivation will, and
			// consumes nothing (asked twice).
			for range 2 {
				_, err := as.LiveActivation(t.Context(), tc.hash, tc.now)
				live := "ok"
				if errors.Is(err, storage.ErrNotFound) {
					live = "not found"
				} else if err != nil {
					t.Fatalf("live: got error %v, want none or ErrNotFound", err)
				}
				equal(t, "live", live, tc.want)
			}
			a, err := as.ConsumeActivation(t.Context(), tc.hash, tc.now)
			got := "ok"
			switch {
			case errors.Is(err, storage.ErrNotFound):
				got = "not found"
			case err != nil:
				t.Fatalf("consume: got error %v, want none or ErrNotFound", err)
			default:
				sameTime(t, "UsedAt", a.UsedAt, tc.now)
			}
			equal(t, "consume", got, tc.want)
		})
	}
}

func (s suite) activationsReplace(t *testing.T) {
	as := s.open(t)
	exp := t0.Add(time.Hour)
	now := t0.Add(time.Minute)
	mustCreateActivation(t, as, activation("a", "u1", exp))
	mustCreateActivation(t, as, activation("b", "u2", exp))
	mustCreateActivation(t, as, activation("c", "u1", exp))
	equal(t, "older code of u1", consumed(t, as, "a", now), "not found")
	equal(t, "code of u2", consumed(t, as, "b", now), "ok")
	// A replaced code stays dead when the newer one is used or replaced.
	mustCreateActivation(t, as, activation("d", "u1", exp))
	equal(t, "replaced code c", consumed(t, as, "c", now), "not found")
	equal(t, "newest code of u1", consumed(t, as, "d", now), "ok")
	equal(t, "first code of u1, after the newest was used", consumed(t, as, "a", now), "not found")
	// After a code was used, a new one works (a password reset).
	mustCreateActivation(t, as, activation("e", "u1", exp))
	equal(t, "code after a used one", consumed(t, as, "e", now), "ok")
	equal(t, "used code d", consumed(t, as, "d", now), "not found")
}

func (s suite) activationsCreateRefused(t *testing.T) {
	exp := t0.Add(time.Hour)
	for _, tc := range []struct {
		name       string
		activation storage.Activation
		want       error
	}{
		{"hash taken by the same user", activation("x", "u1", exp), storage.ErrExists},
		{"hash taken by another user", activation("x", "u2", exp), storage.ErrExists},
		{"empty hash", storage.Activation{UserID: "u1", ExpiresAt: exp}, storage.ErrInvalid},
		{"malformed hash", storage.Activation{CodeHash: "x", UserID: "u1", ExpiresAt: exp}, storage.ErrInvalid},
		{"empty user", activation("y", "", exp), storage.ErrInvalid},
		{"zero expiry", activation("y", "u1", time.Time{}), storage.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			as := s.open(t)
			mustCreateActivation(t, as, activation("x", "u1", exp))
			mustCreateActivation(t, as, activation("w", "u2", exp))
			wantErr(t, "create", as.CreateActivation(t.Context(), tc.activation), tc.want)
			// Nothing replaced: both codes still work.
			equal(t, "code x after a refused create", consumed(t, as, "x", t0), "ok")
			equal(t, "code w after a refused create", consumed(t, as, "w", t0), "ok")
			equal(t, "refused code y", consumed(t, as, "y", t0), "not found")
		})
	}
}

// activationsConcurrentConsume presents one code from several goroutines
// at once: exactly one is accepted.
func (s suite) activationsConcurrentConsume(t *testing.T) {
	s.needConcurrency(t)
	as := s.open(t)
	mustCreateActivation(t, as, activation("x", "u1", t0.Add(time.Hour)))
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { _, errs[i] = as.ConsumeActivation(t.Context(), code("x"), t0) })
	}
	wg.Wait()
	accepted := 0
	for i, err := range errs {
		switch {
		case err == nil:
			accepted++
		case !errors.Is(err, storage.ErrNotFound):
			t.Fatalf("consume %d: got error %v, want none or ErrNotFound", i, err)
		}
	}
	equal(t, fmt.Sprintf("consumes accepted of %d", n), accepted, 1)
}

// activationsLive checks that LiveActivation shows a code as stored without
// using it, and stops showing it once it is used or replaced.
func (s suite) activationsLive(t *testing.T) {
	as := s.open(t)
	in := activation("x", "u1", t0.Add(time.Hour))
	mustCreateActivation(t, as, in)
	now := t0.Add(time.Minute)
	for i := range 3 {
		got, err := as.LiveActivation(t.Context(), code("x"), now)
		wantErr(t, fmt.Sprintf("live #%d", i+1), err, nil)
		sameActivation(t, "live activation", got, in)
	}
	equal(t, "consume after looking", consumed(t, as, "x", now), "ok")
	_, err := as.LiveActivation(t.Context(), code("x"), now)
	wantErr(t, "live after consume", err, storage.ErrNotFound)

	mustCreateActivation(t, as, activation("y", "u2", t0.Add(time.Hour)))
	mustCreateActivation(t, as, activation("z", "u2", t0.Add(time.Hour)))
	_, err = as.LiveActivation(t.Context(), code("y"), now)
	wantErr(t, "live replaced code", err, storage.ErrNotFound)
	_, err = as.LiveActivation(t.Context(), code("z"), now)
	wantErr(t, "live newest code", err, nil)
}
