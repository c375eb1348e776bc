package syncproto

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Field is the current value of one field of a record: the value the winning
// write set, with that write's dot and HLC. Value is canonical JSON (null
// when a field was cleared); treat it as immutable, since records may share
// value bytes.
type Field struct {
	Value json.RawMessage
	Dot   Dot
	HLC   HLC
}

// Conflict is a value that lost to Fields[Field] because the two writes were
// concurrent (neither writer had seen the other). It stays on the record,
// for people to review, until a write that has seen it sets the field again.
type Conflict struct {
	Field string
	Value json.RawMessage
	Dot   Dot
	HLC   HLC
}

// Delete is a delete of the whole record. Context is what the deleter had
// seen (its version vector just before the delete): the record is deleted
// while every write it holds lies inside the joined contexts of its deletes.
type Delete struct {
	Dot     Dot
	HLC     HLC
	Context Vector
}

// Keep is an explicit "keep this record" write: it clears the deletes its
// writer had seen, ending an edit-versus-delete conflict (or undeleting),
// and a delete that has not seen it cannot delete the record.
type Keep struct {
	Dot Dot
	HLC HLC
}

// Record is one version of a record as replicas hold, merge and exchange it.
//
// The record's content is a set of dotted entries, each the trace of one
// write: field entries (Fields holds each field's winner, Conflicts the
// concurrent losers), Deletes and Keeps. VV is everything the version has
// seen. An entry missing from a version whose VV covers its dot has been
// overwritten; Merge relies on exactly that (see doc.go).
//
// A Record is a value: functions in this package never modify the Records
// they are given and return new maps and slices (field values excepted).
// Records from Merge, Apply and the decoders are normalized: conflicts sorted
// by field and dot, deletes and keeps by dot, no zero counters.
type Record struct {
	Collection string // "visits", "issues", … : 1–64 of [A-Za-z0-9_-]
	ID         string // client-generated (UUIDv7, ULID): 1–128 of [A-Za-z0-9_-]
	Pairing    string // the scope; never changes: 1–64 of [A-Za-z0-9_-]
	Fields     map[string]Field
	VV         Vector
	Conflicts  []Conflict
	Deletes    []Delete
	Keeps      []Keep
}

// NewRecord returns an empty record with its key, ready for a first write.
func NewRecord(collection, id, pairing string) Record {
	return Record{Collection: collection, ID: id, Pairing: pairing, Fields: map[string]Field{}, VV: Vector{}}
}

// IsZero reports whether r is the zero Record (no key, no content): the
// identity of Merge, and what a server passes as "not stored yet".
func (r Record) IsZero() bool {
	return r.Collection == "" && r.ID == "" && r.Pairing == "" && len(r.Fields) == 0 &&
		len(r.VV) == 0 && len(r.Conflicts) == 0 && len(r.Deletes) == 0 && len(r.Keeps) == 0
}

// Value returns the current value of a field, or nil if it was never written.
func (r Record) Value(field string) json.RawMessage {
	if f, ok := r.Fields[field]; ok {
		return f.Value
	}
	return nil
}

// ConflictsOf returns the conflict entries of one field.
func (r Record) ConflictsOf(field string) []Conflict {
	var out []Conflict
	for _, c := range r.Conflicts {
		if c.Field == field {
			out = append(out, c)
		}
	}
	return out
}

// OpenConflicts returns the conflict entries people have to settle: those
// whose value differs from the field's current value. An entry holding the
// same value (two replicas wrote equal values concurrently) stays on the
// record until the field is next written, as Merge's join laws require, but
// there is nothing to choose between, so it is not shown as a conflict.
// Values are canonical: equal values are equal bytes.
func (r Record) OpenConflicts() []Conflict {
	var out []Conflict
	for _, c := range r.Conflicts {
		if f, ok := r.Fields[c.Field]; !ok || !bytes.Equal(f.Value, c.Value) {
			out = append(out, c)
		}
	}
	return out
}

