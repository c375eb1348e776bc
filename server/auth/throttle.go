package auth

import (
	"sync"
	"time"
)

// Limit is one throttling rule: at most Max failures per key within the
// Throttle's window.
type Limit struct {
	Key string
	Max int
}

// Throttle counts failures (wrong passwords, bad activation codes) per key
// in a fixed window that starts at a key's first failure, and says when a
// key is over its limit. It lives in one process's memory, bounded to
// maxKeys entries; with several server processes each counts on its own
// (ARCHITECTURE.md). Safe for concurrent use.
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
	return wait, wait > 0
}

// Fail records one failure against every key.
func (t *Throttle) Fail(limits ...Limit) {
	t.mu.Lock()
	defer t.mu.Unlock()
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

// evict drops expired windows, and if the map is still full, half of the
// rest (map order is random, so an attacker cannot choose which).
func (t *Throttle) evict(now time.Time) {
	for k, w := range t.entries {
		if now.Sub(w.start) >= t.window {
			delete(t.entries, k)
		}
	}
	if len(t.entries) < t.maxKeys {
		return
	}
	n := len(t.entries) / 2
	for k := range t.entries {
		if n == 0 {
			break
		}
		delete(t.entries, k)
		n--
	}
}
