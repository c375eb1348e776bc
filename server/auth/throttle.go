package auth

import (
	"sort"
	"sync"
	"time"
)

// Limit is one throttling rule: at most Max failures per key within the
// Throttle's window.
type Limit struct {
	Key string
	Max int
}

// Throttle counts attempts (wrong passwords, bad activation codes) per key
// in a fixed window that starts at a key's first attempt, and says when a
// key is over its limit (SECURITY.md item 14).
//
// An expensive check (a password hash) reserves its attempt first, with
// Reserve: the check and the count are one atomic step, so n concurrent
// guesses evaluate at most Max of them (checking before the hash and
// counting after would let any number of concurrent guesses through). A
// success gives its attempt back with Refund; a failure keeps it counted.
// Blocked and Fail remain for cheap checks that count only failures.
//
// It lives in one process's memory, bounded to maxKeys entries; with
// several server processes each counts on its own (ARCHITECTURE.md). When
// full it drops expired windows, then the windows with the fewest attempts
// (oldest first among equals) — never at random, so an attacker who floods
// it with fresh keys pushes out their own chaff, not the counters that
// block them. Safe for concurrent use.
type Throttle struct {
	window  time.Duration
	maxKeys int
	now     func() time.Time

	mu      sync.Mutex
	entries map[string]*window
}

type window struct {
	start time.Time
	count int
}

// NewThrottle returns a Throttle with the given window.
func NewThrottle(win time.Duration, maxKeys int, now func() time.Time) *Throttle {
	return &Throttle{window: win, maxKeys: maxKeys, now: now, entries: map[string]*window{}}
}

// Blocked reports whether any of the limits is reached, and how long until
// the longest of them lifts.
func (t *Throttle) Blocked(limits ...Limit) (time.Duration, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	wait := t.blocked(limits)
	return wait, wait > 0
}

func (t *Throttle) blocked(limits []Limit) time.Duration {
	now := t.now()
	var wait time.Duration
	for _, l := range limits {
		w := t.entries[l.Key]
		if w == nil || now.Sub(w.start) >= t.window {
			continue
		}
		if w.count >= l.Max {
			if d := t.window - now.Sub(w.start); d > wait {
				wait = d
			}
		}
	}
	return wait
}

// Fail records one failure against every key.
func (t *Throttle) Fail(limits ...Limit) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.fail(limits)
}

func (t *Throttle) fail(limits []Limit) {
	now := t.now()
	for _, l := range limits {
		w := t.entries[l.Key]
		if w == nil || now.Sub(w.start) >= t.window {
			if w == nil && len(t.entries) >= t.maxKeys {
				t.evict(now)
			}
			w = &window{start: now}
			t.entries[l.Key] = w
		}
		w.count++
	}
}

// Reset forgets the failures of the keys (after a success).
func (t *Throttle) Reset(keys ...string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, k := range keys {
		delete(t.entries, k)
	}
}

// evict drops expired windows, and if the map is still full, the windows
// with the fewest attempts, oldest first among equals, down to 90% of
// maxKeys. Deterministic: which counters survive does not depend on map
// order (a random choice would let a flood of fresh keys reset a blocked
// counter with some luck).
func (t *Throttle) evict(now time.Time) {
	for k, w := range t.entries {
		if now.Sub(w.start) >= t.window {
			delete(t.entries, k)
		}
	}
	if len(t.entries) < t.maxKeys {
		return
	}
	type entry struct {
		key string
		w   *window
	}
	all := make([]entry, 0, len(t.entries))
	for k, w := range t.entries {
		all = append(all, entry{k, w})
	}
	sort.Slice(all, func(i, j int) bool {
		a, b := all[i], all[j]
		if a.w.count != b.w.count {
			return a.w.count < b.w.count
		}
		if !a.w.start.Equal(b.w.start) {
			return a.w.start.Before(b.w.start)
		}
		return a.key < b.key
	})
	for _, e := range all[:len(all)-t.maxKeys*9/10] {
		delete(t.entries, e.key)
	}
}

// Reserve counts one attempt against every limit if none of them is
// reached, in one atomic step, and reports true; otherwise it counts
// nothing and reports false with how long until the longest of the reached
// limits lifts. Call it before the expensive check the limits protect.
func (t *Throttle) Reserve(limits ...Limit) (time.Duration, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if wait := t.blocked(limits); wait > 0 {
		return wait, false
	}
	t.fail(limits)
	return 0, true
}

// Refund gives back one reserved attempt of every limit (after a success).
func (t *Throttle) Refund(limits ...Limit) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	for _, l := range limits {
		if w := t.entries[l.Key]; w != nil && now.Sub(w.start) < t.window && w.count > 0 {
			w.count--
		}
	}
}