// deleteContext returns the join of the contexts of r's deletes.
func (r Record) deleteContext() Vector {
	if len(r.Deletes) == 1 {
		return r.Deletes[0].Context
	}
	ctx := Vector{}
	for _, d := range r.Deletes {
		for rep, n := range d.Context {
			if n > ctx[rep] {
				ctx[rep] = n
			}
		}
	}
	return ctx
}

// coveredByDeletes reports whether every field entry and keep of r lies
// inside the joined delete contexts.
func (r Record) coveredByDeletes() bool {
	ctx := r.deleteContext()
	for _, f := range r.Fields {
		if !ctx.Covers(f.Dot) {
			return false
		}
	}
	for _, c := range r.Conflicts {
		if !ctx.Covers(c.Dot) {
			return false
		}
	}
	for _, k := range r.Keeps {
		if !ctx.Covers(k.Dot) {
			return false
		}
	}
	return true
}

// Deleted reports whether the record is deleted: it holds a delete, and every
// write it holds (field values, conflict entries, keeps) was seen by one of
// its deleters.
func (r Record) Deleted() bool { return len(r.Deletes) > 0 && r.coveredByDeletes() }

// EditDeleteConflict reports whether a delete is flagged against an edit the
// deleter had not seen: the record holds a delete but is not deleted. The
// record stays live, and stays flagged until a Keep (keep it) or a Delete
// (delete it after all) by a replica that has seen the flag.
func (r Record) EditDeleteConflict() bool { return len(r.Deletes) > 0 && !r.coveredByDeletes() }

// MaxHLC returns the latest HLC of any write the record holds. A writer
// passes it to HLC.Recv so its timestamps follow what it has seen.
func (r Record) MaxHLC() HLC {
	var m HLC
	up := func(h HLC) {
		if h.Compare(m) > 0 {
			m = h
		}
	}
	for _, f := range r.Fields {
		up(f.HLC)
	}
	for _, c := range r.Conflicts {
		up(c.HLC)
	}
	for _, d := range r.Deletes {
		up(d.HLC)
	}
	for _, k := range r.Keeps {
		up(k.HLC)
	}
	return m
}

// Clone returns a deep copy of r (field values are shared: they are
// immutable).
func (r Record) Clone() Record {
	out := r
	// maps.Clone copies the table as it is, without hashing each entry
	// again.
	out.Fields = maps.Clone(r.Fields)
	if out.Fields == nil {
		out.Fields = map[string]Field{}
	}
	out.VV = r.VV.Clone()
	out.Conflicts = slices.Clone(r.Conflicts)
	out.Deletes = make([]Delete, len(r.Deletes))
	for i, d := range r.Deletes {
		out.Deletes[i] = Delete{Dot: d.Dot, HLC: d.HLC, Context: d.Context.Clone()}
	}
	if len(out.Deletes) == 0 {
		out.Deletes = nil
	}
	out.Keeps = slices.Clone(r.Keeps)
	return out
}

// outranks reports whether write (h1, d1) beats write (h2, d2) for a field:
// the later HLC wins, then the greater replica id, then the greater counter.
// Used only between concurrent writes.
func outranks(h1 HLC, d1 Dot, h2 HLC, d2 Dot) bool {
	if c := h1.Compare(h2); c != 0 {
		return c > 0
	}
	return d1.Compare(d2) > 0
}

func compareConflicts(a, b Conflict) int {
	if c := strings.Compare(a.Field, b.Field); c != 0 {
		return c
	}
	return a.Dot.Compare(b.Dot)
}

