package syncproto

import (
	"bytes"
	"encoding/json"
	"slices"
)

// Change is one pushed write: its dot (the device's replica id and counter:
// the idempotency key), its HLC, and the full state of the record just after
// the write on the device. The server merges Record into its stored version
// with Merge; since Merge is idempotent, a replayed change changes nothing.
//
// JSON: {"dot":"phone-7:42","hlc":[1700000000000,0],"record":{…}}.
type Change struct {
	Dot    Dot    `json:"dot"`
	HLC    HLC    `json:"hlc"`
	Record Record `json:"record"`
	// decoded is set by DecodePush (both its paths) on a change it
	// checked as Check would: the change passed validate, its record
	// passed validate, and every value passed checkCanonical. Check then
	// skips those checks; the checks against the stored record and the
	// device remain. A caller that changes a decoded change's record
	// must clear it (build a new Change).
	decoded bool
}

// validate checks that c is a well-formed change: its record is valid and
// holds c's write (an entry, delete or keep with c's dot, all with c's HLC),
// and its vector's counter for c's replica is c's counter (the state just
// after the write, not later).
func (c Change) validate(path string) *Error {
	if !c.Dot.Valid() {
		return fieldErr(CodeBadRequest, join(path, "dot"), "invalid dot %q", truncate(c.Dot.String(), 80))
	}
	if !c.HLC.Valid() {
		return fieldErr(CodeBadRequest, join(path, "hlc"), "invalid hlc %s", c.HLC)
	}
	rp := join(path, "record")
	if got := c.Record.VV[c.Dot.Replica]; got != c.Dot.Counter {
		return fieldErr(CodeBadRequest, join(rp, "vv"), "the record's vv holds %s:%d, want the change's own counter %d", c.Dot.Replica, got, c.Dot.Counter)
	}
	found := false
	check := func(d Dot, h HLC) *Error {
		if d != c.Dot {
			return nil
		}
		found = true
		if h != c.HLC {
			return fieldErr(CodeBadRequest, rp, "an entry of write %s has hlc %s, want the change's %s", d, h, c.HLC)
		}
		return nil
	}
	for _, f := range c.Record.Fields {
		if e := check(f.Dot, f.HLC); e != nil {
			return e
		}
	}
	for _, x := range c.Record.Conflicts {
		if e := check(x.Dot, x.HLC); e != nil {
			return e
		}
	}
	for _, d := range c.Record.Deletes {
		if e := check(d.Dot, d.HLC); e != nil {
			return e
		}
	}
	for _, k := range c.Record.Keeps {
		if e := check(k.Dot, k.HLC); e != nil {
			return e
		}
	}
	if !found {
		return fieldErr(CodeBadRequest, rp, "the record holds nothing written by %s", c.Dot)
	}
	return nil
}

// Written reports what c's write did: OpSet with the values it set (fields
// whose value or conflict entry carries c's dot), OpDelete or OpKeep. The
// server checks its domain rules on this.
func (c Change) Written() (Op, map[string]json.RawMessage) {
	for _, d := range c.Record.Deletes {
		if d.Dot == c.Dot {
			return OpDelete, nil
		}
	}
	for _, k := range c.Record.Keeps {
		if k.Dot == c.Dot {
			return OpKeep, nil
		}
	}
	values := map[string]json.RawMessage{}
	for name, f := range c.Record.Fields {
		if f.Dot == c.Dot {
			values[name] = f.Value
		}
	}
	for _, x := range c.Record.Conflicts {
		if x.Dot == c.Dot {
			values[x.Field] = x.Value
		}
	}
	return OpSet, values
}

