package syncproto

import (
	"bytes"
	"unicode/utf16"
	"unicode/utf8"
)

// This file holds DecodePush's fast path: one pass over the bytes, building
// the PushRequest as it goes, with no node tree, no encoding/json and no
// error messages. It accepts exactly what the tree decoder (parseJSONTop
// then pushFrom) accepts, with the same result, and refuses the rest by
// answering ok = false; it may also answer false for input the tree decoder
// accepts but that this path does not bother with (a key, or a string that
// becomes a name, spelled with escapes). DecodePush then runs the tree
// decoder, which gives the refusal its code, path and message (or decodes
// the unusual spelling). So the errors are the tree decoder's by
// construction, and a refused push costs two parses, a valid one one.
//
// What the scanner must check to accept only what the tree decoder
// accepts, everywhere (skipped values included): JSON syntax as
// jsonParser reads it, valid UTF-8, no lone surrogates, no duplicate keys,
// no key refused by badKey, and lim's limits on body size, depth, strings
// (decoded length), arrays ("changes" against MaxChanges), keys, numbers
// and fields; then pushFrom's rules, which it checks on the values it builds
// (record.validate and Change.validate are shared with the tree decoder).

type pushScanner struct {
	d     []byte
	i     int
	lim   Limits
	depth int
	// keys is the stack of the keys of the objects being scanned, as
	// offsets into d (duplicate keys are refused; keys with escapes never
	// get here).
	keys []keySpan
	// names interns the strings that repeat between the changes of a push
	// (replica ids, collections, pairings, field names).
	names map[string]string
	// noncanon is set, while a field value is scanned, by anything
	// canonical JSON would not write (see isCanonical): space between
	// tokens, keys out of order, an escape of another form, deep nesting.
	noncanon bool
	// Scratch for one record at a time.
	fields []pendingField
	vv     []vvEntry
}

type keySpan struct{ start, end int }

type pendingField struct {
	name       string
	f          Field
	start, end int  // the value's bytes in d
	canonical  bool // they are canonical JSON
}

type vvEntry struct {
	rep ReplicaID
	n   uint64
}

// decodePushFast is DecodePush's fast path (lim has its defaults).
func decodePushFast(data []byte, lim Limits) (*PushRequest, bool) {
	return scanWhole(data, lim, (*pushScanner).push)
}

// scanWhole runs one of the scanner's top-level readers (push,
// pullAnswer) over data, which must hold that one value and white space
// around it, within lim.MaxBytes; false sends the caller to the tree
// decoder.
func scanWhole[T any](data []byte, lim Limits, read func(*pushScanner) (*T, bool)) (*T, bool) {
	if lim.MaxBytes >= 0 && len(data) > lim.MaxBytes {
		return nil, false
	}
	p := pushScanner{d: data, lim: lim, names: make(map[string]string, 8)}
	p.ws()
	v, ok := read(&p)
	if !ok {
		return nil, false
	}
	p.ws()
	if p.i != len(p.d) {
		return nil, false
	}
	return v, true
}

func (p *pushScanner) ws() {
	if j := SkipSpace(p.d, p.i); j != p.i {
		p.i = j
		p.noncanon = true
	}
}

func (p *pushScanner) peek() byte {
	if p.i < len(p.d) {
		return p.d[p.i]
	}
	return 0
}