// normalize sorts r's lists in place.
func (r *Record) normalize() {
	if !slices.IsSortedFunc(r.Conflicts, compareConflicts) {
		slices.SortFunc(r.Conflicts, compareConflicts)
	}
	if !slices.IsSortedFunc(r.Deletes, func(a, b Delete) int { return a.Dot.Compare(b.Dot) }) {
		slices.SortFunc(r.Deletes, func(a, b Delete) int { return a.Dot.Compare(b.Dot) })
	}
	if !slices.IsSortedFunc(r.Keeps, func(a, b Keep) int { return a.Dot.Compare(b.Dot) }) {
		slices.SortFunc(r.Keeps, func(a, b Keep) int { return a.Dot.Compare(b.Dot) })
	}
	for rep, n := range r.VV {
		if n == 0 {
			delete(r.VV, rep)
		}
	}
}

// sorted returns r, or a normalized copy if its lists are out of order.
func (r Record) sorted() Record {
	if slices.IsSortedFunc(r.Conflicts, compareConflicts) &&
		slices.IsSortedFunc(r.Deletes, func(a, b Delete) int { return a.Dot.Compare(b.Dot) }) &&
		slices.IsSortedFunc(r.Keeps, func(a, b Keep) int { return a.Dot.Compare(b.Dot) }) {
		return r
	}
	c := r.Clone()
	c.normalize()
	return c
}

// Equal reports whether r and o hold the same state: the same key, writes,
// vector and flags. Two replicas whose records are Equal encode them to the
// same bytes.
func (r Record) Equal(o Record) bool {
	if r.Collection != o.Collection || r.ID != o.ID || r.Pairing != o.Pairing ||
		len(r.Fields) != len(o.Fields) || len(r.Conflicts) != len(o.Conflicts) ||
		len(r.Deletes) != len(o.Deletes) || len(r.Keeps) != len(o.Keeps) ||
		r.VV.Compare(o.VV) != Equal {
		return false
	}
	for k, f := range r.Fields {
		g, ok := o.Fields[k]
		if !ok || f.Dot != g.Dot || f.HLC != g.HLC || !bytes.Equal(f.Value, g.Value) {
			return false
		}
	}
	rn, on := r.sorted(), o.sorted()
	for i, c := range rn.Conflicts {
		d := on.Conflicts[i]
		if c.Field != d.Field || c.Dot != d.Dot || c.HLC != d.HLC || !bytes.Equal(c.Value, d.Value) {
			return false
		}
	}
	for i, d := range rn.Deletes {
		e := on.Deletes[i]
		if d.Dot != e.Dot || d.HLC != e.HLC || d.Context.Compare(e.Context) != Equal {
			return false
		}
	}
	for i, k := range rn.Keeps {
		if k != on.Keeps[i] {
			return false
		}
	}
	return true
}

// Validate checks that r is well formed: a valid key; valid dots, HLCs,
// field names and canonical JSON values; every entry's dot covered by VV and
// every delete context by VV; conflict entries only on existing fields, each
// outranked by the field's value; no two entries of one field, and no two
// deletes or keeps, with the same dot. Records from this package's functions
// always pass. It returns a *Error with CodeBadRequest.
func (r Record) Validate() error {
	if e := r.validate("", true); e != nil {
		return e
	}
	return nil
}

