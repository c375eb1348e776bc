package server

import (
	"hash/maphash"
	"sync"
)

// stripedLocks serializes work per key (a pairing, a device) within this
// process, with a fixed number of mutexes. Across processes the storage's
// compare-and-set is what keeps writers apart; these only make it rare for
// one process to conflict with itself.
type stripedLocks struct {
	seed  maphash.Seed
	locks [256]sync.Mutex
}

func newStripedLocks() *stripedLocks { return &stripedLocks{seed: maphash.MakeSeed()} }

func (l *stripedLocks) lock(key string) func() {
	m := &l.locks[maphash.String(l.seed, key)%uint64(len(l.locks))]
	m.Lock()
	return m.Unlock
}