func (p *pushScanner) intern(b []byte) string {
	if s, ok := p.names[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(p.names) < 1024 {
		p.names[s] = s
	}
	return s
}

// object scans an object at p.i (which must hold '{'), calling member for
// each member with p.i at its value, which member must scan. It checks the
// depth, the keys (no escapes, not refused by badKey, unique, at most
// MaxKeys, within MaxString) and the syntax between members; n is the
// number of members.
func (p *pushScanner) object(member func(key []byte) bool) (n int, ok bool) {
	if p.peek() != '{' || !p.enter() {
		return 0, false
	}
	p.i++
	p.ws()
	if p.peek() == '}' {
		p.i++
		p.depth--
		return 0, true
	}
	base := len(p.keys)
	defer func() { p.keys = p.keys[:base] }()
	var seen map[string]struct{}
	for {
		p.ws()
		ks, ke, ok := p.plainString()
		if !ok {
			return 0, false
		}
		key := p.d[ks:ke]
		if len(key) > 0 && key[0] == '$' || bytes.IndexByte(key, '.') >= 0 {
			return 0, false
		}
		mine := p.keys[base:]
		if len(mine) < 16 {
			for _, k := range mine {
				if bytes.Equal(p.d[k.start:k.end], key) {
					return 0, false
				}
			}
		} else {
			if seen == nil {
				seen = make(map[string]struct{}, 32)
				for _, k := range mine {
					seen[string(p.d[k.start:k.end])] = struct{}{}
				}
			}
			if _, dup := seen[string(key)]; dup {
				return 0, false
			}
			seen[string(key)] = struct{}{}
		}
		if p.lim.MaxKeys >= 0 && len(mine) >= p.lim.MaxKeys {
			return 0, false
		}
		if len(mine) > 0 && bytes.Compare(p.d[mine[len(mine)-1].start:mine[len(mine)-1].end], key) > 0 {
			p.noncanon = true
		}
		p.keys = append(p.keys, keySpan{ks, ke})
		p.ws()
		if p.peek() != ':' {
			return 0, false
		}
		p.i++
		p.ws()
		if !member(key) {
			return 0, false
		}
		n++
		p.ws()
		switch p.peek() {
		case ',':
			p.i++
		case '}':
			p.i++
			p.depth--
			return n, true
		default:
			return 0, false
		}
	}
}

// array scans an array at p.i (which must hold '['), calling elem for each
// element with p.i at it; limit bounds the elements (negative: no limit).
func (p *pushScanner) array(limit int, elem func(i int) bool) (n int, ok bool) {
	if p.peek() != '[' || !p.enter() {
		return 0, false
	}
	p.i++
	p.ws()
	if p.peek() == ']' {
		p.i++
		p.depth--
		return 0, true
	}
	for {
		if limit >= 0 && n >= limit {
			return 0, false
		}
		p.ws()
		if !elem(n) {
			return 0, false
		}
		n++
		p.ws()
		switch p.peek() {
		case ',':
			p.i++
		case ']':
			p.i++
			p.depth--
			return n, true
		default:
			return 0, false
		}
	}
}

func (p *pushScanner) enter() bool {
	p.depth++
	if p.depth > 256 {
		p.noncanon = true // isCanonical's depth bound, with room to spare
	}
	return p.lim.MaxDepth < 0 || p.depth <= p.lim.MaxDepth
}

// isNull scans a null at p.i if there is one.
func (p *pushScanner) isNull() bool {
	if bytes.HasPrefix(p.d[p.i:], []byte("null")) {
		p.i += 4
		return true
	}
	return false
}

// value scans (and checks) any JSON value at p.i.
func (p *pushScanner) value() bool {
	switch c := p.peek(); {
	case c == '{':
		_, ok := p.object(func([]byte) bool { return p.value() })
		return ok
	case c == '[':
		_, ok := p.array(p.lim.MaxArray, func(int) bool { return p.value() })
		return ok
	case c == '"':
		_, _, _, ok := p.str()
		return ok
	case c == '-' || '0' <= c && c <= '9':
		_, _, ok := p.number()
		return ok
	case c == 't':
		return p.literal("true")
	case c == 'f':
		return p.literal("false")
	case c == 'n':
		return p.literal("null")
	}
	return false
}

func (p *pushScanner) literal(w string) bool {
	if bytes.HasPrefix(p.d[p.i:], []byte(w)) {
		p.i += len(w)
		return true
	}
	return false
}

// number scans a number as jsonParser.number does, returning its bytes.
func (p *pushScanner) number() (start, end int, ok bool) {
	start = p.i
	i, ok := ScanNumber(p.d, start)
	if !ok {
		return 0, 0, false
	}
	if i-start > maxNumberLen {
		return 0, 0, false
	}
	p.i = i
	return start, i, true
}

// uint scans a number that uintFrom reads as an integer in 0..max.
func (p *pushScanner) uint(max uint64) (uint64, bool) {
	s, e, ok := p.number()
	if !ok {
		return 0, false
	}
	return digits(p.d[s:e], max)
}

// digits reads b as uintFrom does: decimal digits only, no leading zero,
// at most max (max < 2^63).
func digits(b []byte, max uint64) (uint64, bool) {
	if len(b) == 0 || len(b) > 1 && b[0] == '0' || len(b) > 19 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return v, v <= max
}

// str scans a string at p.i, checking it as jsonParser.str does (UTF-8, no
// control characters, valid escapes and surrogate pairs, MaxString on the
// decoded length). The string's bytes between the quotes are d[start:end];
// escaped says whether they hold escapes. An escape canonical JSON would
// not write sets p.noncanon.
//
// It reads runs of plain bytes and checks each run's UTF-8 at once: a run
// ends only at '"', '\\' or a control character, none of which is inside
// a valid UTF-8 sequence, so utf8.Valid on the run refuses what
// jsonParser.str's rune-by-rune decoding refuses.
func (p *pushScanner) str() (start, end int, escaped, ok bool) {
	d := p.d
	if p.peek() != '"' {
		return 0, 0, false, false
	}
	i := p.i + 1
	start = i
	n := 0 // decoded length
	for {
		run := i
		var valid bool
		if i, valid = ScanPlain(d, i); !valid {
			return 0, 0, false, false
		}
		n += i - run
		if i >= len(d) || d[i] < 0x20 {
			return 0, 0, false, false
		}
		if d[i] == '"' {
			if p.lim.MaxString >= 0 && n > p.lim.MaxString {
				return 0, 0, false, false
			}
			p.i = i + 1
			return start, i, escaped, true
		}
		// An escape.
		escaped = true
		if i+1 >= len(d) {
			return 0, 0, false, false
		}
		e := d[i+1]
		i += 2
		switch e {
		case '"', '\\', 'b', 'f', 'n', 'r', 't':
			n++
		case '/':
			n++
			p.noncanon = true
		case 'u':
			r, ok := hex4(d, i)
			if !ok {
				return 0, 0, false, false
			}
			// Canonical JSON writes \u00xx, in lowercase, for control
			// characters without a short escape, and nothing else.
			switch h := d[i+3]; {
			case r >= 0x20, r == '\b', r == '\f', r == '\n', r == '\r', r == '\t', 'A' <= h && h <= 'F':
				p.noncanon = true
			}
			i += 4
			if utf16.IsSurrogate(r) {
				var r2 rune = -1
				if i+6 <= len(d) && d[i] == '\\' && d[i+1] == 'u' {
					if r2, ok = hex4(d, i+2); !ok {
						r2 = -1
					}
				}
				if utf16.DecodeRune(r, r2) == utf8.RuneError {
					return 0, 0, false, false
				}
				i += 6
				n += 4
			} else {
				n += utf8.RuneLen(r)
			}
		default:
			return 0, 0, false, false
		}
	}
}

// plainString scans a string without escapes (a key or a name).
func (p *pushScanner) plainString() (start, end int, ok bool) {
	s, e, esc, ok := p.str()
	return s, e, ok && !esc
}

// name scans a string that must be 1–max of [A-Za-z0-9_-].
func (p *pushScanner) name(max int) (string, bool) {
	s, e, ok := p.plainString()
	if !ok || !validNameBytes(p.d[s:e], max) {
		return "", false
	}
	return p.intern(p.d[s:e]), true
}

// dot scans a dot ("replica:counter", as parseDot reads it).
func (p *pushScanner) dot() (Dot, bool) {
	s, e, ok := p.plainString()
	if !ok {
		return Dot{}, false
	}
	b := p.d[s:e]
	c := bytes.LastIndexByte(b, ':')
	if c < 0 || !validNameBytes(b[:c], maxNameLen) {
		return Dot{}, false
	}
	n, ok := digits(b[c+1:], MaxCounter)
	if !ok || n < 1 {
		return Dot{}, false
	}
	return Dot{Replica: ReplicaID(p.intern(b[:c])), Counter: n}, true
}

// hlc scans an HLC [wall, logical].
func (p *pushScanner) hlc() (HLC, bool) {
	var h HLC
	n, ok := p.array(p.lim.MaxArray, func(i int) bool {
		switch i {
		case 0:
			w, ok := p.uint(MaxCounter)
			h.Wall = int64(w)
			return ok
		case 1:
			l, ok := p.uint(1<<32 - 1)
			h.Logical = uint32(l)
			return ok
		}
		return false
	})
	return h, ok && n == 2
}

// vector scans a version vector (zero counters dropped, as vectorFrom
// does).
func (p *pushScanner) vector() (Vector, bool) {
	base := len(p.vv)
	defer func() { p.vv = p.vv[:base] }()
	n, ok := p.object(func(key []byte) bool {
		if !validNameBytes(key, maxNameLen) {
			return false
		}
		c, ok := p.uint(MaxCounter)
		if ok && c > 0 {
			p.vv = append(p.vv, vvEntry{ReplicaID(p.intern(key)), c})
		}
		return ok
	})
	if !ok {
		return nil, false
	}
	v := make(Vector, n)
	for _, e := range p.vv[base:] {
		v[e.rep] = e.n
	}
	return v, true
}

// entry scans the members of a field, conflict, delete or keep entry that
// every one has (dot, hlc, value); other members go to other, which returns
// handled = false for a member it does not know (then skipped).
type entryScan struct {
	dot              Dot
	hlc              HLC
	hasDot, hasHLC   bool
	valStart, valEnd int // value bytes, valEnd 0 when absent
	canonical        bool
}

func (p *pushScanner) entryMember(es *entryScan, key []byte, withValue bool) bool {
	var ok bool
	switch string(key) {
	case "dot":
		es.dot, ok = p.dot()
		es.hasDot = true
	case "hlc":
		es.hlc, ok = p.hlc()
		es.hasHLC = true
	case "value":
		if !withValue {
			return p.value()
		}
		es.valStart = p.i
		outer := p.noncanon
		p.noncanon = false
		ok = p.value()
		es.valEnd = p.i
		es.canonical = !p.noncanon
		// The enclosing record's flag (a pull answer's Raw) keeps what
		// came before the value.
		p.noncanon = p.noncanon || outer
	default:
		return p.value()
	}
	return ok
}

func (p *pushScanner) push() (*PushRequest, bool) {
	req := &PushRequest{V: Version}
	var hasV, hasDevice bool
	_, ok := p.object(func(key []byte) bool {
		switch string(key) {
		case "v":
			s, e, ok := p.number()
			hasV = ok && string(p.d[s:e]) == "1" // the only spelling uintFrom reads as 1
			return ok
		case "device":
			s, ok := p.name(maxNameLen)
			req.Device = ReplicaID(s)
			hasDevice = true
			return ok
		case "changes":
			if p.isNull() {
				return true
			}
			if p.peek() != '[' {
				return false
			}
			req.Changes = []Change{}
			_, ok := p.array(p.lim.MaxChanges, func(int) bool {
				c, ok := p.change()
				req.Changes = append(req.Changes, c)
				return ok
			})
			return ok
		}
		return p.value()
	})
	if !ok || !hasV || !hasDevice {
		return nil, false
	}
	for i, c := range req.Changes {
		if c.Dot.Replica != req.Device || i > 0 && c.Dot.Counter <= req.Changes[i-1].Dot.Counter {
			return nil, false
		}
	}
	return req, true
}

func (p *pushScanner) change() (Change, bool) {
	var c Change
	var hasDot, hasHLC, hasRecord bool
	_, ok := p.object(func(key []byte) bool {
		var ok bool
		switch string(key) {
		case "dot":
			c.Dot, ok = p.dot()
			hasDot = true
		case "hlc":
			c.HLC, ok = p.hlc()
			hasHLC = true
		case "record":
			c.Record, c.decoded, ok = p.record()
			hasRecord = true
		default:
			ok = p.value()
		}
		return ok
	})
	if !ok || !hasDot || !hasHLC || !hasRecord || c.validate("") != nil {
		return Change{}, false
	}
	// c.decoded: record's answer on its values (record.validate and
	// c.validate passed).
	return c, true
}

// record scans a record as recordFrom reads it. Field values are copied
// into one allocation per record (canonical values, the usual case) or
// re-encoded. checked reports whether every value passes checkCanonical
// (Change.decoded): a value the scan found canonical (no p.noncanon), or
// that isCanonical accepts, does by construction (canonicalValue returns
// it as it is under trustedLimits); a re-encoded one is checked.
func (p *pushScanner) record() (r Record, checked, ok bool) {
	var has [4]bool // collection, id, pairing, vv
	fbase := len(p.fields)
	defer func() { clear(p.fields[fbase:]); p.fields = p.fields[:fbase] }()
	var conflicts []pendingField
	_, ok = p.object(func(key []byte) bool {
		var ok bool
		switch string(key) {
		case "collection":
			r.Collection, ok = p.name(maxNameLen)
			has[0] = true
			// recordFrom only wants strings here; record.validate checks
			// the names, and a string that is not one refuses either way.
		case "id":
			var s, e int
			s, e, ok = p.plainString()
			r.ID = string(p.d[s:e])
			has[1] = true
		case "pairing":
			r.Pairing, ok = p.name(maxNameLen)
			has[2] = true
		case "vv":
			r.VV, ok = p.vector()
			has[3] = true
		case "fields":
			if p.isNull() {
				return true
			}
			var n int
			n, ok = p.object(func(name []byte) bool {
				var es entryScan
				_, ok := p.object(func(k []byte) bool { return p.entryMember(&es, k, true) })
				if !ok || !es.hasDot || !es.hasHLC || es.valEnd == 0 {
					return false
				}
				p.fields = append(p.fields, pendingField{name: p.intern(name), f: Field{Dot: es.dot, HLC: es.hlc}, start: es.valStart, end: es.valEnd, canonical: es.canonical})
				return true
			})
			if p.lim.MaxFields >= 0 && n > p.lim.MaxFields {
				return false
			}
		case "conflicts":
			if p.isNull() {
				return true
			}
			_, ok = p.array(p.lim.MaxArray, func(int) bool {
				var es entryScan
				var field string
				hasField := false
				_, ok := p.object(func(k []byte) bool {
					if string(k) == "field" {
						s, e, ok := p.plainString()
						field = p.intern(p.d[s:e])
						hasField = true
						return ok
					}
					return p.entryMember(&es, k, true)
				})
				if !ok || !hasField || !es.hasDot || !es.hasHLC || es.valEnd == 0 {
					return false
				}
				conflicts = append(conflicts, pendingField{name: field, f: Field{Dot: es.dot, HLC: es.hlc}, start: es.valStart, end: es.valEnd, canonical: es.canonical})
				return true
			})
		case "deletes":
			if p.isNull() {
				return true
			}
			_, ok = p.array(p.lim.MaxArray, func(int) bool {
				var es entryScan
				var ctx Vector
				_, ok := p.object(func(k []byte) bool {
					if string(k) == "context" {
						var ok bool
						ctx, ok = p.vector()
						return ok
					}
					return p.entryMember(&es, k, false)
				})
				if !ok || ctx == nil || !es.hasDot || !es.hasHLC {
					return false
				}
				r.Deletes = append(r.Deletes, Delete{Dot: es.dot, HLC: es.hlc, Context: ctx})
				return true
			})
		case "keeps":
			if p.isNull() {
				return true
			}
			_, ok = p.array(p.lim.MaxArray, func(int) bool {
				var es entryScan
				_, ok := p.object(func(k []byte) bool { return p.entryMember(&es, k, false) })
				if !ok || !es.hasDot || !es.hasHLC {
					return false
				}
				r.Keeps = append(r.Keeps, Keep{Dot: es.dot, HLC: es.hlc})
				return true
			})
		default:
			ok = p.value()
		}
		return ok
	})
	if !ok || !has[0] || !has[1] || !has[2] || !has[3] {
		return Record{}, false, false
	}
	// Values: one allocation for the canonical ones.
	fields := p.fields[fbase:]
	size := 0
	checked = true
	canon := func(pf *pendingField) bool {
		v := p.d[pf.start:pf.end]
		if pf.canonical || isCanonical(v) {
			size += len(v)
			return true
		}
		n, err := parseJSON(v, trustedLimits)
		if err != nil {
			return false
		}
		pf.f.Value = appendCanonical(nil, &n)
		checked = checked && checkCanonical("", pf.f.Value) == nil
		return true
	}
	for i := range fields {
		if !canon(&fields[i]) {
			return Record{}, false, false
		}
	}
	for i := range conflicts {
		if !canon(&conflicts[i]) {
			return Record{}, false, false
		}
	}
	arena := make([]byte, 0, size)
	take := func(pf *pendingField) []byte {
		if pf.f.Value != nil {
			return pf.f.Value
		}
		a := len(arena)
		arena = append(arena, p.d[pf.start:pf.end]...)
		return arena[a:len(arena):len(arena)]
	}
	r.Fields = make(map[string]Field, len(fields))
	for i := range fields {
		f := fields[i].f
		f.Value = take(&fields[i])
		r.Fields[fields[i].name] = f
	}
	if len(conflicts) > 0 {
		r.Conflicts = make([]Conflict, len(conflicts))
		for i := range conflicts {
			pf := &conflicts[i]
			r.Conflicts[i] = Conflict{Field: pf.name, Value: take(pf), Dot: pf.f.Dot, HLC: pf.f.HLC}
		}
	}
	r.normalize()
	if r.validate("", false) != nil {
		return Record{}, false, false
	}
	return r, checked, true
}

// validNameBytes is validName on bytes (without a conversion that would
// allocate for names over 32 bytes).
func validNameBytes(b []byte, max int) bool {
	if len(b) == 0 || len(b) > max {
		return false
	}
	for _, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
