package syncproto

import (
	"slices"
	"strconv"
)

// Cursor is a client's position in the pull feeds: for each pairing, the
// last sequence it has received. Sequences are gap-free and advance in
// commit order per pairing, so "everything after n" never skips a change.
// A missing pairing and 0 both mean "from the start".
type Cursor map[string]uint64

// Next returns the cursor after receiving page a: each pairing a covers
// moves forward to a's position (never back), pairings to resync restart
// from 0 and pairings to purge are dropped. It does not modify c.
func (c Cursor) Next(a *PullAnswer) Cursor {
	out := make(Cursor, len(c)+len(a.Cursor))
	for p, s := range c {
		out[p] = s
	}
	for p, s := range a.Cursor {
		if cur, ok := out[p]; !ok || s > cur {
			out[p] = s
		}
	}
	for _, p := range a.Resync {
		delete(out, p)
	}
	for _, p := range a.Purge {
		delete(out, p)
	}
	return out
}

// Advance returns the cursor moved over sequences the client holds exactly
// already: own maps a pairing to sequences its own pushes were committed at
// whose stored versions it rebuilt from the answers (Result.StoredVersion).
// Each pairing in c moves only across an unbroken run starting right after
// its position, so a commit of anyone else in between (a gap) stops it
// there, and the next pull reads from that point. Pairings not in c stay
// out. It does not modify c.
func (c Cursor) Advance(own map[string][]uint64) Cursor {
	out := make(Cursor, len(c))
	for p, s := range c {
		out[p] = s
	}
	for p, seqs := range own {
		pos, ok := out[p]
		if !ok || len(seqs) == 0 {
			continue
		}
		sorted := slices.Clone(seqs)
		slices.Sort(sorted)
		for _, s := range sorted {
			if s == pos+1 {
				pos = s
			} else if s > pos+1 {
				break
			}
		}
		out[p] = pos
	}
	return out
}

// NeedsResync reports whether a client at cursor must resync a pairing whose
// tombstone horizon is horizon, the highest sequence of a purged tombstone
// (0 when none was purged): it may still hold a record whose delete it never
// received. A cursor of 0 starts from scratch and never needs a resync.
func NeedsResync(cursor, horizon uint64) bool { return cursor != 0 && cursor < horizon }

func appendCursor(b []byte, c Cursor) []byte {
	ps := make([]string, 0, len(c))
	for p := range c {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	b = append(b, '{')
	for i, p := range ps {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, p)
		b = append(b, ':')
		b = strconv.AppendUint(b, c[p], 10)
	}
	return append(b, '}')
}