func fieldErr(code Code, field, format string, args ...any) *Error {
	e := Errorf(code, format, args...)
	e.Field = field
	return e
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// validate checks r; checkValues says whether to check that field values
// are canonical JSON (decoders build them canonical and skip it).
func (r Record) validate(path string, checkValues bool) *Error {
	if !validName(r.Collection, maxNameLen) {
		return fieldErr(CodeBadRequest, join(path, "collection"), "invalid collection %q: want 1–64 of [A-Za-z0-9_-]", truncate(r.Collection, 80))
	}
	if !validName(r.ID, maxIDLen) {
		return fieldErr(CodeBadRequest, join(path, "id"), "invalid record id %q: want 1–128 of [A-Za-z0-9_-]", truncate(r.ID, 80))
	}
	if !validName(r.Pairing, maxNameLen) {
		return fieldErr(CodeBadRequest, join(path, "pairing"), "invalid pairing %q: want 1–64 of [A-Za-z0-9_-]", truncate(r.Pairing, 80))
	}
	if e := r.VV.validate(join(path, "vv")); e != nil {
		return e
	}
	entry := func(where string, d Dot, h HLC) *Error {
		if !d.Valid() {
			return fieldErr(CodeBadRequest, where, "invalid dot %q", truncate(d.String(), 80))
		}
		if !h.Valid() {
			return fieldErr(CodeBadRequest, where, "invalid hlc %s", h)
		}
		if !r.VV.Covers(d) {
			return fieldErr(CodeBadRequest, where, "dot %s is not covered by the record's vv", d)
		}
		return nil
	}
	value := func(where string, v json.RawMessage) *Error {
		if len(v) == 0 {
			return fieldErr(CodeBadRequest, where, "missing value")
		}
		if !checkValues {
			return nil
		}
		return checkCanonical(where, v)
	}
	for name, f := range r.Fields {
		// The field's path is built only for an error (it cost an
		// allocation per field of every record decoded).
		if !validFieldName(name) {
			return fieldErr(CodeBadRequest, join(path, "fields."+name), "invalid field name %q: want a letter or '_', then letters, digits or '_', 64 at most", truncate(name, 80))
		}
		if e := entry("", f.Dot, f.HLC); e != nil {
			e.Field = join(path, "fields."+name)
			return e
		}
		if e := value("", f.Value); e != nil {
			e.Field = join(path, "fields."+name)
			return e
		}
	}
	for i, c := range r.Conflicts {
		where := join(path, "conflicts["+strconv.Itoa(i)+"]")
		f, ok := r.Fields[c.Field]
		if !ok {
			return fieldErr(CodeBadRequest, where, "conflict entry for field %q, which has no value", truncate(c.Field, 80))
		}
		if e := entry(where, c.Dot, c.HLC); e != nil {
			return e
		}
		if e := value(where, c.Value); e != nil {
			return e
		}
		if c.Dot == f.Dot {
			return fieldErr(CodeBadRequest, where, "conflict entry repeats the dot %s of field %q", c.Dot, c.Field)
		}
		if !outranks(f.HLC, f.Dot, c.HLC, c.Dot) {
			return fieldErr(CodeBadRequest, where, "conflict entry %s outranks the value of field %q (%s)", c.Dot, c.Field, f.Dot)
		}
	}
	sorted := r.sorted()
	for i := 1; i < len(sorted.Conflicts); i++ {
		if compareConflicts(sorted.Conflicts[i-1], sorted.Conflicts[i]) == 0 {
			return fieldErr(CodeBadRequest, join(path, "conflicts"), "two conflict entries for field %q with dot %s", sorted.Conflicts[i].Field, sorted.Conflicts[i].Dot)
		}
	}
	for i, d := range r.Deletes {
		where := join(path, "deletes["+strconv.Itoa(i)+"]")
		if e := entry(where, d.Dot, d.HLC); e != nil {
			return e
		}
		if e := d.Context.validate(where + ".context"); e != nil {
			return e
		}
		if !d.Context.leq(r.VV) {
			return fieldErr(CodeBadRequest, where, "delete context is not covered by the record's vv")
		}
		if i > 0 && sorted.Deletes[i-1].Dot == sorted.Deletes[i].Dot {
			return fieldErr(CodeBadRequest, join(path, "deletes"), "two deletes with dot %s", sorted.Deletes[i].Dot)
		}
	}
	for i, k := range r.Keeps {
		where := join(path, "keeps["+strconv.Itoa(i)+"]")
		if e := entry(where, k.Dot, k.HLC); e != nil {
			return e
		}
		if i > 0 && sorted.Keeps[i-1].Dot == sorted.Keeps[i].Dot {
			return fieldErr(CodeBadRequest, join(path, "keeps"), "two keeps with dot %s", sorted.Keeps[i].Dot)
		}
	}
	return nil
}

// checkCanonical is validate's check of a value with checkValues: valid
// JSON (under trustedLimits), in canonical form.
func checkCanonical(where string, v json.RawMessage) *Error {
	c, err := canonicalValue(v, trustedLimits)
	if err != nil {
		return fieldErr(CodeBadRequest, where, "value is not valid JSON: %s", err.Message)
	}
	if !bytes.Equal(c, v) {
		return fieldErr(CodeBadRequest, where, "value is not canonical JSON")
	}
	return nil
}

// valuesCanonical reports whether every value of r passes checkCanonical
// (what validate adds with checkValues).
func (r Record) valuesCanonical() bool {
	for _, f := range r.Fields {
		if checkCanonical("", f.Value) != nil {
			return false
		}
	}
	for _, c := range r.Conflicts {
		if checkCanonical("", c.Value) != nil {
			return false
		}
	}
	return true
}

// String returns the canonical JSON of r, for messages and tests.
func (r Record) String() string {
	b, _ := r.appendJSON(nil)
	return string(b)
}

// MarshalJSON returns the canonical encoding of r: object keys sorted, no
// insignificant whitespace, values in canonical JSON, conflicts sorted by
// field then dot, deletes and keeps by dot, empty lists left out. Two
// replicas holding Equal records produce the same bytes:
//
//	{"collection":"visits",
//	 "conflicts":[{"dot":"B:1","field":"notes","hlc":[1700000000000,0],"value":"y"}],
//	 "deletes":[{"context":{"A":1},"dot":"C:3","hlc":[1700000000500,0]}],
//	 "fields":{"notes":{"dot":"A:2","hlc":[1700000000000,1],"value":"x"}},
//	 "id":"01JD3S5D1S4J4Y0C8RWYN1H8VQ",
//	 "keeps":[{"dot":"A:4","hlc":[1700000000900,0]}],
//	 "pairing":"p-17",
//	 "vv":{"A":4,"B":1,"C":3}}
//
// (shown over several lines; the encoding has no whitespace). A value that
// is not valid JSON is an error.
//
// Each value is scanned once, checked and copied in the same pass, into a
// buffer sized for the whole record.
func (r Record) MarshalJSON() ([]byte, error) {
	return r.appendJSON(make([]byte, 0, r.encodedSize()))
}

// encodedSize is about the length of r's encoding (a little over, for a
// record of short ids and canonical values).
func (r Record) encodedSize() int {
	n := 128 + len(r.Collection) + len(r.ID) + len(r.Pairing)
	for rep := range r.VV {
		n += len(rep) + 24
	}
	for name, f := range r.Fields {
		n += len(name) + len(f.Dot.Replica) + len(f.Value) + 80
	}
	for _, c := range r.Conflicts {
		n += len(c.Field) + len(c.Dot.Replica) + len(c.Value) + 96
	}
	for _, d := range r.Deletes {
		n += len(d.Dot.Replica) + 80 + 32*len(d.Context)
	}
	return n + 64*len(r.Keeps)
}

func appendDot(b []byte, d Dot) []byte {
	b = append(b, '"')
	b = append(b, d.Replica...)
	b = append(b, ':')
	b = strconv.AppendUint(b, d.Counter, 10)
	return append(b, '"')
}

func appendHLC(b []byte, h HLC) []byte {
	b = append(b, '[')
	b = strconv.AppendInt(b, h.Wall, 10)
	b = append(b, ',')
	b = strconv.AppendUint(b, uint64(h.Logical), 10)
	return append(b, ']')
}

func appendVector(b []byte, v Vector) []byte {
	b = append(b, '{')
	for i, r := range v.sortedReplicas() {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, string(r))
		b = append(b, ':')
		b = strconv.AppendUint(b, v[r], 10)
	}
	return append(b, '}')
}

