package syncproto

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)

func vals(kv ...string) map[string]json.RawMessage {
	m := map[string]json.RawMessage{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = json.RawMessage(kv[i+1])
	}
	return m
}

func mustSet(t testing.TB, w *Writer, r Record, v map[string]json.RawMessage, at time.Time) (Record, Write) {
	t.Helper()
	out, wr, err := w.Set(r, v, at)
	if err != nil {
		t.Fatalf("%s: Set: %v", w.Replica, err)
	}
	return out, wr
}

// concurrentNotes returns A's and B's states after both wrote notes from a
// shared base, and their merge (a conflict).
func concurrentNotes(t testing.TB) (a, b, m Record, wa, wb *Writer) {
	wa, wb = &Writer{Replica: "A"}, &Writer{Replica: "B"}
	base, _ := mustSet(t, wa, NewRecord("visits", "v1", "p1"), vals("notes", `"base"`), t0)
	a, _ = mustSet(t, wa, base, vals("notes", `"from A"`), t0.Add(2*time.Second))
	b, _ = mustSet(t, wb, base, vals("notes", `"from B"`), t0.Add(time.Second))
	return a, b, Merge(a, b), wa, wb
}

func TestWriterSet(t *testing.T) {
	w := &Writer{Replica: "A"}
	r, wr := mustSet(t, w, NewRecord("visits", "v1", "p1"), vals("notes", `{ "b":1, "a":"x" }`, "rating", "5"), t0)
	if got, want := string(r.Value("notes")), `{"a":"x","b":1}`; got != want {
		t.Errorf("notes = %s, want %s (canonical)", got, want)
	}
	if wr.Dot != (Dot{"A", 1}) || w.Counter != 1 || r.VV["A"] != 1 {
		t.Errorf("dot %v, counter %d, vv %v; want A:1, 1, A=1", wr.Dot, w.Counter, r.VV)
	}
	if got, want := string(wr.Values["notes"]), `{"a":"x","b":1}`; got != want {
		t.Errorf("outbox value = %s, want %s", got, want)
	}
	if wr.HLC != (HLC{Wall: t0.UnixMilli()}) {
		t.Errorf("hlc = %v, want %d.0", wr.HLC, t0.UnixMilli())
	}
	// A clock going back does not make the next write's HLC go back.
	r2, wr2 := mustSet(t, w, r, vals("notes", "null"), t0.Add(-time.Hour))
	if wr2.HLC.Compare(wr.HLC) <= 0 {
		t.Errorf("second HLC %v is not after the first %v", wr2.HLC, wr.HLC)
	}
	if got := string(r2.Value("notes")); got != "null" {
		t.Errorf("notes = %s, want null (cleared, not removed)", got)
	}
	if _, ok := r2.Fields["notes"]; !ok {
		t.Errorf("field notes was removed, want it kept with null")
	}
}

func TestWriterSetClearsSeenConflicts(t *testing.T) {
	_, _, m, _, _ := concurrentNotes(t)
	if len(m.Conflicts) != 1 {
		t.Fatalf("merge has %d conflicts, want 1: %s", len(m.Conflicts), m)
	}
	c := &Writer{Replica: "C"}
	other, _ := mustSet(t, c, m, vals("rating", "3"), t0.Add(3*time.Second))
	if len(other.Conflicts) != 1 {
		t.Errorf("writing another field: got %d conflicts, want 1 (only fields written are settled)", len(other.Conflicts))
	}
	settled, _ := mustSet(t, c, other, vals("notes", `"agreed"`), t0.Add(4*time.Second))
	if len(settled.Conflicts) != 0 {
		t.Errorf("got %d conflicts after writing notes, want 0: %s", len(settled.Conflicts), settled)
	}
}

