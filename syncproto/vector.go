package syncproto

import (
	"maps"
	"sort"
	"strings"
)

// Vector is a version vector: for each replica, the highest counter of its
// writes that a state has seen. Because a replica makes its writes in counter
// order and a state always carries everything it has seen, a vector that
// holds n for replica r has seen every write of r numbered n or less (dots
// that were never writes to this record are simply never met). A missing
// replica and a zero counter mean the same: nothing seen.
//
// On the wire a vector is a JSON object {"replica": counter, …}; zero
// counters are left out.
type Vector map[ReplicaID]uint64

// Order is how two vectors relate.
type Order int

// The four ways two version vectors can relate.
const (
	Equal      Order = iota // the same writes seen
	Before                  // strictly fewer: the other has seen everything this one has, and more
	After                   // strictly more
	Concurrent              // each has seen a write the other has not
)

func (o Order) String() string {
	switch o {
	case Equal:
		return "equal"
	case Before:
		return "before"
	case After:
		return "after"
	case Concurrent:
		return "concurrent"
	}
	return "Order(?)"
}

// Compare reports how v relates to o.
func (v Vector) Compare(o Vector) Order {
	less, more := false, false
	for r, n := range v {
		m := o[r]
		if n > m {
			more = true
		} else if n < m {
			less = true
		}
		if less && more {
			return Concurrent
		}
	}
	for r, m := range o {
		if _, ok := v[r]; !ok && m > 0 {
			less = true
			break
		}
	}
	switch {
	case less && more:
		return Concurrent
	case less:
		return Before
	case more:
		return After
	}
	return Equal
}

// Covers reports whether v has seen the write d.
func (v Vector) Covers(d Dot) bool { return d.Counter <= v[d.Replica] }

// Join returns a new vector holding, for each replica, the larger counter of
// v and o: everything either has seen.
func (v Vector) Join(o Vector) Vector {
	out := make(Vector, max(len(v), len(o)))
	for r, n := range v {
		if n > 0 {
			out[r] = n
		}
	}
	for r, n := range o {
		if n > out[r] {
			out[r] = n
		}
	}
	return out
}

// Clone returns a copy of v without zero entries.
func (v Vector) Clone() Vector {
	if v == nil {
		return Vector{}
	}
	// maps.Clone copies the table as it is, without hashing each entry
	// again; zero counters (rare) are dropped from the copy.
	out := maps.Clone(v)
	for r, n := range out {
		if n == 0 {
			delete(out, r)
		}
	}
	return out
}

// witness records in place that v has seen d.
func (v Vector) witness(d Dot) {
	if d.Counter > v[d.Replica] {
		v[d.Replica] = d.Counter
	}
}

// leq reports whether o has seen everything v has.
func (v Vector) leq(o Vector) bool {
	for r, n := range v {
		if n > o[r] {
			return false
		}
	}
	return true
}

// sortedReplicas returns v's replicas with non-zero counters, sorted.
func (v Vector) sortedReplicas() []ReplicaID {
	rs := make([]ReplicaID, 0, len(v))
	for r, n := range v {
		if n > 0 {
			rs = append(rs, r)
		}
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i] < rs[j] })
	return rs
}

// compareVectors is a total order on vectors (by their sorted entries), used
// only to pick deterministically between two different contents that claim
// the same dot, which reachable states never hold.
func compareVectors(a, b Vector) int {
	ra, rb := a.sortedReplicas(), b.sortedReplicas()
	for i := 0; i < len(ra) && i < len(rb); i++ {
		if c := strings.Compare(string(ra[i]), string(rb[i])); c != 0 {
			return c
		}
		if x, y := a[ra[i]], b[rb[i]]; x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	switch {
	case len(ra) < len(rb):
		return -1
	case len(ra) > len(rb):
		return 1
	}
	return 0
}

// validate checks replica ids and counters.
func (v Vector) validate(path string) *Error {
	for r, n := range v {
		if !r.Valid() {
			return fieldErr(CodeBadRequest, path, "invalid replica id %q in version vector", truncate(string(r), 80))
		}
		if n == 0 || n > MaxCounter {
			return fieldErr(CodeBadRequest, path, "counter of %s is %d, want 1..2^53-1", r, n)
		}
	}
	return nil
}
