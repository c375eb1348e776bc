package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/pairsync/pairsync/storage"
)

// Limit is one throttling rule: at most Max attempts per key within the
// Throttle's window.
type Limit struct {
	Key string
	Max int
}

// Throttle counts attempts (wrong passwords, wrong activation or
// confirmation codes) per key in a fixed window that starts at a key's
// first attempt, and refuses a key over its limit (SECURITY.md item 14).
//
// An expensive check (a password hash) reserves its attempt first, with
// Reserve: the check and the count are one atomic step, so n concurrent
// guesses evaluate at most Max of them (checking before the hash and
// counting after would let any number of concurrent guesses through). A
// success gives its attempt back with Refund; a failure keeps it counted.
//
// The counters live in storage (storage.Attempts), shared by every server
// process, so n replicas allow no more guesses than one. Keys
// are stored as SHA-256 hashes: a key may hold a login typed at sign-in,
// which may be a phone number. Nothing is evicted: a counter is deleted
// only after its window has ended (Prune), so flooding the store with fresh
// keys never frees a blocked one. Safe for concurrent use.
type Throttle struct {
	store  storage.Attempts
	window time.Duration
	now    func() time.Time
}

// NewThrottle returns a Throttle with the given window on store.
func NewThrottle(store storage.Attempts, window time.Duration, now func() time.Time) *Throttle {
	return &Throttle{store: store, window: window, now: now}
}

// stored turns limits into the store's, with hashed keys.
func stored(limits []Limit) []storage.AttemptLimit {
	out := make([]storage.AttemptLimit, len(limits))
	for i, l := range limits {
		sum := sha256.Sum256([]byte("pairsync throttle\x00" + l.Key))
		out[i] = storage.AttemptLimit{Key: hex.EncodeToString(sum[:]), Max: l.Max}
	}
	return out
}

// Reserve counts one attempt against every limit if none of them is
// reached, in one atomic step, and reports true; otherwise it counts
// nothing and reports false with how long until the longest of the reached
// limits lifts. Call it before the expensive check the limits protect. A
// storage error counts nothing and is returned (the caller answers 503: an
// unthrottled guess is never let through).
func (t *Throttle) Reserve(ctx context.Context, limits ...Limit) (time.Duration, bool, error) {
	wait, ok, err := t.store.ReserveAttempt(ctx, t.now(), t.window, stored(limits)...)
	if err != nil {
		return 0, false, fmt.Errorf("auth: throttle: %w", err)
	}
	return wait, ok, nil
}

// Refund gives back one reserved attempt of every limit (after a success).
func (t *Throttle) Refund(ctx context.Context, limits ...Limit) error {
	if err := t.store.RefundAttempt(ctx, t.now(), t.window, stored(limits)...); err != nil {
		return fmt.Errorf("auth: throttle refund: %w", err)
	}
	return nil
}

// Prune deletes the counters whose window has ended, and returns how many.
func (t *Throttle) Prune(ctx context.Context) (int, error) {
	n, err := t.store.PruneAttempts(ctx, t.now().Add(-t.window))
	if err != nil {
		return 0, fmt.Errorf("auth: throttle prune: %w", err)
	}
	return n, nil
}
