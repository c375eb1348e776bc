package syncproto

import (
	"slices"
	"strconv"
)

// Held is what a pull request says the device holds already past its
// cursor: per pairing, the ranges of sequences [from, to] (inclusive,
// ascending, apart) at which it rebuilt the stored version exactly from its
// own push answers (Result.StoredVersion). The server leaves the record
// versions at those sequences out of the answer and still moves the cursor
// over them, so a device whose partner committed between its pull and its
// push receives only the partner's versions, not its own back (issue 20).
// Leaving them out changes nothing: the device's base has merged those very
// versions, and Merge is idempotent. Sequences at or below the cursor mean
// nothing; an old server ignores the key and sends everything.
//
//	"held":{"p-17":[[120,125],[130,130]]}
type Held map[string][][2]uint64

// MaxHeldRanges bounds the ranges of one pull request, all pairings
// together. A device holding more sends the lowest (HeldRanges): the rest
// are pulled back, which costs bytes, never correctness.
const MaxHeldRanges = 200

// Contains reports whether seq of pairing p lies in a held range.
func (h Held) Contains(p string, seq uint64) bool {
	rs := h[p]
	i, _ := slices.BinarySearchFunc(rs, seq, func(r [2]uint64, s uint64) int {
		switch {
		case r[1] < s:
			return -1
		case r[0] > s:
			return 1
		}
		return 0
	})
	return i < len(rs) && rs[i][0] <= seq && seq <= rs[i][1]
}

// HeldRanges turns sequences a device holds (per pairing, in any order,
// duplicates allowed) into Held: only those after the cursor's position,
// runs joined into ranges, at most max ranges in all (the lowest of each
// pairing first, pairings in name order). Pairings not in cursor are left
// out (they are read from the start). It returns nil when nothing is held.
// limit is at most MaxHeldRanges, what a server takes.
func HeldRanges(own map[string][]uint64, cursor Cursor, limit int) Held {
	ps := make([]string, 0, len(own))
	for p := range own {
		if _, ok := cursor[p]; ok {
			ps = append(ps, p)
		}
	}
	slices.Sort(ps)
	var h Held
	n := 0
	for _, p := range ps {
		seqs := slices.Clone(own[p])
		slices.Sort(seqs)
		var rs [][2]uint64
		for _, s := range seqs {
			switch {
			case s <= cursor[p]:
			case len(rs) > 0 && s <= rs[len(rs)-1][1]+1:
				rs[len(rs)-1][1] = max64(rs[len(rs)-1][1], s)
			case n >= limit:
			default:
				rs = append(rs, [2]uint64{s, s})
				n++
			}
		}
		if len(rs) > 0 {
			if h == nil {
				h = Held{}
			}
			h[p] = rs
		}
	}
	return h
}

func max64(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}

// heldFrom decodes "held": ranges of valid sequences, each from ≤ to,
// ascending and apart within a pairing, at most MaxHeldRanges in all.
func heldFrom(n *node, path string) (Held, *Error) {
	if e := wantKind(n, kObject, path); e != nil {
		return nil, e
	}
	h := make(Held, len(n.obj))
	total := 0
	for i := range n.obj {
		m := &n.obj[i]
		p := join(path, m.key)
		if !validName(m.key, maxNameLen) {
			return nil, fieldErr(CodeBadRequest, p, "invalid pairing %q", truncate(m.key, 80))
		}
		if e := wantKind(&m.val, kArray, p); e != nil {
			return nil, e
		}
		if total += len(m.val.arr); total > MaxHeldRanges {
			return nil, fieldErr(CodeTooLarge, path, "more than %d held ranges", MaxHeldRanges)
		}
		rs := make([][2]uint64, 0, len(m.val.arr))
		for j := range m.val.arr {
			rp := p + "[" + strconv.Itoa(j) + "]"
			rn := &m.val.arr[j]
			if e := wantKind(rn, kArray, rp); e != nil {
				return nil, e
			}
			if len(rn.arr) != 2 {
				return nil, fieldErr(CodeBadRequest, rp, "a held range is [from, to]")
			}
			from, e := uintFrom(&rn.arr[0], rp+"[0]", MaxCounter)
			if e != nil {
				return nil, e
			}
			to, e := uintFrom(&rn.arr[1], rp+"[1]", MaxCounter)
			if e != nil {
				return nil, e
			}
			if from == 0 || from > to || len(rs) > 0 && from <= rs[len(rs)-1][1] {
				return nil, fieldErr(CodeBadRequest, rp, "held ranges are [from, to] with 0 < from ≤ to, ascending and apart")
			}
			rs = append(rs, [2]uint64{from, to})
		}
		if len(rs) > 0 {
			h[m.key] = rs
		}
	}
	return h, nil
}
