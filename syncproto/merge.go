package syncproto

import (
	"bytes"
	"encoding/json"
	"slices"
)

// Merge returns the join of two versions of a record: everything either has
// seen, with every write that one side has seen and overwritten gone. It is
// commutative, associative and idempotent, and the zero Record is its
// identity, so replicas that have received the same writes hold Equal
// records whatever the order and repetition of their merges. The rules are
// stated in the package documentation; in short, for each field, and for
// deletes and keeps:
//
//   - an entry (a write's trace) present on one side survives if the other
//     side holds it too, or has not seen its dot (its vector does not cover
//     it); otherwise the other side saw it and overwrote it, and it goes;
//   - the surviving entries of a field are concurrent writes: the winner
//     (latest HLC, then greatest replica id, then greatest counter) becomes
//     the field's value, the others its conflict entries;
//   - the vectors are joined.
//
// Merge is meant for two versions of one record. If the keys differ, each
// key part is the greater of the two (so Merge stays a join); callers check
// keys first (Change.Check does). Merge never modifies a or b.
func Merge(a, b Record) Record {
	out := Record{
		Collection: max(a.Collection, b.Collection),
		ID:         max(a.ID, b.ID),
		Pairing:    max(a.Pairing, b.Pairing),
		Fields:     make(map[string]Field, max(len(a.Fields), len(b.Fields))),
		VV:         a.VV.Join(b.VV),
	}
	m := merger{a: &a, b: &b, out: &out}
	m.ac = conflictsByField(a.Conflicts)
	m.bc = conflictsByField(b.Conflicts)
	for f := range a.Fields {
		m.field(f)
	}
	for f := range b.Fields {
		if _, ok := a.Fields[f]; !ok {
			m.field(f)
		}
	}
	// Conflict entries of a field without a value exist only in invalid
	// input; merge them all the same, so Merge stays a join on any input.
	for f := range m.ac {
		if _, ok := a.Fields[f]; !ok {
			if _, ok := b.Fields[f]; !ok {
				m.field(f)
			}
		}
	}
	for f := range m.bc {
		_, inA := a.Fields[f]
		_, inB := b.Fields[f]
		_, inAC := m.ac[f]
		if !inA && !inB && !inAC {
			m.field(f)
		}
	}
	out.Conflicts = m.conflicts
	out.Deletes = mergeDeletes(a, b)
	out.Keeps = mergeKeeps(a, b)
	out.normalize()
	return out
}

type merger struct {
	a, b      *Record
	out       *Record
	ac, bc    map[string][]Conflict
	conflicts []Conflict
	buf       []Conflict
}

// conflictsByField indexes conflict entries by field, or returns nil when
// there are none.
func conflictsByField(cs []Conflict) map[string][]Conflict {
	if len(cs) == 0 {
		return nil
	}
	m := make(map[string][]Conflict)
	for _, c := range cs {
		m[c.Field] = append(m[c.Field], c)
	}
	return m
}

// sameEntryWins picks deterministically between two contents that claim the
// same dot (never the case in reachable states): the later HLC, then the
// greater value bytes.
func sameEntryWins(h1 HLC, v1 json.RawMessage, h2 HLC, v2 json.RawMessage) bool {
	if c := h1.Compare(h2); c != 0 {
		return c > 0
	}
	return bytes.Compare(v1, v2) > 0
}

