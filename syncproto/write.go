package syncproto

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"time"
)

// Op is what a write does.
type Op string

// The three kinds of write.
const (
	OpSet    Op = "set"    // set some fields (to null to clear one)
	OpDelete Op = "delete" // delete the record
	OpKeep   Op = "keep"   // keep the record: clear the deletes seen (undelete, or settle an edit/delete conflict)
)

// Write is one local write as a client keeps it in its outbox: the record it
// touches, its dot and HLC, what it does, and Context, what the writer had
// seen of the record (its vector just before the write). Context makes a
// write replayable: applied again on a newer base, it overwrites only what
// its writer had seen, so a concurrent write that arrived since is kept as a
// conflict rather than silently lost.
//
// JSON: {"collection":…,"id":…,"pairing":…,"dot":"A:7","hlc":[ms,n],
// "op":"set","values":{"notes":"…"},"context":{"A":6,"B":2}}.
type Write struct {
	Collection string                     `json:"collection"`
	ID         string                     `json:"id"`
	Pairing    string                     `json:"pairing"`
	Dot        Dot                        `json:"dot"`
	HLC        HLC                        `json:"hlc"`
	Op         Op                         `json:"op"`
	Values     map[string]json.RawMessage `json:"values,omitempty"`
	Context    Vector                     `json:"context"`
}

func (w Write) validate(lim Limits) *Error {
	if !validName(w.Collection, maxNameLen) || !validName(w.ID, maxIDLen) || !validName(w.Pairing, maxNameLen) {
		return Errorf(CodeBadRequest, "write %s: invalid key %q/%q in pairing %q", w.Dot, truncate(w.Collection, 80), truncate(w.ID, 80), truncate(w.Pairing, 80))
	}
	if !w.Dot.Valid() {
		return Errorf(CodeBadRequest, "write: invalid dot %q", truncate(w.Dot.String(), 80))
	}
	if !w.HLC.Valid() {
		return Errorf(CodeBadRequest, "write %s: invalid hlc %s", w.Dot, w.HLC)
	}
	if e := w.Context.validate("context"); e != nil {
		return e
	}
	if w.Context.Covers(w.Dot) {
		return Errorf(CodeBadRequest, "write %s: its context already covers its own dot", w.Dot)
	}
	switch w.Op {
	case OpSet:
		if len(w.Values) == 0 {
			return Errorf(CodeBadRequest, "write %s: a set needs at least one value", w.Dot)
		}
		if lim.MaxFields >= 0 && len(w.Values) > lim.MaxFields {
			return Errorf(CodeTooLarge, "write %s: %d fields, over the limit of %d", w.Dot, len(w.Values), lim.MaxFields)
		}
		for name := range w.Values {
			if !validFieldName(name) {
				return fieldErr(CodeBadRequest, name, "invalid field name %q: want a letter or '_', then letters, digits or '_', 64 at most", truncate(name, 80))
			}
		}
	case OpDelete, OpKeep:
		if len(w.Values) != 0 {
			return Errorf(CodeBadRequest, "write %s: a %s carries no values", w.Dot, w.Op)
		}
	default:
		return Errorf(CodeBadRequest, "write %s: unknown op %q", w.Dot, truncate(string(w.Op), 40))
	}
	return nil
}

// valueLimits are the limits a field value must meet so that it fits in a
// push (or pull answer) under lim.
func valueLimits(lim Limits) Limits {
	lim = lim.withDefaults()
	if lim.MaxDepth >= 0 {
		lim.MaxDepth = max(lim.MaxDepth-valueDepth, 1)
	}
	lim.MaxBytes = -1
	return lim
}

// Apply returns r with the write w applied. It overwrites exactly what w's
// writer had seen (entries whose dots w.Context covers):
//
//   - set: for each field set, the field's entries inside the context go and
//     w's entry comes in (it is the value unless a concurrent entry the
//     writer had not seen outranks it, which then stays the value);
//   - delete: the deletes and keeps inside the context go, and a Delete with
//     w's dot and context comes in;
//   - keep: the deletes and keeps inside the context go, and a Keep with w's
//     dot comes in;
//
// and r's vector takes w's dot (not its context). If r has already seen w
// (its vector covers w.Dot), Apply returns r unchanged: replaying a write
// on a base that holds it is harmless. r may be the zero Record (the first
// write to a record); otherwise its key must match w's. Values must be valid
// JSON; they are stored canonical. Apply never modifies r.
func Apply(r Record, w Write) (Record, error) {
	out, err := apply(r, w, DefaultLimits())
	if err != nil {
		return Record{}, err
	}
	return out, nil
}

