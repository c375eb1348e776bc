package syncproto

import (
	"encoding/json"
	"strconv"
)

// Limits bound what a decoder accepts. A zero field takes its default (see
// DefaultLimits); a negative field means no limit. The Writer checks field
// values against the same limits, so a write a client makes is never refused
// by a server using the same (or larger) limits.
type Limits struct {
	MaxBytes   int // whole message, in bytes
	MaxChanges int // changes in one push
	MaxDepth   int // nesting of arrays and objects, counted from the message's top level
	MaxString  int // one string, in bytes once decoded
	MaxArray   int // elements of one array
	MaxKeys    int // members of one object
	MaxFields  int // fields of one record
}

// DefaultLimits returns the limits a server applies to requests: 1 MiB,
// 500 changes, depth 32, strings of 64 KiB, arrays of 1000 elements, objects
// of 1000 keys and records of 256 fields. A client decoding answers should
// allow at least twice the server's page size in MaxBytes, since a page
// always holds one record even when that record alone is over the page size.
func DefaultLimits() Limits {
	return Limits{
		MaxBytes:   1 << 20,
		MaxChanges: 500,
		MaxDepth:   32,
		MaxString:  64 << 10,
		MaxArray:   1000,
		MaxKeys:    1000,
		MaxFields:  256,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	set := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	set(&l.MaxBytes, d.MaxBytes)
	set(&l.MaxChanges, d.MaxChanges)
	set(&l.MaxDepth, d.MaxDepth)
	set(&l.MaxString, d.MaxString)
	set(&l.MaxArray, d.MaxArray)
	set(&l.MaxKeys, d.MaxKeys)
	set(&l.MaxFields, d.MaxFields)
	return l
}

// valueDepth is how deep a field value sits inside a push or a pull answer
// (message > list > item > record > fields > field); the Writer checks
// values against MaxDepth less this.
const valueDepth = 6

// The decoders below parse untrusted input with the package's own JSON
// parser: it enforces lim while parsing, refuses invalid UTF-8, lone
// surrogates, duplicate keys and keys that start with '$' or hold '.' or NUL
// (anywhere, field values included), and matches keys exactly. Unknown keys
// are ignored. Every error is a *Error: CodeTooLarge for a size limit,
// CodeInvalidJSON for bad JSON or too deep nesting, CodeBadRequest for a
// refused key, a wrong type or an invalid value; Field holds the JSON path
// of the offending value (e.g. "changes[3].record.fields.notes").

// DecodePush decodes and validates a push request: version 1, a valid
// device id, at most lim.MaxChanges changes, each made by the device, in
// strictly increasing counter order, each a valid Change.
//
// Valid input takes one pass over the bytes (decodePushFast, pushscan.go);
// input that pass refuses is decoded again by the tree decoder
// (decodePushTree), which words the error.
func DecodePush(data []byte, lim Limits) (*PushRequest, error) {
	lim = lim.withDefaults()
	if req, ok := decodePushFast(data, lim); ok {
		return req, nil
	}
	return decodePushTree(data, lim)
}

// decodePushTree is DecodePush by way of a parsed tree: the reference the
// fast path is tested against, and what words its refusals.
func decodePushTree(data []byte, lim Limits) (*PushRequest, error) {
	lim = lim.withDefaults()
	n, err := parseJSONTop(data, lim, map[string]topArray{"changes": {lim.MaxChanges, "changes"}})
	if err != nil {
		return nil, err
	}
	req, e := pushFrom(&n, lim, data)
	if e != nil {
		return nil, e
	}
	return req, nil
}

// DecodePull decodes and validates a pull request: version 1, a cursor of
// valid pairing ids, a limit of 0 (server default) or more.
func DecodePull(data []byte, lim Limits) (*PullRequest, error) {
	lim = lim.withDefaults()
	n, err := parseJSON(data, lim)
	if err != nil {
		return nil, err
	}
	req, e := pullFrom(&n)
	if e != nil {
		return nil, e
	}
	return req, nil
}

// DecodePushAnswer decodes a push answer (on the client).
func DecodePushAnswer(data []byte, lim Limits) (*PushAnswer, error) {
	lim = lim.withDefaults()
	n, err := parseJSON(data, lim)
	if err != nil {
		return nil, err
	}
	a, e := pushAnswerFrom(&n, data)
	if e != nil {
		return nil, e
	}
	return a, nil
}

// DecodePullAnswer decodes a pull answer (on the client), validating every
// record.
//
// As DecodePush: valid input takes one pass over the bytes
// (decodePullAnswerFast, pullscan.go); input that pass refuses is decoded
// again by the tree decoder (decodePullAnswerTree), which words the error.
func DecodePullAnswer(data []byte, lim Limits) (*PullAnswer, error) {
	lim = lim.withDefaults()
	if a, ok := decodePullAnswerFast(data, lim); ok {
		return a, nil
	}
	return decodePullAnswerTree(data, lim)
}

// decodePullAnswerTree is DecodePullAnswer by way of a parsed tree: the
// reference the fast path is tested against, and what words its refusals.
func decodePullAnswerTree(data []byte, lim Limits) (*PullAnswer, error) {
	lim = lim.withDefaults()
	n, err := parseJSON(data, lim)
	if err != nil {
		return nil, err
	}
	a, e := pullAnswerFrom(&n, lim, data)
	if e != nil {
		return nil, e
	}
	return a, nil
}

// DecodeWrite decodes and validates one write (an outbox entry, as
// Encode or encoding/json wrote it). Values come back canonical.
func DecodeWrite(data []byte, lim Limits) (Write, error) {
	lim = lim.withDefaults()
	n, err := parseJSON(data, lim)
	if err != nil {
		return Write{}, err
	}
	w, e := writeFrom(&n, "", data)
	if e != nil {
		return Write{}, e
	}
	if e := w.validate(lim); e != nil {
		return Write{}, e
	}
	return w, nil
}

// DecodeScopes decodes a scopes answer (on the client).
func DecodeScopes(data []byte, lim Limits) (*ScopesAnswer, error) {
	lim = lim.withDefaults()
	n, err := parseJSON(data, lim)
	if err != nil {
		return nil, err
	}
	a, e := scopesFrom(&n)
	if e != nil {
		return nil, e
	}
	return a, nil
}

// --- from parsed nodes to values ---

func wantKind(n *node, k kind, path string) *Error {
	if n.kind != k {
		return fieldErr(CodeBadRequest, path, "want %s, got %s", k, n.kind)
	}
	return nil
}

// optional returns member key of object n, or nil when it is missing or
// null (JavaScript and encoding/json write empty lists as null).
func optional(n *node, key string) *node {
	v := n.get(key)
	if v != nil && v.kind == kNull {
		return nil
	}
	return v
}

func required(n *node, key, path string) (*node, *Error) {
	v := n.get(key)
	if v == nil {
		return nil, fieldErr(CodeBadRequest, join(path, key), "missing %q", key)
	}
	return v, nil
}

func uintFrom(n *node, path string, max uint64) (uint64, *Error) {
	if n.kind != kNumber {
		return 0, fieldErr(CodeBadRequest, path, "want a non-negative integer, got %s", n.kind)
	}
	v, err := strconv.ParseUint(n.s, 10, 64)
	if err != nil || v > max || (len(n.s) > 1 && n.s[0] == '0') {
		return 0, fieldErr(CodeBadRequest, path, "want an integer in 0..%d, got %s", max, truncate(n.s, 40))
	}
	return v, nil
}

func stringFrom(n *node, path string) (string, *Error) {
	if e := wantKind(n, kString, path); e != nil {
		return "", e
	}
	return n.s, nil
}

func versionFrom(n *node) *Error {
	if e := wantKind(n, kObject, ""); e != nil {
		return e
	}
	v, e := required(n, "v", "")
	if e != nil {
		return e
	}
	ver, e := uintFrom(v, "v", 1<<31)
	if e != nil {
		return e
	}
	if ver != Version {
		return fieldErr(CodeBadRequest, "v", "unsupported protocol version %d: this side speaks v%d", ver, Version)
	}
	return nil
}

func dotFrom(n *node, path string) (Dot, *Error) {
	s, e := stringFrom(n, path)
	if e != nil {
		return Dot{}, e
	}
	d, ok := parseDot(s)
	if !ok {
		return Dot{}, fieldErr(CodeBadRequest, path, "malformed dot %q: want \"replica:counter\" with a counter in 1..2^53-1", truncate(s, 80))
	}
	return d, nil
}

func hlcFrom(n *node, path string) (HLC, *Error) {
	if n.kind != kArray || len(n.arr) != 2 {
		return HLC{}, fieldErr(CodeBadRequest, path, "want an hlc [wall_ms, logical]")
	}
	w, e := uintFrom(&n.arr[0], path+"[0]", MaxCounter)
	if e != nil {
		return HLC{}, e
	}
	l, e := uintFrom(&n.arr[1], path+"[1]", 1<<32-1)
	if e != nil {
		return HLC{}, e
	}
	return HLC{Wall: int64(w), Logical: uint32(l)}, nil
}

func vectorFrom(n *node, path string) (Vector, *Error) {
	if e := wantKind(n, kObject, path); e != nil {
		return nil, e
	}
	v := make(Vector, len(n.obj))
	for i := range n.obj {
		m := &n.obj[i]
		p := join(path, m.key)
		if !ReplicaID(m.key).Valid() {
			return nil, fieldErr(CodeBadRequest, p, "invalid replica id %q", truncate(m.key, 80))
		}
		c, e := uintFrom(&m.val, p, MaxCounter)
		if e != nil {
			return nil, e
		}
		if c > 0 {
			v[ReplicaID(m.key)] = c
		}
	}
	return v, nil
}

func recordFrom(n *node, path string, lim Limits, src []byte) (Record, *Error) {
	if e := wantKind(n, kObject, path); e != nil {
		return Record{}, e
	}
	var r Record
	var e *Error
	for _, k := range []struct {
		key string
		dst *string
	}{{"collection", &r.Collection}, {"id", &r.ID}, {"pairing", &r.Pairing}} {
		v, e := required(n, k.key, path)
		if e != nil {
			return Record{}, e
		}
		if *k.dst, e = stringFrom(v, join(path, k.key)); e != nil {
			return Record{}, e
		}
	}
	vv, e := required(n, "vv", path)
	if e != nil {
		return Record{}, e
	}
	if r.VV, e = vectorFrom(vv, join(path, "vv")); e != nil {
		return Record{}, e
	}
	r.Fields = map[string]Field{}
	if fs := optional(n, "fields"); fs != nil {
		fp := join(path, "fields")
		if e := wantKind(fs, kObject, fp); e != nil {
			return Record{}, e
		}
		if lim.MaxFields >= 0 && len(fs.obj) > lim.MaxFields {
			return Record{}, fieldErr(CodeTooLarge, fp, "record has %d fields, over the limit of %d", len(fs.obj), lim.MaxFields)
		}
		for i := range fs.obj {
			m := &fs.obj[i]
			p := join(fp, m.key)
			if e := wantKind(&m.val, kObject, p); e != nil {
				return Record{}, e
			}
			var f Field
			if f.Value, f.Dot, f.HLC, e = entryFrom(&m.val, p, true, src); e != nil {
				return Record{}, e
			}
			r.Fields[m.key] = f
		}
	}
	if cs := optional(n, "conflicts"); cs != nil {
		cp := join(path, "conflicts")
		if e := wantKind(cs, kArray, cp); e != nil {
			return Record{}, e
		}
		for i := range cs.arr {
			p := cp + "[" + strconv.Itoa(i) + "]"
			c := &cs.arr[i]
			if e := wantKind(c, kObject, p); e != nil {
				return Record{}, e
			}
			var k Conflict
			fv, e := required(c, "field", p)
			if e != nil {
				return Record{}, e
			}
			if k.Field, e = stringFrom(fv, join(p, "field")); e != nil {
				return Record{}, e
			}
			if k.Value, k.Dot, k.HLC, e = entryFrom(c, p, true, src); e != nil {
				return Record{}, e
			}
			r.Conflicts = append(r.Conflicts, k)
		}
	}
	if ds := optional(n, "deletes"); ds != nil {
		dp := join(path, "deletes")
		if e := wantKind(ds, kArray, dp); e != nil {
			return Record{}, e
		}
		for i := range ds.arr {
			p := dp + "[" + strconv.Itoa(i) + "]"
			c := &ds.arr[i]
			if e := wantKind(c, kObject, p); e != nil {
				return Record{}, e
			}
			var d Delete
			if _, d.Dot, d.HLC, e = entryFrom(c, p, false, src); e != nil {
				return Record{}, e
			}
			cv, e := required(c, "context", p)
			if e != nil {
				return Record{}, e
			}
			if d.Context, e = vectorFrom(cv, join(p, "context")); e != nil {
				return Record{}, e
			}
			r.Deletes = append(r.Deletes, d)
		}
	}
	if ks := optional(n, "keeps"); ks != nil {
		kp := join(path, "keeps")
		if e := wantKind(ks, kArray, kp); e != nil {
			return Record{}, e
		}
		for i := range ks.arr {
			p := kp + "[" + strconv.Itoa(i) + "]"
			c := &ks.arr[i]
			if e := wantKind(c, kObject, p); e != nil {
				return Record{}, e
			}
			var k Keep
			if _, k.Dot, k.HLC, e = entryFrom(c, p, false, src); e != nil {
				return Record{}, e
			}
			r.Keeps = append(r.Keeps, k)
		}
	}
	r.normalize()
	if e := r.validate(path, false); e != nil {
		return Record{}, e
	}
	return r, nil
}

// entryFrom reads "dot", "hlc" and, if withValue, "value" of an entry.
func entryFrom(n *node, path string, withValue bool, src []byte) (json.RawMessage, Dot, HLC, *Error) {
	dn, e := required(n, "dot", path)
	if e != nil {
		return nil, Dot{}, HLC{}, e
	}
	d, e := dotFrom(dn, join(path, "dot"))
	if e != nil {
		return nil, Dot{}, HLC{}, e
	}
	hn, e := required(n, "hlc", path)
	if e != nil {
		return nil, Dot{}, HLC{}, e
	}
	h, e := hlcFrom(hn, join(path, "hlc"))
	if e != nil {
		return nil, Dot{}, HLC{}, e
	}
	if !withValue {
		return nil, d, h, nil
	}
	vn, e := required(n, "value", path)
	if e != nil {
		return nil, Dot{}, HLC{}, e
	}
	return canonicalOf(vn, src), d, h, nil
}

func changeFrom(n *node, path string, lim Limits, src []byte) (Change, *Error) {
	var c Change
	if e := wantKind(n, kObject, path); e != nil {
		return c, e
	}
	var e *Error
	dn, e := required(n, "dot", path)
	if e != nil {
		return c, e
	}
	if c.Dot, e = dotFrom(dn, join(path, "dot")); e != nil {
		return c, e
	}
	hn, e := required(n, "hlc", path)
	if e != nil {
		return c, e
	}
	if c.HLC, e = hlcFrom(hn, join(path, "hlc")); e != nil {
		return c, e
	}
	rn, e := required(n, "record", path)
	if e != nil {
		return c, e
	}
	if c.Record, e = recordFrom(rn, join(path, "record"), lim, src); e != nil {
		return c, e
	}
	if e := c.validate(path); e != nil {
		return c, e
	}
	// What Check would check again (Change.decoded). The values are
	// canonical (canonicalOf) unless one is deeper than trustedLimits
	// allows; this path is the rare one, so it simply checks.
	c.decoded = c.Record.valuesCanonical()
	return c, nil
}

func pushFrom(n *node, lim Limits, src []byte) (*PushRequest, *Error) {
	if e := versionFrom(n); e != nil {
		return nil, e
	}
	req := &PushRequest{V: Version}
	dn, e := required(n, "device", "")
	if e != nil {
		return nil, e
	}
	s, e := stringFrom(dn, "device")
	if e != nil {
		return nil, e
	}
	req.Device = ReplicaID(s)
	if !req.Device.Valid() {
		return nil, fieldErr(CodeBadRequest, "device", "invalid device id %q: want 1–64 of [A-Za-z0-9_-]", truncate(s, 80))
	}
	cs := optional(n, "changes")
	if cs == nil {
		return req, nil
	}
	if e := wantKind(cs, kArray, "changes"); e != nil {
		return nil, e
	}
	if lim.MaxChanges >= 0 && len(cs.arr) > lim.MaxChanges {
		return nil, fieldErr(CodeTooLarge, "changes", "%d changes, over the limit of %d", len(cs.arr), lim.MaxChanges)
	}
	req.Changes = make([]Change, len(cs.arr))
	for i := range cs.arr {
		p := "changes[" + strconv.Itoa(i) + "]"
		c, e := changeFrom(&cs.arr[i], p, lim, src)
		if e != nil {
			return nil, e
		}
		if c.Dot.Replica != req.Device {
			return nil, fieldErr(CodeBadRequest, p+".dot", "change %s was not made by device %s", c.Dot, req.Device)
		}
		if i > 0 && c.Dot.Counter <= req.Changes[i-1].Dot.Counter {
			return nil, fieldErr(CodeBadRequest, p+".dot", "counters must increase: %s follows %s", c.Dot, req.Changes[i-1].Dot)
		}
		req.Changes[i] = c
	}
	return req, nil
}

func cursorFrom(n *node, path string) (Cursor, *Error) {
	if e := wantKind(n, kObject, path); e != nil {
		return nil, e
	}
	c := make(Cursor, len(n.obj))
	for i := range n.obj {
		m := &n.obj[i]
		p := join(path, m.key)
		if !validName(m.key, maxNameLen) {
			return nil, fieldErr(CodeBadRequest, p, "invalid pairing %q", truncate(m.key, 80))
		}
		s, e := uintFrom(&m.val, p, MaxCounter)
		if e != nil {
			return nil, e
		}
		c[m.key] = s
	}
	return c, nil
}

func pairingsFrom(n *node, path string) ([]string, *Error) {
	if e := wantKind(n, kArray, path); e != nil {
		return nil, e
	}
	out := make([]string, 0, len(n.arr))
	for i := range n.arr {
		p := path + "[" + strconv.Itoa(i) + "]"
		s, e := stringFrom(&n.arr[i], p)
		if e != nil {
			return nil, e
		}
		if !validName(s, maxNameLen) {
			return nil, fieldErr(CodeBadRequest, p, "invalid pairing %q", truncate(s, 80))
		}
		out = append(out, s)
	}
	return out, nil
}

func pullFrom(n *node) (*PullRequest, *Error) {
	if e := versionFrom(n); e != nil {
		return nil, e
	}
	req := &PullRequest{V: Version, Cursor: Cursor{}}
	if cn := optional(n, "cursor"); cn != nil {
		c, e := cursorFrom(cn, "cursor")
		if e != nil {
			return nil, e
		}
		req.Cursor = c
	}
	if ln := optional(n, "limit"); ln != nil {
		l, e := uintFrom(ln, "limit", 1<<31-1)
		if e != nil {
			return nil, e
		}
		req.Limit = int(l)
	}
	if hn := optional(n, "held"); hn != nil {
		h, e := heldFrom(hn, "held")
		if e != nil {
			return nil, e
		}
		if len(h) > 0 {
			req.Held = h
		}
	}
	return req, nil
}

func pushAnswerFrom(n *node, src []byte) (*PushAnswer, *Error) {
	if e := versionFrom(n); e != nil {
		return nil, e
	}
	a := &PushAnswer{V: Version}
	rs := optional(n, "results")
	if rs == nil {
		return a, nil
	}
	if e := wantKind(rs, kArray, "results"); e != nil {
		return nil, e
	}
	a.Results = make([]Result, len(rs.arr))
	for i := range rs.arr {
		p := "results[" + strconv.Itoa(i) + "]"
		rn := &rs.arr[i]
		if e := wantKind(rn, kObject, p); e != nil {
			return nil, e
		}
		var r Result
		dn, e := required(rn, "dot", p)
		if e != nil {
			return nil, e
		}
		if r.Dot, e = dotFrom(dn, join(p, "dot")); e != nil {
			return nil, e
		}
		sn, e := required(rn, "status", p)
		if e != nil {
			return nil, e
		}
		s, e := stringFrom(sn, join(p, "status"))
		if e != nil {
			return nil, e
		}
		r.Status = Status(s)
		switch r.Status {
		case StatusApplied, StatusMerged, StatusDuplicate, StatusRejected:
		default:
			return nil, fieldErr(CodeBadRequest, join(p, "status"), "unknown status %q", truncate(s, 40))
		}
		if qn := optional(rn, "seq"); qn != nil {
			if r.Seq, e = uintFrom(qn, join(p, "seq"), MaxCounter); e != nil {
				return nil, e
			}
		}
		if en := optional(rn, "error"); en != nil && en.kind != kNull {
			ep := join(p, "error")
			if e := wantKind(en, kObject, ep); e != nil {
				return nil, e
			}
			r.Error = &Error{}
			cn, e := required(en, "code", ep)
			if e != nil {
				return nil, e
			}
			code, e := stringFrom(cn, join(ep, "code"))
			if e != nil {
				return nil, e
			}
			r.Error.Code = Code(code)
			if mn := optional(en, "message"); mn != nil {
				if r.Error.Message, e = stringFrom(mn, join(ep, "message")); e != nil {
					return nil, e
				}
			}
			if fn := optional(en, "field"); fn != nil {
				if r.Error.Field, e = stringFrom(fn, join(ep, "field")); e != nil {
					return nil, e
				}
			}
			if rn := optional(en, "reason"); rn != nil {
				if r.Error.Reason, e = stringFrom(rn, join(ep, "reason")); e != nil {
					return nil, e
				}
			}
			if an := optional(en, "args"); an != nil && an.kind != kNull {
				if e := wantKind(an, kObject, join(ep, "args")); e != nil {
					return nil, e
				}
				r.Error.Args = make(map[string]string, len(an.obj))
				for _, m := range an.obj {
					if r.Error.Args[m.key], e = stringFrom(&m.val, join(ep, "args."+m.key)); e != nil {
						return nil, e
					}
				}
			}
		}
		if sn := optional(rn, "stamp"); sn != nil {
			sp := join(p, "stamp")
			if e := wantKind(sn, kArray, sp); e != nil {
				return nil, e
			}
			r.Stamp = make([]Write, len(sn.arr))
			for j := range sn.arr {
				if r.Stamp[j], e = writeFrom(&sn.arr[j], sp+"["+strconv.Itoa(j)+"]", src); e != nil {
					return nil, e
				}
			}
		}
		if r.Status == StatusRejected && r.Error == nil {
			return nil, fieldErr(CodeBadRequest, p, "a rejected change needs an error")
		}
		a.Results[i] = r
	}
	return a, nil
}

func pullAnswerFrom(n *node, lim Limits, data []byte) (*PullAnswer, *Error) {
	if e := versionFrom(n); e != nil {
		return nil, e
	}
	a := &PullAnswer{V: Version, Cursor: Cursor{}}
	if rs := optional(n, "records"); rs != nil {
		if e := wantKind(rs, kArray, "records"); e != nil {
			return nil, e
		}
		a.Records = make([]PulledRecord, len(rs.arr))
		for i := range rs.arr {
			p := "records[" + strconv.Itoa(i) + "]"
			rn := &rs.arr[i]
			if e := wantKind(rn, kObject, p); e != nil {
				return nil, e
			}
			var pr PulledRecord
			sn, e := required(rn, "seq", p)
			if e != nil {
				return nil, e
			}
			if pr.Seq, e = uintFrom(sn, join(p, "seq"), MaxCounter); e != nil {
				return nil, e
			}
			recn, e := required(rn, "record", p)
			if e != nil {
				return nil, e
			}
			if pr.Record, e = recordFrom(recn, join(p, "record"), lim, data); e != nil {
				return nil, e
			}
			if recn.end > recn.start {
				if raw := data[recn.start:recn.end]; isCanonical(raw) {
					pr.Raw = raw
				}
			}
			pr.Pairing = pr.Record.Pairing
			if pn := optional(rn, "pairing"); pn != nil {
				s, e := stringFrom(pn, join(p, "pairing"))
				if e != nil {
					return nil, e
				}
				if s != pr.Record.Pairing {
					return nil, fieldErr(CodeBadRequest, join(p, "pairing"), "pairing %q differs from the record's %q", truncate(s, 80), pr.Record.Pairing)
				}
			}
			a.Records[i] = pr
		}
	}
	if cn := optional(n, "cursor"); cn != nil {
		c, e := cursorFrom(cn, "cursor")
		if e != nil {
			return nil, e
		}
		a.Cursor = c
	}
	if mn := optional(n, "more"); mn != nil {
		if e := wantKind(mn, kBool, "more"); e != nil {
			return nil, e
		}
		a.More = mn.b
	}
	var e *Error
	if rn := optional(n, "resync"); rn != nil {
		if a.Resync, e = pairingsFrom(rn, "resync"); e != nil {
			return nil, e
		}
	}
	if pn := optional(n, "purge"); pn != nil {
		if a.Purge, e = pairingsFrom(pn, "purge"); e != nil {
			return nil, e
		}
	}
	return a, nil
}

func scopesFrom(n *node) (*ScopesAnswer, *Error) {
	if e := versionFrom(n); e != nil {
		return nil, e
	}
	a := &ScopesAnswer{V: Version}
	if ps := optional(n, "pairings"); ps != nil {
		if e := wantKind(ps, kArray, "pairings"); e != nil {
			return nil, e
		}
		for i := range ps.arr {
			p := "pairings[" + strconv.Itoa(i) + "]"
			sn := &ps.arr[i]
			if e := wantKind(sn, kObject, p); e != nil {
				return nil, e
			}
			var s Scope
			pn, e := required(sn, "pairing", p)
			if e != nil {
				return nil, e
			}
			if s.Pairing, e = stringFrom(pn, join(p, "pairing")); e != nil {
				return nil, e
			}
			if !validName(s.Pairing, maxNameLen) {
				return nil, fieldErr(CodeBadRequest, join(p, "pairing"), "invalid pairing %q", truncate(s.Pairing, 80))
			}
			if qn := optional(sn, "seq"); qn != nil {
				if s.Seq, e = uintFrom(qn, join(p, "seq"), MaxCounter); e != nil {
					return nil, e
				}
			}
			a.Pairings = append(a.Pairings, s)
		}
	}
	if pn := optional(n, "purge"); pn != nil {
		var e *Error
		if a.Purge, e = pairingsFrom(pn, "purge"); e != nil {
			return nil, e
		}
	}
	return a, nil
}

func writeFrom(n *node, path string, src []byte) (Write, *Error) {
	var w Write
	if e := wantKind(n, kObject, path); e != nil {
		return w, e
	}
	for _, k := range []struct {
		key string
		dst *string
	}{{"collection", &w.Collection}, {"id", &w.ID}, {"pairing", &w.Pairing}} {
		v, e := required(n, k.key, path)
		if e != nil {
			return Write{}, e
		}
		if *k.dst, e = stringFrom(v, join(path, k.key)); e != nil {
			return Write{}, e
		}
	}
	on, e := required(n, "op", path)
	if e != nil {
		return Write{}, e
	}
	op, e := stringFrom(on, join(path, "op"))
	if e != nil {
		return Write{}, e
	}
	w.Op = Op(op)
	if _, w.Dot, w.HLC, e = entryFrom(n, path, false, src); e != nil {
		return Write{}, e
	}
	if vn := optional(n, "values"); vn != nil {
		vp := join(path, "values")
		if e := wantKind(vn, kObject, vp); e != nil {
			return Write{}, e
		}
		w.Values = make(map[string]json.RawMessage, len(vn.obj))
		for i := range vn.obj {
			m := &vn.obj[i]
			w.Values[m.key] = canonicalOf(&m.val, src)
		}
	}
	w.Context = Vector{}
	if cn := optional(n, "context"); cn != nil {
		if w.Context, e = vectorFrom(cn, join(path, "context")); e != nil {
			return Write{}, e
		}
	}
	return w, nil
}
