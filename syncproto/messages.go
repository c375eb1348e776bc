package syncproto

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
)

// Version is the protocol version this package speaks. Every message
// carries it as "v"; decoders refuse any other.
const Version = 1

// PushRequest is the body of POST /v1/sync/push: a device's outbox, in
// counter order, at most Limits.MaxChanges changes.
//
//	{"v":1,"device":"phone-7","changes":[{"dot":"phone-7:42","hlc":[1700000000000,0],"record":{…}}]}
type PushRequest struct {
	V       int       `json:"v"`
	Device  ReplicaID `json:"device"`
	Changes []Change  `json:"changes"`
}

// Status is the outcome of one pushed change.
type Status string

// The outcomes of a pushed change.
const (
	// StatusApplied: merged and committed; the result is exactly the
	// device's record.
	StatusApplied Status = "applied"
	// StatusMerged: merged and committed; the result also holds writes the
	// device has not seen (it gets them on its next pull).
	StatusMerged Status = "merged"
	// StatusDuplicate: the server had already processed this dot but no
	// longer keeps its answer; nothing changed. (A duplicate whose answer is
	// kept gets that answer again, byte for byte.)
	StatusDuplicate Status = "duplicate"
	// StatusRejected: not committed; Error says why. Other changes are not
	// affected.
	StatusRejected Status = "rejected"
)

// Result answers one change.
//
//	{"dot":"phone-7:42","status":"applied","seq":118,"stamp":[{"collection":"visits",…,"dot":"srv-1:9","op":"set","values":{"received_at":"…"},"context":{"phone-7":42}}]}
//	{"dot":"phone-7:43","status":"rejected","error":{"code":"validation_failed","message":"rating must be 1 to 5","field":"rating"}}
type Result struct {
	Dot    Dot    `json:"dot"`
	Status Status `json:"status"`
	Seq    uint64 `json:"seq,omitempty"` // the pairing sequence the merged version was committed at
	Error  *Error `json:"error,omitempty"`
	// Stamp (optional) says what the server added to an applied change's
	// record before storing it at Seq: its own writes (received_at, …), in
	// order, each made with the server's replica id on the record as the
	// device pushed it. StoredVersion applies them. An empty list says the
	// stored version is the pushed record itself. Absent (nil) says
	// nothing: an older server, a status other than applied, or a record
	// changed again later in the same push. Older clients ignore it.
	Stamp []Write `json:"stamp,omitzero"`
}

// StoredVersion returns the version the server stored at r.Seq for the
// change c that r answers, rebuilt on the device without pulling it back:
// c's record with r.Stamp applied. ok is false when r does not say (not
// applied, no sequence, no stamp): pull it as usual. The error reports a
// stamp that does not apply to c's record.
func (r Result) StoredVersion(c Change) (stored Record, ok bool, err error) {
	if r.Status != StatusApplied || r.Seq == 0 || r.Stamp == nil || r.Dot != c.Dot {
		return Record{}, false, nil
	}
	stored = c.Record
	for _, w := range r.Stamp {
		if stored.VV.Covers(w.Dot) {
			return Record{}, false, Errorf(CodeBadRequest, "stamp %s of %s: the record has seen it already", w.Dot, r.Dot)
		}
		if stored, err = Apply(stored, w); err != nil {
			return Record{}, false, err
		}
	}
	return stored, true, nil
}

// PushAnswer answers a push: one Result per change, in the request's order.
//
//	{"v":1,"results":[{"dot":"phone-7:42","status":"applied","seq":118}]}
type PushAnswer struct {
	V       int      `json:"v"`
	Results []Result `json:"results"`
}

// PullRequest is the body of POST /v1/sync/pull. Cursor holds, per pairing,
// the last sequence the device has received (a pairing missing means 0:
// from the start). Limit asks for at most that many records (0: the
// server's default; the server caps it). Held (optional) names sequences
// past the cursor whose versions the device holds already: the answer
// leaves them out (see Held).
//
//	{"v":1,"cursor":{"p-17":118,"p-20":0},"limit":500,"held":{"p-17":[[120,125]]}}
type PullRequest struct {
	V      int    `json:"v"`
	Cursor Cursor `json:"cursor"`
	Limit  int    `json:"limit,omitempty"`
	Held   Held   `json:"held,omitempty"`
}