func apply(r Record, w Write, lim Limits) (Record, *Error) {
	if e := w.validate(lim); e != nil {
		return Record{}, e
	}
	if r.Collection == "" && r.ID == "" && r.Pairing == "" {
		r.Collection, r.ID, r.Pairing = w.Collection, w.ID, w.Pairing
	} else if r.Collection != w.Collection || r.ID != w.ID || r.Pairing != w.Pairing {
		return Record{}, Errorf(CodeBadRequest, "write %s for %s/%s in %s applied to record %s/%s in %s", w.Dot, w.Collection, w.ID, w.Pairing, r.Collection, r.ID, r.Pairing)
	}
	if r.VV.Covers(w.Dot) {
		return r, nil
	}
	var values map[string]json.RawMessage
	if w.Op == OpSet {
		vl := valueLimits(lim)
		values = make(map[string]json.RawMessage, len(w.Values))
		for name, v := range w.Values {
			c, e := canonicalValue(v, vl)
			if e != nil {
				e.Field = name
				e.Message = "value of " + name + ": " + e.Message
				return Record{}, e
			}
			values[name] = c
		}
	}
	out := r.Clone()
	switch w.Op {
	case OpSet:
		for name, v := range values {
			live := out.Conflicts[:0:0]
			var rest []Conflict
			for _, c := range out.Conflicts {
				switch {
				case c.Field != name:
					rest = append(rest, c)
				case !w.Context.Covers(c.Dot):
					live = append(live, c)
				}
			}
			if f, ok := out.Fields[name]; ok && !w.Context.Covers(f.Dot) {
				live = append(live, Conflict{Field: name, Value: f.Value, Dot: f.Dot, HLC: f.HLC})
			}
			live = append(live, Conflict{Field: name, Value: v, Dot: w.Dot, HLC: w.HLC})
			win := 0
			for i := 1; i < len(live); i++ {
				if outranks(live[i].HLC, live[i].Dot, live[win].HLC, live[win].Dot) {
					win = i
				}
			}
			out.Fields[name] = Field{Value: live[win].Value, Dot: live[win].Dot, HLC: live[win].HLC}
			for i, c := range live {
				if i != win {
					rest = append(rest, c)
				}
			}
			out.Conflicts = rest
		}
	case OpDelete, OpKeep:
		out.Deletes = slices.DeleteFunc(out.Deletes, func(d Delete) bool { return w.Context.Covers(d.Dot) })
		out.Keeps = slices.DeleteFunc(out.Keeps, func(k Keep) bool { return w.Context.Covers(k.Dot) })
		if w.Op == OpDelete {
			out.Deletes = append(out.Deletes, Delete{Dot: w.Dot, HLC: w.HLC, Context: w.Context.Clone()})
		} else {
			out.Keeps = append(out.Keeps, Keep{Dot: w.Dot, HLC: w.HLC})
		}
	}
	if len(out.Conflicts) == 0 {
		out.Conflicts = nil
	}
	if len(out.Deletes) == 0 {
		out.Deletes = nil
	}
	if len(out.Keeps) == 0 {
		out.Keeps = nil
	}
	out.VV.witness(w.Dot)
	out.normalize()
	return out, nil
}

// Writer stamps one replica's local writes: it hands out the replica's dots
// (Counter+1, Counter+2, …) and HLC timestamps, and applies each write to
// the record it is given. A phone has one Writer for all its records; the
// server has one per process, with its own replica id, for writes made
// through administrator routes. Not safe for concurrent use.
//
// Counter and Clock are the Writer's state: persist them, in the same
// transaction as the outbox entry, before the write is used anywhere, so
// that a restarted replica never hands out a dot twice.
type Writer struct {
	Replica ReplicaID
	Counter uint64 // the last counter handed out (0 before the first write)
	Clock   HLC    // the last timestamp handed out
	Limits  Limits // checked on values; zero fields take DefaultLimits
}

// Set sets fields of r (each value is JSON; null clears a field, which is
// never removed) and returns the new local state and the write for the
// outbox. The write overwrites the field's value and every conflict entry of
// those fields: the writer has seen them all. r is the current local state,
// or NewRecord(collection, id, pairing) for a new record.
//
// A value equal to the field's current one (compared in canonical form, so
// key order and spelling do not matter) is left out of the write when the
// field has no conflict entries and the record is not deleted: writing what
// is already there would only make a conflict with a concurrent write of
// another replica, between two equal values (a visit's participants
// re-sent in another key order). If every value is left out,
// nothing is written: Set returns r, a zero Write (Op "") and a nil error,
// and the Writer's counter and clock stay as they were.
func (w *Writer) Set(r Record, values map[string]json.RawMessage, now time.Time) (Record, Write, error) {
	return w.write(r, OpSet, values, now)
}

// Delete deletes r and returns the new local state and the write. The delete
// holds what the writer has seen; an edit it has not seen will bring the
// record back, flagged (Record.EditDeleteConflict).
func (w *Writer) Delete(r Record, now time.Time) (Record, Write, error) {
	return w.write(r, OpDelete, nil, now)
}

// Keep keeps r: it clears every delete the writer has seen, which undeletes
// a deleted record and settles an edit/delete conflict in favour of the
// record. A delete made concurrently (without seeing the keep) flags the
// record again rather than deleting it.
func (w *Writer) Keep(r Record, now time.Time) (Record, Write, error) {
	return w.write(r, OpKeep, nil, now)
}