func TestWriterErrors(t *testing.T) {
	r := NewRecord("visits", "v1", "p1")
	tests := []struct {
		name string
		w    Writer
		r    Record
		v    map[string]json.RawMessage
		code Code
	}{
		{"invalid replica", Writer{Replica: "a.b"}, r, vals("x", "1"), CodeBadRequest},
		{"no values", Writer{Replica: "A"}, r, vals(), CodeBadRequest},
		{"bad field name", Writer{Replica: "A"}, r, vals("$where", "1"), CodeBadRequest},
		{"field name with dot", Writer{Replica: "A"}, r, vals("a.b", "1"), CodeBadRequest},
		{"invalid JSON", Writer{Replica: "A"}, r, vals("x", "{"), CodeInvalidJSON},
		{"injection key inside a value", Writer{Replica: "A"}, r, vals("x", `{"$gt":""}`), CodeBadRequest},
		{"string too long", Writer{Replica: "A", Limits: Limits{MaxString: 3}}, r, vals("x", `"abcd"`), CodeTooLarge},
		{"too deep for a push", Writer{Replica: "A", Limits: Limits{MaxDepth: 8}}, r, vals("x", `[[[1]]]`), CodeInvalidJSON},
		{"too many fields", Writer{Replica: "A", Limits: Limits{MaxFields: 1}}, r, vals("x", "1", "y", "2"), CodeTooLarge},
		{"no key", Writer{Replica: "A"}, Record{}, vals("x", "1"), CodeBadRequest},
		{"counter reused", Writer{Replica: "A"}, Record{Collection: "v", ID: "1", Pairing: "p", VV: Vector{"A": 5}}, vals("x", "1"), CodeConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := tt.w.Counter
			_, _, err := tt.w.Set(tt.r, tt.v, t0)
			var e *Error
			if !errors.As(err, &e) || e.Code != tt.code {
				t.Fatalf("got error %v, want code %s", err, tt.code)
			}
			if tt.w.Counter != before {
				t.Errorf("counter moved to %d on error, want %d", tt.w.Counter, before)
			}
		})
	}
}

