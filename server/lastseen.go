package server

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pairsync/pairsync/storage"
)

// lastSeenFlushEvery is how often the devices' sightings kept in memory are
// written to the store (and at Shutdown).
const lastSeenFlushEvery = 5 * time.Second

// deviceToucher is the optional store ability to record many devices'
// LastSeen in one write (storage/bolt has it); without it, a sync writes
// LastSeen itself once a minute (sawDevice).
type deviceToucher interface {
	TouchDevices(ctx context.Context, seen map[string]time.Time) error
}

// sightings keeps when each device was last seen, in memory, so that a sync
// writes nothing (with a store that has TouchDevices): they reach the store
// every lastSeenFlushEvery, written by the request that finds the last flush
// that old (in the background), by a serving server's own loop when no such
// request comes (flushLoop), and at Shutdown. Readers of LastSeen in this
// process (the device lists, the console's idle devices) see them at once
// through seen; other replicas read them from the store, so they see a
// sighting within lastSeenFlushEvery (and a second) whatever the traffic
// (without the loop, a replica the load balancer stops sending syncs to
// would keep its last sightings until it shut down). A crash loses at most
// the last few seconds of sightings.
type sightings struct {
	mu        sync.Mutex
	pending   map[string]time.Time
	every     time.Duration // how often to flush: lastSeenFlushEvery (tests change it)
	flushed   time.Time     // when the last flush began (the server's clock)
	flushedAt time.Time     // the same in real time (flushLoop's measure)
	flushing  atomic.Bool   // a flush holds the right to write
}

// see records that device d synced at now, if its last sighting is
// lastSeenEvery old, and returns its LastSeen as readers should see it.
func (g *sightings) see(d storage.Device, now time.Time) time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	last := d.LastSeen
	if t, ok := g.pending[d.ID]; ok && t.After(last) {
		last = t
	}
	if now.Sub(last) < lastSeenEvery {
		return last
	}
	if g.pending == nil {
		g.pending = map[string]time.Time{}
	}
	g.pending[d.ID] = now
	return now
}

// seen returns d with its LastSeen as last seen, stored or not yet.
func (g *sightings) seen(d storage.Device) storage.Device {
	g.mu.Lock()
	defer g.mu.Unlock()
	if t, ok := g.pending[d.ID]; ok && t.After(d.LastSeen) {
		d.LastSeen = t
	}
	return d
}

// take removes the pending sightings if there are any and, unless force,
// the last flush is g.every old.
func (g *sightings) take(now time.Time, force bool) map[string]time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.pending) == 0 || !force && now.Sub(g.flushed) < g.every {
		return nil
	}
	batch := g.pending
	g.pending, g.flushed, g.flushedAt = nil, now, time.Now()
	return batch
}

// loopDue reports whether flushLoop should write: sightings are pending and
// the last flush is g.every old in real time.
func (g *sightings) loopDue() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.pending) > 0 && time.Since(g.flushedAt) >= g.every
}

// flushLoop writes the pending sightings every lastSeenFlushEvery (checked
// each second) until stop is closed; Serve runs it.
func (s *Server) flushLoop(stop <-chan struct{}) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		if !s.seen.loopDue() || !s.seen.flushing.CompareAndSwap(false, true) {
			continue
		}
		if batch := s.seen.take(s.now().UTC(), true); batch != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			s.writeSightings(ctx, batch)
			cancel()
		}
		s.seen.flushing.Store(false)
	}
}

// putBack returns sightings a failed flush could not write, unless newer
// ones came since.
func (g *sightings) putBack(batch map[string]time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.pending == nil {
		g.pending = map[string]time.Time{}
	}
	for id, t := range batch {
		if cur, ok := g.pending[id]; !ok || t.After(cur) {
			g.pending[id] = t
		}
	}
}

// sawDevice records a sync of d and returns d as readers should see it;
// every lastSeenFlushEvery it starts writing the sightings in the
// background. A store that cannot write them in one go (no TouchDevices)
// gets the write in the request, when LastSeen is lastSeenEvery old, as
// before: one write per device per minute.
func (s *Server) sawDevice(ctx context.Context, d storage.Device) storage.Device {
	now := s.now().UTC()
	if s.toucher == nil {
		if now.Sub(d.LastSeen) >= lastSeenEvery {
			d.LastSeen = now
			if nd, err := s.store.UpdateDevice(ctx, d); err == nil {
				d = nd
			} // a concurrent update of LastSeen is as good as ours
		}
		return d
	}
	d.LastSeen = s.seen.see(d, now)
	if s.seen.flushing.CompareAndSwap(false, true) {
		if batch := s.seen.take(now, false); batch != nil {
			go func() {
				defer s.seen.flushing.Store(false)
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				s.writeSightings(ctx, batch)
			}()
		} else {
			s.seen.flushing.Store(false)
		}
	}
	return d
}

// flushSightings writes every pending sighting now, after any background
// flush has ended (Shutdown calls it).
func (s *Server) flushSightings(ctx context.Context) {
	if s.toucher == nil {
		return
	}
	for !s.seen.flushing.CompareAndSwap(false, true) {
		select {
		case <-ctx.Done():
			return
		case <-time.After(5 * time.Millisecond):
		}
	}
	defer s.seen.flushing.Store(false)
	if batch := s.seen.take(s.now().UTC(), true); batch != nil {
		s.writeSightings(ctx, batch)
	}
}

// writeSightings stores a batch of sightings in one write; what fails is
// kept for the next flush.
func (s *Server) writeSightings(ctx context.Context, batch map[string]time.Time) {
	if err := s.toucher.TouchDevices(ctx, batch); err != nil {
		s.log.Warn("recording devices' last sync failed", "devices", len(batch), "err", err)
		s.seen.putBack(batch)
	}
}
