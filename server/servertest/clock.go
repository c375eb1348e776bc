package servertest

import (
	"sync/atomic"
	"time"
)

// Clock is a server's clock in a test (server.Deps.Now): it stands still
// until a test moves it. It is safe for concurrent use.
type Clock struct {
	atomic.Int64 // unix nanoseconds
}

// NewClock returns a clock standing at at.
func NewClock(at time.Time) *Clock {
	c := &Clock{}
	c.Store(at.UnixNano())
	return c
}

// Now is the clock's time.
func (c *Clock) Now() time.Time { return time.Unix(0, c.Load()) }

// Advance moves the clock by d.
func (c *Clock) Advance(d time.Duration) { c.Add(int64(d)) }