// PulledRecord is one record version in a pull answer, with the pairing
// sequence it was committed at.
type PulledRecord struct {
	Pairing string `json:"pairing"`
	Seq     uint64 `json:"seq"`
	Record  Record `json:"record"`
	// Raw is the record's JSON as it arrived, set by DecodePullAnswer only
	// when it is already canonical (Record.MarshalJSON gives the same
	// bytes from a conforming server): a client with no copy of the record
	// may store it as it is instead of encoding Record again. It aliases the
	// decoded body.
	Raw []byte `json:"-"`
}

// PullAnswer is one page of a pull: record versions committed after the
// request's cursor, in sequence order per pairing, only in pairings the user
// may see now. Cursor holds the new position of every pairing the page
// covers; More says another page is waiting. Resync lists pairings whose
// cursor is older than the tombstone horizon (CodeResyncRequired): the
// client drops its copy of them, keeping its pending writes, and pulls them
// from 0. Purge lists pairings the user may no longer see: the client pushes
// what it has for them, then deletes its copy and their cursor entries.
//
//	{"v":1,"records":[{"pairing":"p-17","seq":119,"record":{…}}],"cursor":{"p-17":119},"more":false,"resync":["p-20"]}
type PullAnswer struct {
	V       int            `json:"v"`
	Records []PulledRecord `json:"records"`
	Cursor  Cursor         `json:"cursor"`
	More    bool           `json:"more"`
	Resync  []string       `json:"resync,omitempty"`
	Purge   []string       `json:"purge,omitempty"`
}

// Scope is a pairing a user syncs, with its current sequence, so a client can
// show progress and "caught up".
type Scope struct {
	Pairing string `json:"pairing"`
	Seq     uint64 `json:"seq"`
}

// ScopesAnswer answers GET /v1/sync/scopes: the pairings this user syncs and
// those the device must purge.
//
//	{"v":1,"pairings":[{"pairing":"p-17","seq":119}],"purge":["p-3"]}
type ScopesAnswer struct {
	V        int      `json:"v"`
	Pairings []Scope  `json:"pairings"`
	Purge    []string `json:"purge,omitempty"`
}