func TestDeleteKeep(t *testing.T) {
	wa, wb := &Writer{Replica: "A"}, &Writer{Replica: "B"}
	base, _ := mustSet(t, wa, NewRecord("visits", "v1", "p1"), vals("notes", `"n0"`), t0)
	del, _, err := wa.Delete(base, t0.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if !del.Deleted() || del.EditDeleteConflict() {
		t.Fatalf("after delete: Deleted=%v flagged=%v, want true false", del.Deleted(), del.EditDeleteConflict())
	}
	edit, _ := mustSet(t, wb, base, vals("notes", `"edit"`), t0.Add(time.Second))
	m := Merge(del, edit)
	if m.Deleted() || !m.EditDeleteConflict() || string(m.Value("notes")) != `"edit"` {
		t.Fatalf("edit vs delete: Deleted=%v flagged=%v notes=%s, want false true \"edit\"", m.Deleted(), m.EditDeleteConflict(), m.Value("notes"))
	}
	// An ordinary edit after seeing the flag does not clear it; keep does.
	again, _ := mustSet(t, wa, m, vals("rating", "1"), t0.Add(2*time.Second))
	if !again.EditDeleteConflict() {
		t.Errorf("edit after the flag: flagged=false, want true (only keep or delete settle it)")
	}
	kept, kw, err := wa.Keep(again, t0.Add(3*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if kept.Deleted() || kept.EditDeleteConflict() || kw.Op != OpKeep {
		t.Errorf("after keep: Deleted=%v flagged=%v op=%s, want false false keep", kept.Deleted(), kept.EditDeleteConflict(), kw.Op)
	}
	for _, s := range []Record{del, edit, m, again} {
		if got := Merge(kept, s); !got.Equal(kept) {
			t.Errorf("an older state brought something back:\n got  %s\n want %s", got, kept)
		}
	}
	// Undelete: keep on a deleted record.
	undel, _, err := wa.Keep(del, t0.Add(4*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if undel.Deleted() || string(undel.Value("notes")) != `"n0"` {
		t.Errorf("undelete: Deleted=%v notes=%s, want false \"n0\"", undel.Deleted(), undel.Value("notes"))
	}
}

func TestApplyReplay(t *testing.T) {
	wa := &Writer{Replica: "A"}
	base, _ := mustSet(t, wa, NewRecord("visits", "v1", "p1"), vals("notes", `"base"`), t0)
	_, w, err := wa.Set(base, vals("notes", `"from A"`), t0.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	// Meanwhile B's concurrent write reached the base. Replaying A's write on
	// it must keep B's value as a conflict: A had not seen it.
	wb := &Writer{Replica: "B"}
	bState, _ := mustSet(t, wb, base, vals("notes", `"from B"`), t0.Add(2*time.Second))
	newBase := Merge(base, bState)
	view, changes, err := Rebuild(newBase, []Write{w})
	if err != nil {
		t.Fatal(err)
	}
	if len(view.Conflicts) != 1 || len(changes) != 1 {
		t.Fatalf("got %d conflicts and %d changes, want 1 and 1: %s", len(view.Conflicts), len(changes), view)
	}
	if got, want := view.String(), Merge(base, Merge(bState, mustApply(t, base, w))).String(); got != want {
		t.Errorf("replay differs from merging the original states:\n got  %s\n want %s", got, want)
	}
	// A base that has seen the write skips it.
	seen := Merge(newBase, mustApply(t, base, w))
	view2, changes2, err := Rebuild(seen, []Write{w})
	if err != nil || len(changes2) != 0 || !view2.Equal(seen) {
		t.Errorf("Rebuild on a base that saw the write: %d changes, err %v; want 0, nil, base unchanged", len(changes2), err)
	}
	if _, err := Apply(NewRecord("visits", "other", "p1"), w); err == nil {
		t.Errorf("Apply to another record: got nil error, want one")
	}
}

func mustApply(t *testing.T, r Record, w Write) Record {
	t.Helper()
	out, err := Apply(r, w)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestChangeCheck(t *testing.T) {
	wa := &Writer{Replica: "A"}
	w1 := NewRecord("visits", "v1", "p1")
	s1, x1 := mustSet(t, wa, w1, vals("notes", `"one"`), t0)
	s2, x2 := mustSet(t, wa, s1, vals("rating", "9"), t0.Add(time.Second)) // to be rejected
	s3, x3 := mustSet(t, wa, s2, vals("notes", `"three"`), t0.Add(2*time.Second))
	stored := s1 // the server accepted A:1 only
	ch := func(r Record, w Write) Change { return Change{Dot: w.Dot, HLC: w.HLC, Record: r} }
	forged := s3.Clone()
	forged.VV["Z"] = 4
	tampered := s3.Clone()
	f := tampered.Fields["rating"] // A:2, which the server holds as 9
	f.Value = json.RawMessage("10")
	tampered.Fields["rating"] = f
	moved := s1.Clone()
	moved.Pairing = "p2"
	// Z's write reached the server; A's next change lies about its value.
	zs, _ := mustSet(t, &Writer{Replica: "Z"}, s1, vals("title", `"t"`), t0)
	lie := zs.Clone()
	lt := lie.Fields["title"]
	lt.Value = json.RawMessage(`"forged"`)
	lie.Fields["title"] = lt
	lieState, lieW := mustSet(t, &Writer{Replica: "A", Counter: 1}, lie, vals("rating", "2"), t0)
	tests := []struct {
		name   string
		c      Change
		stored Record
		code   Code
		msg    string
	}{
		{"first write, nothing stored", ch(s1, x1), Record{}, "", ""},
		{"next write on stored", ch(s2, x2), stored, "", ""},
		{"builds on a write the server has not accepted", ch(s3, x3), stored, CodeValidation, "A:2"},
		{"other device", ch(s1, x1), Record{}, CodeBadRequest, "not made by"},
		{"claims to have seen unknown writes", ch(forged, x3), s2, CodeValidation, "Z:4"},
		{"later state than its write", Change{Dot: x2.Dot, HLC: x2.HLC, Record: s3}, stored, CodeBadRequest, "own counter"},
		{"wrong HLC", Change{Dot: x3.Dot, HLC: HLC{1, 1}, Record: s3}, s2, CodeBadRequest, "hlc"},
		{"moved pairing", ch(moved, x1), Record{}, "", ""},
		{"pairing differs from stored", ch(moved, x1), s1, CodeValidation, "pairing"},
		{"own earlier entry differs from the server's", ch(tampered, x3), s2, CodeValidation, "differs"},
		{"foreign entry differs from the server's", ch(lieState, lieW), zs, CodeValidation, "differs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			device := ReplicaID("A")
			if tt.name == "other device" {
				device = "B"
			}
			e := tt.c.Check(device, tt.stored)
			switch {
			case tt.code == "" && e != nil:
				t.Fatalf("got %v, want no error", e)
			case tt.code != "" && e == nil:
				t.Fatalf("got no error, want %s", tt.code)
			case tt.code != "" && (e.Code != tt.code || !strings.Contains(e.Message, tt.msg)):
				t.Fatalf("got %v, want code %s and a message naming %q", e, tt.code, tt.msg)
			}
		})
	}
}

func TestMergeIntoAndWritten(t *testing.T) {
	a, b, _, wa, _ := concurrentNotes(t)
	_ = wa
	stored := b
	// A's change, merged into a stored version holding B's concurrent write.
	var ad Dot
	for _, f := range a.Fields {
		ad = f.Dot
	}
	c := Change{Dot: ad, HLC: a.Fields["notes"].HLC, Record: a}
	m, st := c.MergeInto(stored)
	if st != StatusMerged || len(m.Conflicts) != 1 {
		t.Errorf("got %s with %d conflicts, want merged with 1", st, len(m.Conflicts))
	}
	if _, st := c.MergeInto(Record{}); st != StatusApplied {
		t.Errorf("into nothing: got %s, want applied", st)
	}
	op, v := c.Written()
	if op != OpSet || string(v["notes"]) != `"from A"` || len(v) != 1 {
		t.Errorf("Written() = %s %v, want set notes=\"from A\"", op, v)
	}
}

func TestCursor(t *testing.T) {
	c := Cursor{"p1": 5, "p2": 9, "p3": 1}
	next := c.Next(&PullAnswer{Cursor: Cursor{"p1": 7, "p2": 3, "p4": 2}, Resync: []string{"p3"}, Purge: []string{"p2"}})
	want := Cursor{"p1": 7, "p4": 2}
	if len(next) != len(want) || next["p1"] != 7 || next["p4"] != 2 {
		t.Errorf("Next = %v, want %v", next, want)
	}
	if c["p1"] != 5 {
		t.Errorf("Next modified its receiver")
	}
	tests := []struct {
		cursor, horizon uint64
		want            bool
	}{{0, 10, false}, {5, 10, true}, {10, 10, false}, {11, 10, false}, {3, 0, false}}
	for _, tt := range tests {
		if got := NeedsResync(tt.cursor, tt.horizon); got != tt.want {
			t.Errorf("NeedsResync(%d, %d) = %v, want %v", tt.cursor, tt.horizon, got, tt.want)
		}
	}
}

// A record written with a clock a century ahead must not drag the clock of
// every replica that later writes to it (or to anything else) along.
func TestWriterDoesNotFollowAFarFutureClock(t *testing.T) {
	now := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	ahead := Writer{Replica: "phone-ahead"}
	far, _, err := ahead.Set(NewRecord("visits", "v1", "p1"), map[string]json.RawMessage{"notes": json.RawMessage(`"x"`)}, now.AddDate(100, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if far.MaxHLC().Time().Before(now.AddDate(99, 0, 0)) {
		t.Fatalf("the writer ahead stamped %v, want a century ahead", far.MaxHLC().Time())
	}
	limit := now.Add(MaxClockAhead)
	server := Writer{Replica: "server"}
	_, w1, err := server.Set(far, map[string]json.RawMessage{"received_at": json.RawMessage(`"2026-11-22T08:00:00Z"`)}, now)
	if err != nil {
		t.Fatal(err)
	}
	if w1.HLC.Time().After(limit) {
		t.Fatalf("writing over a century-ahead record stamped %v, want at most %v", w1.HLC.Time(), limit)
	}
	_, w2, err := server.Set(NewRecord("visits", "v2", "p1"), map[string]json.RawMessage{"notes": json.RawMessage(`"y"`)}, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if w2.HLC.Time().After(now.Add(time.Minute + MaxClockAhead)) {
		t.Fatalf("the next write on another record stamped %v, want at most %v", w2.HLC.Time(), now.Add(time.Minute+MaxClockAhead))
	}
	if (HLC{}).Recv(far.MaxHLC(), now).Time().After(limit) {
		t.Fatalf("Recv followed a century-ahead clock past %v", limit)
	}
}

// TestWriterSetEqualValueWritesNothing: issue 16. Editing a visit re-sent its
// participants, a list of objects, with the keys in another order; two
// officers editing other fields of the same visit then made a conflict
// between two identical lists that nobody could settle. A value equal to the
// field's current one (compared canonically) is no write.
func TestWriterSetEqualValueWritesNothing(t *testing.T) {
	wa, wb := &Writer{Replica: "A"}, &Writer{Replica: "B"}
	base, _ := mustSet(t, wa, NewRecord("visits", "v1", "p1"),
		vals("participants", `[{"name":"王经理","title":"总经理","org":"星河电梯"}]`, "notes", `"n0"`), t0)
	a, wra := mustSet(t, wa, base, vals("participants", `[{"title":"总经理","org":"星河电梯","name":"王经理"}]`, "notes", `"n1"`), t0.Add(time.Second))
	b, _ := mustSet(t, wb, base, vals("participants", `[{"org":"星河电梯","name":"王经理","title":"总经理"}]`, "title", `"t1"`), t0.Add(2*time.Second))
	if _, ok := wra.Values["participants"]; ok {
		t.Errorf("A's write holds participants %s, equal to the current value: want it left out", wra.Values["participants"])
	}
	m := Merge(a, b)
	if len(m.Conflicts) != 0 {
		t.Errorf("got conflicts %v, want none: both sides wrote the value that was there", m.Conflicts)
	}
	if got, want := m.Fields["participants"].Dot, (Dot{"A", 1}); got != want {
		t.Errorf("participants dot = %s, want %s (untouched)", got, want)
	}

	// Everything equal: nothing is written, the counter stays.
	same, wr, err := wa.Set(a, vals("notes", `"n1"`), t0.Add(3*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if wr.Op != "" || wa.Counter != 2 || !same.Equal(a) {
		t.Errorf("setting notes to its value: write %+v, counter %d; want no write, counter 2, record unchanged", wr, wa.Counter)
	}

	// A field with a conflict: writing even the winning value settles it.
	_, _, cm, _, _ := concurrentNotes(t)
	c := &Writer{Replica: "C"}
	settled, wrc := mustSet(t, c, cm, map[string]json.RawMessage{"notes": cm.Value("notes")}, t0.Add(5*time.Second))
	if wrc.Op != OpSet || len(settled.Conflicts) != 0 {
		t.Errorf("keeping the winning value of a conflicted field: write %q, conflicts %v; want a set that settles it", wrc.Op, settled.Conflicts)
	}

	// A deleted record: writing a value brings it back, even an equal one.
	del, _, err := wa.Delete(a, t0.Add(6*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	back, wrd := mustSet(t, wa, del, vals("notes", `"n1"`), t0.Add(7*time.Second))
	if wrd.Op != OpSet || back.Deleted() {
		t.Errorf("setting a field of a deleted record: write %q, deleted %v; want a set that brings it back", wrd.Op, back.Deleted())
	}
}

func TestOpenConflicts(t *testing.T) {
	wa, wb := &Writer{Replica: "A"}, &Writer{Replica: "B"}
	base, _ := mustSet(t, wa, NewRecord("visits", "v1", "p1"), vals("notes", `"n0"`, "title", `"t0"`), t0)
	a, _ := mustSet(t, wa, base, vals("notes", `"same"`, "title", `"ta"`), t0.Add(time.Second))
	b, _ := mustSet(t, wb, base, vals("notes", `"same"`, "title", `"tb"`), t0.Add(2*time.Second))
	m := Merge(a, b)
	if len(m.Conflicts) != 2 {
		t.Fatalf("got %d conflict entries, want 2 (notes and title): %s", len(m.Conflicts), m)
	}
	open := m.OpenConflicts()
	if len(open) != 1 || open[0].Field != "title" || string(open[0].Value) != `"ta"` {
		t.Errorf("OpenConflicts = %v, want title's \"ta\" only (notes: both wrote the same)", open)
	}
}

// TestMarshalJSONBadValue: a value that is not valid JSON is an error
// naming it, a field's before a conflict entry's; valid non-canonical
// values are written canonical.
func TestMarshalJSONBadValue(t *testing.T) {
	r := Record{Collection: "c", ID: "i", Pairing: "p", VV: Vector{"A": 2},
		Fields:    map[string]Field{"a": {Value: json.RawMessage(`{ "b":1, "a":[1 ,2] }`), Dot: Dot{"A", 2}, HLC: HLC{5, 0}}},
		Conflicts: []Conflict{{Field: "a", Value: json.RawMessage(`"x"`), Dot: Dot{"A", 1}, HLC: HLC{4, 0}}}}
	b, err := r.MarshalJSON()
	if err != nil || !strings.Contains(string(b), `"value":{"a":[1,2],"b":1}`) {
		t.Fatalf("MarshalJSON: %s, %v", b, err)
	}
	r.Conflicts[0].Value = json.RawMessage(`{x}`)
	if _, err := r.MarshalJSON(); err == nil || !strings.HasPrefix(err.Error(), `syncproto: conflict on "a": `) {
		t.Fatalf("a bad conflict value: %v", err)
	}
	r.Fields["a"] = Field{Value: json.RawMessage(`[1,`), Dot: Dot{"A", 2}, HLC: HLC{5, 0}}
	if _, err := r.MarshalJSON(); err == nil || !strings.HasPrefix(err.Error(), `syncproto: field "a": `) {
		t.Fatalf("a bad field value and a bad conflict value: %v", err)
	}
	if _, err := Encode(Change{Dot: Dot{"A", 2}, HLC: HLC{5, 0}, Record: r}); err == nil || !strings.HasPrefix(err.Error(), `syncproto: field "a": `) {
		t.Fatalf("a change with a bad value: %v", err)
	}
}