// field merges the entries of one field.
func (m *merger) field(f string) {
	fa, inA := m.a.Fields[f]
	fb, inB := m.b.Fields[f]
	ca, cb := m.ac[f], m.bc[f]
	if len(ca) == 0 && len(cb) == 0 {
		// Fast path: at most one entry a side.
		switch {
		case inA && inB && fa.Dot == fb.Dot:
			if sameEntryWins(fb.HLC, fb.Value, fa.HLC, fa.Value) {
				fa = fb
			}
			m.out.Fields[f] = fa
			return
		case inA && inB:
			keepA, keepB := !m.b.VV.Covers(fa.Dot), !m.a.VV.Covers(fb.Dot)
			switch {
			case keepA && keepB:
				w, l := fa, fb
				if outranks(fb.HLC, fb.Dot, fa.HLC, fa.Dot) {
					w, l = fb, fa
				}
				m.out.Fields[f] = w
				m.conflicts = append(m.conflicts, Conflict{Field: f, Value: l.Value, Dot: l.Dot, HLC: l.HLC})
			case keepA:
				m.out.Fields[f] = fa
			case keepB:
				m.out.Fields[f] = fb
			}
			return
		case inA:
			if !m.b.VV.Covers(fa.Dot) {
				m.out.Fields[f] = fa
			}
			return
		case inB:
			if !m.a.VV.Covers(fb.Dot) {
				m.out.Fields[f] = fb
			}
			return
		}
	}
	// General path: gather each side's entries, keep the survivors.
	side := func(buf []Conflict, fv Field, in bool, cs []Conflict) []Conflict {
		if in {
			buf = append(buf, Conflict{Field: f, Value: fv.Value, Dot: fv.Dot, HLC: fv.HLC})
		}
		return append(buf, cs...)
	}
	m.buf = side(m.buf[:0], fa, inA, ca)
	na := len(m.buf)
	m.buf = side(m.buf, fb, inB, cb)
	ea, eb := m.buf[:na], m.buf[na:]
	var live []Conflict
	for _, e := range ea {
		if indexDot(eb, e.Dot) >= 0 || !m.b.VV.Covers(e.Dot) {
			live = appendUnique(live, e)
		}
	}
	for _, e := range eb {
		if indexDot(ea, e.Dot) >= 0 || !m.a.VV.Covers(e.Dot) {
			live = appendUnique(live, e)
		}
	}
	if len(live) == 0 {
		return
	}
	w := 0
	for i := 1; i < len(live); i++ {
		if outranks(live[i].HLC, live[i].Dot, live[w].HLC, live[w].Dot) {
			w = i
		}
	}
	m.out.Fields[f] = Field{Value: live[w].Value, Dot: live[w].Dot, HLC: live[w].HLC}
	for i, e := range live {
		if i != w {
			m.conflicts = append(m.conflicts, e)
		}
	}
}

func indexDot(es []Conflict, d Dot) int {
	for i := range es {
		if es[i].Dot == d {
			return i
		}
	}
	return -1
}

// appendUnique appends e unless an entry with its dot is there; if one is
// (invalid input holding a dot twice on one side), the greater content stays.
func appendUnique(es []Conflict, e Conflict) []Conflict {
	if j := indexDot(es, e.Dot); j >= 0 {
		if sameEntryWins(e.HLC, e.Value, es[j].HLC, es[j].Value) {
			es[j] = e
		}
		return es
	}
	return append(es, e)
}

func mergeDeletes(a, b Record) []Delete {
	if len(a.Deletes) == 0 && len(b.Deletes) == 0 {
		return nil
	}
	var out []Delete
	put := func(d Delete) {
		for i := range out {
			if out[i].Dot == d.Dot {
				if deleteWins(d, out[i]) {
					out[i] = d
				}
				return
			}
		}
		out = append(out, Delete{Dot: d.Dot, HLC: d.HLC, Context: d.Context.Clone()})
	}
	for _, d := range a.Deletes {
		if hasDelete(b.Deletes, d.Dot) || !b.VV.Covers(d.Dot) {
			put(d)
		}
	}
	for _, d := range b.Deletes {
		if hasDelete(a.Deletes, d.Dot) || !a.VV.Covers(d.Dot) {
			put(d)
		}
	}
	return out
}

// deleteWins picks between two deletes with the same dot (invalid input).
func deleteWins(x, y Delete) bool {
	if c := x.HLC.Compare(y.HLC); c != 0 {
		return c > 0
	}
	return compareVectors(x.Context, y.Context) > 0
}

func hasDelete(ds []Delete, d Dot) bool {
	return slices.ContainsFunc(ds, func(x Delete) bool { return x.Dot == d })
}

func mergeKeeps(a, b Record) []Keep {
	if len(a.Keeps) == 0 && len(b.Keeps) == 0 {
		return nil
	}
	var out []Keep
	put := func(k Keep) {
		for i := range out {
			if out[i].Dot == k.Dot {
				if k.HLC.Compare(out[i].HLC) > 0 {
					out[i] = k
				}
				return
			}
		}
		out = append(out, k)
	}
	has := func(ks []Keep, d Dot) bool {
		return slices.ContainsFunc(ks, func(x Keep) bool { return x.Dot == d })
	}
	for _, k := range a.Keeps {
		if has(b.Keeps, k.Dot) || !b.VV.Covers(k.Dot) {
			put(k)
		}
	}
	for _, k := range b.Keeps {
		if has(a.Keeps, k.Dot) || !a.VV.Covers(k.Dot) {
			put(k)
		}
	}
	return out
}
