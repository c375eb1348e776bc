package mobile

import (
	"bytes"
	"encoding/binary"
	"sync"
	"sync/atomic"

	"github.com/pairsync/pairsync/syncproto"
)

// recentBytes bounds the memory the recent writes hold, counted as three
// times the outbox entry (the entry, the decoded write, the change's
// record) plus the base: some 500 new visits.
const recentBytes = 4 << 20

// cost is what a recent write counts against recentBytes.
func (rw *recentWrite) cost() int { return 3*len(rw.enc) + len(rw.base) }

// recentWrites keeps, for the writes this engine made since it opened, the
// write and the change a push will carry for it, so that buildPush need
// not decode the outbox entry and rebuild the record again (issue 20: that
// was a third of the phone's CPU per pushed change).
//
// It holds a write only when the record had no other pending write at the
// time (the view was the base), and it is used only when the outbox entry
// and the record's base are, byte for byte, what they were then: the
// change is then Rebuild(base, pending)'s first one, a pure function of
// the two (TestRecentWritesBuildTheSamePush). Anything else, and a write
// made before the engine opened, goes the long way. It is memory only: a
// crash loses nothing but the shortcut.
type recentWrites struct {
	mu    sync.Mutex
	m     map[uint64]*recentWrite // by counter
	bytes int
	hits  atomic.Int64 // for tests
}

// recentWrite is one write: its outbox entry (enc), the record's base when
// it was made (nil: none), the write and its change.
type recentWrite struct {
	enc, base []byte
	w         syncproto.Write
	ch        syncproto.Change
}

// add keeps a write, if there is room.
func (r *recentWrites) add(rw *recentWrite) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := rw.cost()
	if r.bytes+n > recentBytes {
		return
	}
	if r.m == nil {
		r.m = map[uint64]*recentWrite{}
	}
	if old := r.m[rw.w.Dot.Counter]; old != nil {
		r.bytes -= old.cost()
	}
	r.m[rw.w.Dot.Counter] = rw
	r.bytes += n
}

// get returns the write of the outbox entry (key, enc) when it is kept
// for exactly that entry, and base (the record's base now, nil: none) is
// the one it was made on.
func (r *recentWrites) get(key, enc []byte, base func(coll, id string) []byte) (*recentWrite, bool) {
	if len(key) != 8 {
		return nil, false
	}
	r.mu.Lock()
	rw := r.m[binary.BigEndian.Uint64(key)]
	r.mu.Unlock()
	if rw == nil || !bytes.Equal(rw.enc, enc) || !bytes.Equal(rw.base, base(rw.w.Collection, rw.w.ID)) {
		return nil, false
	}
	r.hits.Add(1)
	return rw, true
}

// drop forgets the writes of these counters (answered: out of the outbox).
func (r *recentWrites) drop(counters []uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range counters {
		if rw := r.m[c]; rw != nil {
			r.bytes -= rw.cost()
			delete(r.m, c)
		}
	}
}

// clear forgets every write (purge, wipe).
func (r *recentWrites) clear() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.m, r.bytes = nil, 0
}
