package readmodel

import (
	"iter"
	"strings"
)

// visitMap holds a book's visits by id. Ids that are UUIDs written as
// phones write them (lowercase, 8-4-4-4-12) are kept as their 16 bytes,
// so no string per visit stays on the heap; other ids as strings.
type visitMap struct {
	uuids map[[16]byte]visitEntry
	other map[string]visitEntry
}

func newVisitMap() visitMap {
	return visitMap{uuids: map[[16]byte]visitEntry{}, other: map[string]visitEntry{}}
}

// visitID is a visit's id as visitMap keeps it.
type visitID struct {
	u    [16]byte
	s    string
	uuid bool
}

func (id visitID) String() string {
	if !id.uuid {
		return id.s
	}
	const hexd = "0123456789abcdef"
	var b [36]byte
	j := 0
	for i, c := range id.u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b[j] = '-'
			j++
		}
		b[j], b[j+1] = hexd[c>>4], hexd[c&15]
		j += 2
	}
	return string(b[:])
}

// uuidOf reads a canonical lowercase UUID.
func uuidOf(s string) ([16]byte, bool) {
	var u [16]byte
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, false
	}
	j := 0
	for i := 0; i < 36; {
		if s[i] == '-' {
			i++
			continue
		}
		hi, ok1 := lowerHex(s[i])
		lo, ok2 := lowerHex(s[i+1])
		if !ok1 || !ok2 || j >= 16 {
			return u, false
		}
		u[j] = hi<<4 | lo
		i, j = i+2, j+1
	}
	return u, j == 16
}

func lowerHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

func (m *visitMap) get(id string) (visitEntry, bool) {
	if u, ok := uuidOf(id); ok {
		e, found := m.uuids[u]
		return e, found
	}
	e, found := m.other[id]
	return e, found
}

func (m *visitMap) put(id string, e visitEntry) {
	if u, ok := uuidOf(id); ok {
		m.uuids[u] = e
		return
	}
	if _, ok := m.other[id]; ok {
		m.other[id] = e // the key kept
		return
	}
	m.other[strings.Clone(id)] = e
}

func (m *visitMap) del(id string) {
	if u, ok := uuidOf(id); ok {
		delete(m.uuids, u)
		return
	}
	delete(m.other, id)
}

// all yields every visit (the entry is a copy: put changes it).
func (m *visitMap) all() iter.Seq2[visitID, visitEntry] {
	return func(yield func(visitID, visitEntry) bool) {
		for u, e := range m.uuids {
			if !yield(visitID{u: u, uuid: true}, e) {
				return
			}
		}
		for s, e := range m.other {
			if !yield(visitID{s: s}, e) {
				return
			}
		}
	}
}

// update calls fn on every visit, in place.
func (m *visitMap) update(fn func(e *visitEntry)) {
	for u, e := range m.uuids {
		fn(&e)
		m.uuids[u] = e
	}
	for s, e := range m.other {
		fn(&e)
		m.other[s] = e
	}
}