// Check reports whether change c, pushed by device, may be merged into
// stored, the server's current version of the record (the zero Record when
// there is none). Beyond c being well formed and made by device, it holds
// that:
//
//   - the key matches stored's, and the pairing too (a record never moves);
//   - c's record has seen no write of another replica that the server has
//     not (a device learns others' writes only from the server), so it
//     cannot erase data by claiming to have overwritten it;
//   - every entry in c's record other than c's own write is one the server
//     holds, identically, or one it has seen and overwritten. A device
//     entry the server has never accepted means c was built on a write the
//     server rejected: c is rejected too, with CodeValidation, rather than
//     letting the rejected write in through it.
//
// The error is a *Error for a rejected Result: CodeBadRequest when c is
// malformed, CodeValidation otherwise. Check does not apply domain rules.
//
// A change as DecodePush returned it is well formed already (the decoder
// ran the same checks: see Change.decoded), and Check does not check that
// again.
func (c Change) Check(device ReplicaID, stored Record) *Error {
	if c.Dot.Replica != device {
		return fieldErr(CodeBadRequest, "dot", "change %s was not made by device %s", c.Dot, device)
	}
	if !c.decoded {
		if e := c.Record.validate("record", true); e != nil {
			return e
		}
		if e := c.validate(""); e != nil {
			return e
		}
	}
	r := c.Record
	if !stored.IsZero() {
		if r.Collection != stored.Collection || r.ID != stored.ID {
			return fieldErr(CodeBadRequest, "record", "change for %s/%s merged into %s/%s", r.Collection, r.ID, stored.Collection, stored.ID)
		}
		if r.Pairing != stored.Pairing {
			// Named by a record of another pairing: refused without saying
			// which pairing or what the record is (the id is taken; the
			// device makes a new one), the same answer wherever it lives.
			e := fieldErr(CodeValidation, "pairing", "the id of %s/%s is taken in another pairing: record it again with a new id", r.Collection, r.ID)
			e.Reason = "id_taken"
			return e
		}
	}
	for rep, n := range r.VV {
		if rep != device && n > stored.VV[rep] {
			return fieldErr(CodeValidation, "record.vv", "the change claims to have seen %s:%d, which the server has not", rep, n)
		}
	}
	// Every other entry must be one the server holds, or has overwritten.
	storedConflicts := conflictsByField(stored.Conflicts)
	known := func(field string, d Dot, h HLC, v json.RawMessage) *Error {
		if f, ok := stored.Fields[field]; ok && f.Dot == d {
			if f.HLC != h || !bytes.Equal(f.Value, v) {
				return fieldErr(CodeValidation, field, "write %s differs from the server's copy", d)
			}
			return nil
		}
		for _, x := range storedConflicts[field] {
			if x.Dot == d {
				if x.HLC != h || !bytes.Equal(x.Value, v) {
					return fieldErr(CodeValidation, field, "write %s differs from the server's copy", d)
				}
				return nil
			}
		}
		if !stored.VV.Covers(d) {
			return fieldErr(CodeValidation, field, "the change builds on write %s, which the server has not accepted (rejected, or not pushed yet)", d)
		}
		return nil
	}
	for name, f := range r.Fields {
		if f.Dot != c.Dot {
			if e := known(name, f.Dot, f.HLC, f.Value); e != nil {
				return e
			}
		}
	}
	for _, x := range r.Conflicts {
		if x.Dot != c.Dot {
			if e := known(x.Field, x.Dot, x.HLC, x.Value); e != nil {
				return e
			}
		}
	}
	for _, d := range r.Deletes {
		if d.Dot == c.Dot {
			continue
		}
		i := slices.IndexFunc(stored.Deletes, func(x Delete) bool { return x.Dot == d.Dot })
		switch {
		case i >= 0 && (stored.Deletes[i].HLC != d.HLC || stored.Deletes[i].Context.Compare(d.Context) != Equal):
			return fieldErr(CodeValidation, "deletes", "delete %s differs from the server's copy", d.Dot)
		case i < 0 && !stored.VV.Covers(d.Dot):
			return fieldErr(CodeValidation, "deletes", "the change builds on delete %s, which the server has not accepted", d.Dot)
		}
	}
	for _, k := range r.Keeps {
		if k.Dot == c.Dot {
			continue
		}
		i := slices.IndexFunc(stored.Keeps, func(x Keep) bool { return x.Dot == k.Dot })
		switch {
		case i >= 0 && stored.Keeps[i] != k:
			return fieldErr(CodeValidation, "keeps", "keep %s differs from the server's copy", k.Dot)
		case i < 0 && !stored.VV.Covers(k.Dot):
			return fieldErr(CodeValidation, "keeps", "the change builds on keep %s, which the server has not accepted", k.Dot)
		}
	}
	return nil
}

// MergeInto merges c into stored (the zero Record when there is none) and
// reports the status to answer: StatusApplied when the result is exactly the
// device's record (the device had seen everything the server had), else
// StatusMerged (the result holds writes the device has not seen yet; it gets
// them on its next pull). Call Check first.
//
// Into nothing stored (a new record), a change DecodePush checked
// (Change.decoded) merges to its own record, which is returned as it is:
// the zero Record is Merge's identity on a valid record, and the decoder
// has normalized it. The result then shares c.Record's maps and slices;
// like Merge's inputs, neither is to be modified.
func (c Change) MergeInto(stored Record) (Record, Status) {
	if c.decoded && stored.IsZero() {
		return c.Record, StatusApplied
	}
	m := Merge(stored, c.Record)
	if m.Equal(c.Record) {
		return m, StatusApplied
	}
	return m, StatusMerged
}