func (w *Writer) write(r Record, op Op, values map[string]json.RawMessage, now time.Time) (Record, Write, error) {
	if !w.Replica.Valid() {
		return Record{}, Write{}, Errorf(CodeBadRequest, "writer: invalid replica id %q", truncate(string(w.Replica), 80))
	}
	if w.Counter >= MaxCounter {
		return Record{}, Write{}, Errorf(CodeBadRequest, "writer: counter exhausted")
	}
	dot := Dot{Replica: w.Replica, Counter: w.Counter + 1}
	if r.VV.Covers(dot) {
		return Record{}, Write{}, Errorf(CodeConflict, "writer: record %s/%s has already seen %s: replica id %s was reused or its counter went back", r.Collection, r.ID, dot, w.Replica)
	}
	lim := w.Limits.withDefaults()
	if op == OpSet {
		if lim.MaxFields >= 0 {
			n := len(r.Fields)
			for name := range values {
				if _, ok := r.Fields[name]; !ok {
					n++
				}
			}
			if n > lim.MaxFields {
				return Record{}, Write{}, Errorf(CodeTooLarge, "writer: record would have %d fields, over the limit of %d", n, lim.MaxFields)
			}
		}
		// Store canonical values in the outbox entry too.
		vl := valueLimits(lim)
		canon := make(map[string]json.RawMessage, len(values))
		for name, v := range values {
			c, e := canonicalValue(v, vl)
			if e != nil {
				e.Field = name
				e.Message = "value of " + name + ": " + e.Message
				return Record{}, Write{}, e
			}
			canon[name] = c
		}
		values = unchanged(r, canon)
		if len(values) == 0 && len(canon) > 0 {
			return r, Write{}, nil
		}
	}
	clock := w.Clock.Recv(r.MaxHLC(), now)
	wr := Write{
		Collection: r.Collection, ID: r.ID, Pairing: r.Pairing,
		Dot: dot, HLC: clock, Op: op, Values: values, Context: r.VV.Clone(),
	}
	out, e := apply(r, wr, lim)
	if e != nil {
		return Record{}, Write{}, e
	}
	w.Counter, w.Clock = dot.Counter, clock
	return out, wr, nil
}

// Rebuild computes a client's local view of one record: base, the record as
// the client last received it from the server (the merge of everything
// pulled, or the zero Record), with its pending writes (outbox entries not
// rejected, in counter order) applied. Writes base has already seen are
// skipped: the server has settled them. It also returns, for each write
// applied, the Change to push for it: its dot and HLC with the view just
// after it. See the package documentation for when a client rebuilds.
func Rebuild(base Record, pending []Write) (Record, []Change, error) {
	view := base
	var changes []Change
	for i, w := range pending {
		if i > 0 && w.Dot.Replica == pending[i-1].Dot.Replica && w.Dot.Counter <= pending[i-1].Dot.Counter {
			return Record{}, nil, Errorf(CodeBadRequest, "rebuild: write %s follows %s: pending writes must be in counter order", w.Dot, pending[i-1].Dot)
		}
		if base.VV.Covers(w.Dot) {
			continue
		}
		v, err := Apply(view, w)
		if err != nil {
			return Record{}, nil, err
		}
		view = v
		changes = append(changes, Change{Dot: w.Dot, HLC: w.HLC, Record: view})
	}
	return view, changes, nil
}

// StandIn returns the change to push again for a write whose answer was
// lost and whose effect the base has seen since (a pull brought it): the
// write applied to an empty record whose vector is the write's context. It
// holds only the write's own entries, is valid for every kind of write (a
// delete's context included), and is the same each time, so the server
// answers it from its receipt. Its record is never folded into the base:
// its vector covers writes it does not hold.
func StandIn(w Write) (Change, error) {
	r := NewRecord(w.Collection, w.ID, w.Pairing)
	r.VV = w.Context.Clone()
	out, err := Apply(r, w)
	if err != nil {
		return Change{}, err
	}
	return Change{Dot: w.Dot, HLC: w.HLC, Record: out}, nil
}

// unchanged returns values without those equal to the field's current value
// in r (values and r's are canonical, so equal values are equal bytes),
// unless the field has conflict entries (writing any value settles them) or
// r is deleted (a write brings it back). It returns values itself when
// nothing is left out.
func unchanged(r Record, values map[string]json.RawMessage) map[string]json.RawMessage {
	if len(r.Fields) == 0 || r.Deleted() {
		return values
	}
	var out map[string]json.RawMessage
	for name, v := range values {
		f, ok := r.Fields[name]
		if !ok || !bytes.Equal(f.Value, v) || slices.ContainsFunc(r.Conflicts, func(c Conflict) bool { return c.Field == name }) {
			continue
		}
		if out == nil {
			out = maps.Clone(values)
		}
		delete(out, name)
	}
	if out == nil {
		return values
	}
	return out
}

// IsZero reports whether w is the zero Write: what Writer.Set returns when
// every value it was given is already the field's value (nothing to push).
func (w Write) IsZero() bool { return w.Op == "" && w.Dot == (Dot{}) }
