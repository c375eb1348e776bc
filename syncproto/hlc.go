package syncproto

import (
	"fmt"
	"time"
)

// HLC is a hybrid logical clock timestamp: a wall time in milliseconds since
// the Unix epoch and a logical counter that orders events within one
// millisecond or when a replica's clock lags behind a timestamp it has
// received. Pairsync uses HLCs only to pick a deterministic winner between
// concurrent writes to one field; causality is decided by dots and version
// vectors alone, so a clock that is wrong by days never changes which write
// survives when one write has seen the other.
//
// The package has no clock of its own: Tick and Recv take the current time
// as an argument. On the wire an HLC is the array [wall, logical].
type HLC struct {
	Wall    int64  // milliseconds since the Unix epoch, 0..2^53-1
	Logical uint32 // tie-breaker within one Wall value
}

// Compare orders timestamps by Wall, then Logical, returning -1, 0 or +1.
func (h HLC) Compare(o HLC) int {
	switch {
	case h.Wall < o.Wall:
		return -1
	case h.Wall > o.Wall:
		return 1
	case h.Logical < o.Logical:
		return -1
	case h.Logical > o.Logical:
		return 1
	}
	return 0
}

// IsZero reports whether h is the zero timestamp.
func (h HLC) IsZero() bool { return h == HLC{} }

// Tick returns the timestamp of a local event at time now: later than h, and
// equal to now (in milliseconds) when the local clock is ahead of h.
func (h HLC) Tick(now time.Time) HLC {
	ms := clampWall(now.UnixMilli())
	if ms > h.Wall {
		return HLC{Wall: ms}
	}
	return h.next()
}

// MaxClockAhead bounds how far ahead of the local clock Recv follows a
// timestamp. A device whose clock is a century ahead (a dead RTC battery, a
// hand-set date) may write records; were every replica that reads them to
// follow, all their later writes would carry that error too, for ever
// (the server's received_at stamps would). HLCs only break ties between concurrent writes, and dots
// decide causality, so a write stamped earlier than one it has seen loses
// nothing: it still overwrites what its context covers. Five minutes is the
// slack the server grants device times elsewhere (an event's time is capped
// at its receipt + 5 min).
const MaxClockAhead = 5 * time.Minute

// Recv returns the timestamp of a local event at time now that follows the
// receipt of remote: later than both h and remote, except that remote is
// not followed past now + MaxClockAhead (see there). The replica's own
// clock stays monotonic: a local clock set back keeps counting from h.
func (h HLC) Recv(remote HLC, now time.Time) HLC {
	ms := clampWall(now.UnixMilli())
	if limit := clampWall(now.Add(MaxClockAhead).UnixMilli()); remote.Wall > limit {
		remote = HLC{Wall: limit}
	}
	switch {
	case ms > h.Wall && ms > remote.Wall:
		return HLC{Wall: ms}
	case h.Wall == remote.Wall:
		return HLC{Wall: h.Wall, Logical: max(h.Logical, remote.Logical)}.next()
	case h.Wall > remote.Wall:
		return h.next()
	default:
		return remote.next()
	}
}

// next returns the smallest timestamp after h.
func (h HLC) next() HLC {
	if h.Logical == ^uint32(0) {
		return HLC{Wall: h.Wall + 1}
	}
	return HLC{Wall: h.Wall, Logical: h.Logical + 1}
}

// Time returns the wall part as a time.Time.
func (h HLC) Time() time.Time { return time.UnixMilli(h.Wall).UTC() }

func (h HLC) String() string { return fmt.Sprintf("%d.%d", h.Wall, h.Logical) }

// Valid reports whether h's wall time is in 0..2^53-1.
func (h HLC) Valid() bool { return h.Wall >= 0 && h.Wall <= MaxCounter }

// MarshalJSON encodes h as [wall, logical].
func (h HLC) MarshalJSON() ([]byte, error) { return appendHLC(nil, h), nil }

// UnmarshalJSON decodes [wall, logical].
func (h *HLC) UnmarshalJSON(b []byte) error {
	n, err := parseJSON(b, trustedLimits)
	if err != nil {
		return err
	}
	v, e := hlcFrom(&n, "hlc")
	if e != nil {
		return e
	}
	*h = v
	return nil
}

func clampWall(ms int64) int64 {
	if ms < 0 {
		return 0
	}
	if ms > MaxCounter {
		return MaxCounter
	}
	return ms
}