// appendValue appends a field value in canonical form, or null and the
// error when it is not valid JSON.
func appendValue(b []byte, v json.RawMessage) ([]byte, *Error) {
	if isCanonical(v) {
		return append(b, v...), nil
	}
	c, err := canonicalValue(v, trustedLimits)
	if err != nil {
		return append(b, "null"...), err
	}
	return append(b, c...), nil
}

// appendJSON appends the canonical encoding of r. A value that is not
// valid JSON is an error (a field's before a conflict entry's, as the
// check before the encoding reported them); the bytes then hold null in
// its place.
func (r Record) appendJSON(b []byte) ([]byte, error) {
	var ferr, cerr error
	rn := r.sorted()
	b = append(b, `{"collection":`...)
	b = appendString(b, rn.Collection)
	if len(rn.Conflicts) > 0 {
		b = append(b, `,"conflicts":[`...)
		for i, c := range rn.Conflicts {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"dot":`...)
			b = appendDot(b, c.Dot)
			b = append(b, `,"field":`...)
			b = appendString(b, c.Field)
			b = append(b, `,"hlc":`...)
			b = appendHLC(b, c.HLC)
			b = append(b, `,"value":`...)
			var e *Error
			if b, e = appendValue(b, c.Value); e != nil && cerr == nil {
				cerr = fmt.Errorf("syncproto: conflict on %q: %w", c.Field, e)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if len(rn.Deletes) > 0 {
		b = append(b, `,"deletes":[`...)
		for i, d := range rn.Deletes {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"context":`...)
			b = appendVector(b, d.Context)
			b = append(b, `,"dot":`...)
			b = appendDot(b, d.Dot)
			b = append(b, `,"hlc":`...)
			b = appendHLC(b, d.HLC)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"fields":{`...)
	names := make([]string, 0, len(rn.Fields))
	for k := range rn.Fields {
		names = append(names, k)
	}
	slices.Sort(names)
	for i, k := range names {
		f := rn.Fields[k]
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, `:{"dot":`...)
		b = appendDot(b, f.Dot)
		b = append(b, `,"hlc":`...)
		b = appendHLC(b, f.HLC)
		b = append(b, `,"value":`...)
		var e *Error
		if b, e = appendValue(b, f.Value); e != nil && ferr == nil {
			ferr = fmt.Errorf("syncproto: field %q: %w", k, e)
		}
		b = append(b, '}')
	}
	b = append(b, `},"id":`...)
	b = appendString(b, rn.ID)
	if len(rn.Keeps) > 0 {
		b = append(b, `,"keeps":[`...)
		for i, k := range rn.Keeps {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"dot":`...)
			b = appendDot(b, k.Dot)
			b = append(b, `,"hlc":`...)
			b = appendHLC(b, k.HLC)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"pairing":`...)
	b = appendString(b, rn.Pairing)
	b = append(b, `,"vv":`...)
	b = appendVector(b, rn.VV)
	b = append(b, '}')
	if ferr != nil {
		return b, ferr
	}
	return b, cerr
}

// UnmarshalJSON decodes and validates a record (see MarshalJSON for the
// shape). Keys may come in any order and values in any valid JSON spelling;
// values are stored canonical. Unknown keys are ignored. It applies no size
// limits: use DecodeRecord for untrusted input.
func (r *Record) UnmarshalJSON(b []byte) error {
	v, err := decodeRecord(b, trustedLimits)
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// DecodeRecord decodes and validates one record from untrusted input,
// enforcing lim (zero fields of lim take their defaults). Errors are *Error.
func DecodeRecord(data []byte, lim Limits) (Record, error) {
	r, err := decodeRecord(data, lim)
	if err != nil {
		return Record{}, err
	}
	return r, nil
}

func decodeRecord(data []byte, lim Limits) (Record, *Error) {
	n, err := parseJSON(data, lim)
	if err != nil {
		return Record{}, err
	}
	return recordFrom(&n, "", lim.withDefaults(), data)
}
