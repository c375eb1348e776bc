package storage

import (
	"context"
	"time"
)

// AttemptLimit is one throttling rule: at most Max attempts on Key within
// a window that starts at the key's first attempt.
type AttemptLimit struct {
	// Key names the counter: opaque to the store, at most 1 KiB. Callers
	// hash what must not be stored (a login typed at sign-in may be a phone
	// number).
	Key string
	Max int // ≥ 1
}

// Attempts counts attempts (wrong passwords, wrong codes) per key, shared
// by every server process, so that n replicas allow no more guesses than
// one (SECURITY.md item 14). A key's window starts at its first attempt
// and lasts the window passed to each call; an ended window counts from
// zero again. Times are kept at millisecond precision. Safe for concurrent
// use.
type Attempts interface {
	// ReserveAttempt counts one attempt against every limit if none of them
	// is reached at now, and reports true; otherwise it leaves every
	// counter as it was and reports false with how long until the longest
	// of the reached limits lifts. Concurrent calls never count more than
	// Max attempts in one window of a key. (An adapter without multi-key
	// transactions counts key by key and gives back what it counted when a
	// later key refuses: a racing call may then be refused by a count that
	// is about to be given back, never let through.) ErrInvalid for no
	// limits, an empty or over-long key, a Max below 1 or a window ≤ 0.
	ReserveAttempt(ctx context.Context, now time.Time, window time.Duration, limits ...AttemptLimit) (wait time.Duration, ok bool, err error)
	// RefundAttempt gives back one attempt of every limit whose window is
	// still open at now and whose count is above zero (after the checked
	// thing turned out right). ErrInvalid as ReserveAttempt.
	RefundAttempt(ctx context.Context, now time.Time, window time.Duration, limits ...AttemptLimit) error
	// PruneAttempts deletes the counters whose window started before
	// startedBefore (ended windows, which count nothing), and returns how
	// many it deleted.
	PruneAttempts(ctx context.Context, startedBefore time.Time) (int, error)
}

// CheckAttempts reports what ReserveAttempt and RefundAttempt refuse, for
// adapters.
func CheckAttempts(window time.Duration, limits []AttemptLimit) error {
	if window <= 0 || len(limits) == 0 {
		return ErrInvalid
	}
	for _, l := range limits {
		if l.Key == "" || len(l.Key) > 1024 || l.Max < 1 {
			return ErrInvalid
		}
	}
	return nil
}
