package syncproto

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"
)

// TestSkimMatchesEncoder: what Skim reads of a record as Encode writes it
// (record.go's appendJSON) is what DecodeRecord reads: the key, every field
// asked for (value, dot and HLC), no value for a field the record lacks,
// whether it holds conflicts, and a refusal of every record that holds a
// delete. It fails when the encoder's keys or the shape of its entries
// change without the skimmer (server/readmodel reads every stored record
// through Skim).
func TestSkimMatchesEncoder(t *testing.T) {
	at := time.Date(2026, 3, 10, 1, 0, 0, 0, time.UTC)
	values := map[string]json.RawMessage{
		"title": json.RawMessage(`"走访"`), "notes": json.RawMessage(`"引号\"和\\反斜杠\n换行"`),
		"n": json.RawMessage(`12.5`), "none": json.RawMessage(`null`), "ok": json.RawMessage(`true`),
		"list": json.RawMessage(`["a",{"b":[1,2,{"c":"]}"}]},[]]`), "obj": json.RawMessage(`{"x":{"y":"}"},"z":[]}`),
		"empty": json.RawMessage(`""`), "a_b9": json.RawMessage(`"x"`),
	}
	a, b := Writer{Replica: "A"}, Writer{Replica: "B"}
	base, _, err := a.Set(NewRecord("visits", "01JD3S5D1S4J4Y0C8RWYN1H8VQ", "p-17"), values, at)
	if err != nil {
		t.Fatal(err)
	}
	// Concurrent writes of one field: a conflict entry.
	left, _, err := a.Set(base, map[string]json.RawMessage{"title": json.RawMessage(`"left"`)}, at.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	right, _, err := b.Set(base, map[string]json.RawMessage{"title": json.RawMessage(`"right"`)}, at.Add(2*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	conflicted := Merge(left, right)
	deleted, _, err := a.Delete(base, at.Add(3*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	kept, _, err := b.Keep(Merge(deleted, right), at.Add(4*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	single, _, err := a.Set(NewRecord("issue_events", "e1", "p1"), map[string]json.RawMessage{"type": json.RawMessage(`"dispatched"`)}, at)
	if err != nil {
		t.Fatal(err)
	}
	if len(conflicted.Conflicts) == 0 || len(deleted.Deletes) == 0 || len(kept.Keeps) == 0 {
		t.Fatalf("fixtures: want a conflict, a delete and a keep; got %d, %d, %d", len(conflicted.Conflicts), len(deleted.Deletes), len(kept.Keeps))
	}
	want := slices.Sorted(func(yield func(string) bool) {
		for k := range values {
			if !yield(k) {
				return
			}
		}
	})
	want = append(want, "absent", "type")
	for _, tc := range []struct {
		name string
		r    Record
	}{{"fields", base}, {"conflicts", conflicted}, {"deletes", deleted}, {"deletes and keeps", kept}, {"one field", single}} {
		t.Run(tc.name, func(t *testing.T) {
			data, err := Encode(tc.r)
			if err != nil {
				t.Fatal(err)
			}
			full, err := DecodeRecord(data, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			var s Skimmed
			ok := Skim(data, want, &s)
			if len(full.Deletes) > 0 {
				if ok {
					t.Fatalf("skimmed a record holding %d deletes, want a refusal: %s", len(full.Deletes), data)
				}
				if !MayBeDeleted(data) {
					t.Errorf("MayBeDeleted = false for a record holding deletes")
				}
				return
			}
			if !ok {
				t.Fatalf("refused a record as Encode writes it: %s", data)
			}
			if MayBeDeleted(data) {
				t.Errorf("MayBeDeleted = true for a record without deletes")
			}
			if got := fmt.Sprintf("%s/%s/%s", s.Collection, s.ID, s.Pairing); got != full.Collection+"/"+full.ID+"/"+full.Pairing {
				t.Errorf("key: got %s, want %s/%s/%s", got, full.Collection, full.ID, full.Pairing)
			}
			if s.Conflicts != (len(full.Conflicts) > 0) {
				t.Errorf("conflicts: got %v, record holds %d", s.Conflicts, len(full.Conflicts))
			}
			if len(s.Fields) != len(want) {
				t.Fatalf("got %d fields, want %d", len(s.Fields), len(want))
			}
			for i, name := range want {
				got, f := s.Fields[i], full.Fields[name]
				if _, has := full.Fields[name]; !has {
					if got.Value != nil || got.Dot != nil || got.HLC != nil {
						t.Errorf("%s: got %+v for a field the record lacks", name, got)
					}
					continue
				}
				if string(got.Value) != string(f.Value) {
					t.Errorf("%s: value %s, decoded %s", name, got.Value, f.Value)
				}
				dot, h, ok := got.Entry()
				if !ok || dot != f.Dot || h != f.HLC {
					t.Errorf("%s: entry %v %v (%v), decoded %v %v", name, dot, h, ok, f.Dot, f.HLC)
				}
			}
		})
	}
}

// TestMayBeDeleted: a record holding a delete may be deleted; one without
// cannot.
func TestMayBeDeleted(t *testing.T) {
	w := Writer{Replica: "test-skim"}
	at := time.Date(2026, 3, 10, 9, 0, 0, 0, time.FixedZone("CST", 8*3600))
	live, _, err := w.Set(NewRecord("visits", "v1", "p1"), map[string]json.RawMessage{"title": json.RawMessage(`"deletes"`)}, at)
	if err != nil {
		t.Fatal(err)
	}
	gone, _, err := w.Delete(live, at.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		r    Record
		want bool
	}{{"live", live, false}, {"deleted", gone, true}} {
		data, err := Encode(tc.r)
		if err != nil {
			t.Fatal(err)
		}
		if got := MayBeDeleted(data); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
	if !MayBeDeleted([]byte(`{"collection":`)) {
		t.Errorf("a record cut short: got false, want true")
	}
}