// Encode returns the wire form of a message (or a Record or Write): compact
// JSON, without the HTML escaping encoding/json applies. Records are
// canonical. It fails only on an invalid field value or dot.
func Encode(msg any) ([]byte, error) {
	switch m := msg.(type) {
	case Record:
		return m.MarshalJSON()
	case *Record:
		return m.MarshalJSON()
	case Change:
		return appendChange(nil, m)
	case *Change:
		return appendChange(nil, *m)
	case Write:
		return appendWrite(nil, m)
	case *Write:
		return appendWrite(nil, *m)
	case *PushRequest:
		return m.appendJSON()
	case PushRequest:
		return m.appendJSON()
	case *PullAnswer:
		return m.MarshalJSON()
	case PullAnswer:
		return m.MarshalJSON()
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(msg); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// MarshalJSON encodes a pull answer without going through reflection (pull
// pages are the largest messages).
func (a PullAnswer) MarshalJSON() ([]byte, error) {
	size := 64
	for _, r := range a.Records {
		size += 64 + 96*(len(r.Record.Fields)+len(r.Record.Conflicts))
	}
	b := make([]byte, 0, size)
	b = append(b, `{"v":`...)
	b = strconv.AppendInt(b, int64(a.V), 10)
	b = append(b, `,"records":[`...)
	for i, r := range a.Records {
		if i > 0 {
			b = append(b, ',')
		}
		for name, f := range r.Record.Fields {
			if !isCanonical(f.Value) {
				if _, err := canonicalValue(f.Value, trustedLimits); err != nil {
					return nil, Errorf(CodeInternal, "record %s/%s field %q: %s", r.Record.Collection, r.Record.ID, name, err.Message)
				}
			}
		}
		for _, c := range r.Record.Conflicts {
			if !isCanonical(c.Value) {
				if _, err := canonicalValue(c.Value, trustedLimits); err != nil {
					return nil, Errorf(CodeInternal, "record %s/%s conflict on %q: %s", r.Record.Collection, r.Record.ID, c.Field, err.Message)
				}
			}
		}
		b = append(b, `{"pairing":`...)
		b = appendString(b, r.Pairing)
		b = append(b, `,"seq":`...)
		b = strconv.AppendUint(b, r.Seq, 10)
		b = append(b, `,"record":`...)
		b, _ = r.Record.appendJSON(b) // values checked above
		b = append(b, '}')
	}
	b = append(b, `],"cursor":`...)
	b = appendCursor(b, a.Cursor)
	b = append(b, `,"more":`...)
	b = strconv.AppendBool(b, a.More)
	if len(a.Resync) > 0 {
		b = append(b, `,"resync":`...)
		b = appendStrings(b, a.Resync)
	}
	if len(a.Purge) > 0 {
		b = append(b, `,"purge":`...)
		b = appendStrings(b, a.Purge)
	}
	return append(b, '}'), nil
}

func appendStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// appendChange appends the wire form of a change, as encoding/json would
// write it (without HTML escaping) but without reflection.
func appendChange(b []byte, c Change) ([]byte, error) {
	if !c.Dot.Valid() {
		return nil, Errorf(CodeBadRequest, "invalid dot %q", truncate(c.Dot.String(), 80))
	}
	b = append(b, `{"dot":`...)
	b = appendDot(b, c.Dot)
	b = append(b, `,"hlc":`...)
	b = appendHLC(b, c.HLC)
	b = append(b, `,"record":`...)
	b, err := c.Record.appendJSON(b)
	if err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

// appendJSON encodes a push request without reflection.
func (r PushRequest) appendJSON() ([]byte, error) {
	b := make([]byte, 0, 64+2700*len(r.Changes))
	b = append(b, `{"v":`...)
	b = strconv.AppendInt(b, int64(r.V), 10)
	b = append(b, `,"device":`...)
	b = appendString(b, string(r.Device))
	b = append(b, `,"changes":`...)
	if r.Changes == nil {
		return append(b, "null}"...), nil
	}
	b = append(b, '[')
	for i, c := range r.Changes {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = appendChange(b, c); err != nil {
			return nil, err
		}
	}
	return append(b, "]}"...), nil
}

// appendWrite appends the wire form of a write (the fields in Write's
// order, values in canonical form, "values" left out when empty), as
// encoding/json would write it without HTML escaping.
func appendWrite(b []byte, w Write) ([]byte, error) {
	if !w.Dot.Valid() {
		return nil, Errorf(CodeBadRequest, "invalid dot %q", truncate(w.Dot.String(), 80))
	}
	b = append(b, `{"collection":`...)
	b = appendString(b, w.Collection)
	b = append(b, `,"id":`...)
	b = appendString(b, w.ID)
	b = append(b, `,"pairing":`...)
	b = appendString(b, w.Pairing)
	b = append(b, `,"dot":`...)
	b = appendDot(b, w.Dot)
	b = append(b, `,"hlc":`...)
	b = appendHLC(b, w.HLC)
	b = append(b, `,"op":`...)
	b = appendString(b, string(w.Op))
	if len(w.Values) > 0 {
		names := make([]string, 0, len(w.Values))
		for k := range w.Values {
			names = append(names, k)
		}
		slices.Sort(names)
		b = append(b, `,"values":{`...)
		for i, k := range names {
			if i > 0 {
				b = append(b, ',')
			}
			v, e := canonicalValue(w.Values[k], trustedLimits)
			if e != nil {
				return nil, fmt.Errorf("syncproto: write %s value of %q: %w", w.Dot, k, e)
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = append(b, v...)
		}
		b = append(b, '}')
	}
	b = append(b, `,"context":`...)
	if w.Context == nil {
		b = append(b, "null"...)
	} else {
		b = appendVector(b, w.Context)
	}
	return append(b, '}'), nil
}
