package readmodel

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/syncproto"
)

// TestSkimMatchesDecode: what the Ledger reads of a stored record by
// skimming it is what it reads of the record decoded in full, for values
// the skim takes and for those it must hand over to the full decoding.
func TestSkimMatchesDecode(t *testing.T) {
	at := time.Date(2026, 3, 10, 9, 0, 0, 0, China)
	sum := "a3f1c2d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"
	photo := map[string]any{"sha256": sum, "size": 1000, "type": "image/jpeg", "width": 4, "height": 3,
		"taken_at": "2026-03-10T08:00:00+08:00", "lat": 32.1, "lng": 118.8}
	cases := []struct {
		name   string
		coll   string
		fields map[string]any
	}{
		{"visit as phones write it", pairing.CollVisits, map[string]any{"title": "走访", "officers": []string{"o1", "o2"}, "mode": "onsite",
			"visited_at": "2026-03-10T09:00:00+08:00", "location": map[string]any{"lat": 32.0, "lng": 118.8},
			"photos": []any{photo, map[string]any{"sha256": "not-a-hash"}}, "status": "returned", "counterparty": "c1",
			"notes": "引号\"和\\反斜杠\n换行"}},
		{"visit with escapes in its strings", pairing.CollVisits, map[string]any{"officers": []string{"o\"1", "\u00e9"}, "mode": "on\tsite",
			"counterparty": "c\\1", "status": "", "visited_at": "not a time", "location": nil, "photos": nil}},
		{"visit with empty lists", pairing.CollVisits, map[string]any{"officers": []string{}, "photos": []any{}}},
		{"visit with odd photos", pairing.CollVisits, map[string]any{"photos": []any{sum, "x"}, "officers": []any{1, "o"}}},
		{"visit with a photo of unknown keys", pairing.CollVisits, map[string]any{"photos": []any{map[string]any{"sha256": sum, "SHA256": "x"}}}},
		{"visit with a bad taken_at", pairing.CollVisits, map[string]any{"photos": []any{map[string]any{"sha256": sum, "taken_at": "yesterday"}}}},
		{"visit with evidence", pairing.CollVisits, map[string]any{"evidence": []string{sum}, "visited_at": "2026-03-10T09:00:00Z"}},
		{"visit of a title only", pairing.CollVisits, map[string]any{"title": "t"}},
		{"issue", pairing.CollIssues, map[string]any{"title": "融资难", "category": "financing", "raised_by": "o1", "raised_at": "2026-03-10T09:00:00+08:00",
			"received_at": "2026-03-10T09:01:00Z", "visit": "v1", "priority": "high", "counterparty": "c\"2"}},
		{"issue event", pairing.CollIssueEvents, map[string]any{"issue": "i1", "type": "dispatched", "at": "2026-03-10T10:00:00+08:00", "by": "a1",
			"role": "admin", "handler": "o2", "handler_name": "王\\五", "due": "2026-03-15T00:00:00Z", "evidence": []string{sum}, "note": "n"}},
		{"issue event with a bad time", pairing.CollIssueEvents, map[string]any{"issue": "i1", "type": "responded", "at": "soon", "by": "o2", "role": "officer"}},
	}
	w := syncproto.Writer{Replica: "test-skim"}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			vals := map[string]json.RawMessage{}
			for k, v := range tc.fields {
				b, err := json.Marshal(v)
				if err != nil {
					t.Fatal(err)
				}
				vals[k] = b
			}
			r, _, err := w.Set(syncproto.NewRecord(tc.coll, "id-1", "p1"), vals, at)
			if err != nil {
				t.Fatal(err)
			}
			data, err := syncproto.Encode(r)
			if err != nil {
				t.Fatal(err)
			}
			full, err := syncproto.DecodeRecord(data, syncproto.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			var sk syncproto.Skimmed
			switch tc.coll {
			case pairing.CollVisits:
				if got, want, skimmed := skimVisitAgainstDecode(data, &full, &sk); !skimmed {
					t.Logf("handed over to the full decoding")
				} else if !reflect.DeepEqual(got, want) {
					t.Errorf("got %+v, want %+v", got, want)
				}
			default:
				want, order := issueWant, "raised_at"
				if tc.coll == pairing.CollIssueEvents {
					want, order = eventWant, "type"
				}
				got, ok := skimToRecord(data, want, order, &sk)
				if !ok {
					t.Fatalf("got no record, want one")
				}
				if tc.coll == pairing.CollIssues {
					gs, gr := issueFromRecord(got, 7)
					ws, wr := issueFromRecord(full, 7)
					if !reflect.DeepEqual(gs, ws) || !reflect.DeepEqual(gr, wr) {
						t.Errorf("got %+v %+v, want %+v %+v", gs, gr, ws, wr)
					}
				} else {
					ge, gerr := pairing.IssueEventFromRecord(got)
					we, werr := pairing.IssueEventFromRecord(full)
					if !reflect.DeepEqual(ge, we) || (gerr == nil) != (werr == nil) {
						t.Errorf("got %+v (%v), want %+v (%v)", ge, gerr, we, werr)
					}
				}
				if g, w := citedPhotos(got), citedPhotos(full); !reflect.DeepEqual(g, w) {
					t.Errorf("cited: got %v, want %v", g, w)
				}
			}
		})
	}
}

// TestVisitMapIDs: a visit's id comes back as it was written, whether
// kept as a UUID's bytes or as a string.
func TestVisitMapIDs(t *testing.T) {
	ids := []string{"0190a3c4-1b2c-7d3e-8f40-123456789abc", "0190A3C4-1B2C-7D3E-8F40-123456789ABC",
		"0190a3c4-1b2c-7d3e-8f40-123456789ab", "0190a3c4-1b2c-7d3e-8f40-123456789abcd", "0190a3c41b2c-7d3e-8f40--123456789abc",
		"v1", ""}
	m := newVisitMap()
	for i, id := range ids {
		m.put(id, visitEntry{seq: uint64(i + 1)})
	}
	if got := len(m.uuids); got != 1 {
		t.Errorf("got %d ids kept as UUIDs, want 1", got)
	}
	seen := map[string]uint64{}
	for id, e := range m.all() {
		seen[id.String()] = e.seq
	}
	for i, id := range ids {
		if e, ok := m.get(id); !ok || e.seq != uint64(i+1) || seen[id] != uint64(i+1) {
			t.Errorf("%q: got %d (found %v), listed %d, want %d", id, e.seq, ok, seen[id], i+1)
		}
	}
	m.del(ids[0])
	if _, ok := m.get(ids[0]); ok {
		t.Errorf("%q: got it after deleting it, want none", ids[0])
	}
}

// skimVisitAgainstDecode skims a stored visit and reads the decoded one
// (full) the Ledger's other way, normalised so the two compare equal when
// they agree; skimmed is false when the skim handed over to full decoding.
func skimVisitAgainstDecode(data []byte, full *syncproto.Record, sk *syncproto.Skimmed) (got, want visitFields, skimmed bool) {
	visitFieldsOf(full, &want)
	if !skimVisit(data, sk, &got) {
		return got, want, false
	}
	want.record, got.officersBuf, got.photoBuf = nil, nil, nil
	if len(got.cited) > 0 || len(want.cited) > 0 {
		// skimVisit cites the manifest's valid hashes: the same.
		var valid []string
		for _, s := range got.cited {
			if storage.ValidSHA256(s) {
				valid = append(valid, s)
			}
		}
		slices.Sort(valid)
		got.cited = slices.Compact(valid)
	}
	for _, v := range []*visitFields{&want, &got} {
		if len(v.status) == 0 {
			v.status = nil
		}
		if len(v.counterparty) == 0 {
			v.counterparty = nil
		}
		if len(v.mode) == 0 {
			v.mode = nil
		}
		if len(v.photos) == 0 {
			v.photos = nil // only the number counts
		}
	}
	return got, want, true
}

// FuzzSkim (every decoder has a fuzz target, STYLE.md): the Ledger's
// skimming of stored records never panics on any bytes; MayBeDeleted never
// says "no deletes" of a record that holds one; and of every record
// syncproto decodes, a visit skimmed reads as the decoded visit, an issue or
// event skimmed holds the decoded values of the fields it reads.
func FuzzSkim(f *testing.F) {
	w := syncproto.Writer{Replica: "fuzz-skim"}
	at := time.Date(2026, 3, 10, 9, 0, 0, 0, China)
	for _, c := range []struct {
		coll   string
		fields map[string]string
	}{
		{pairing.CollVisits, map[string]string{"title": `"走访"`, "officers": `["o1","o2"]`, "mode": `"onsite"`, "visited_at": `"2026-03-10T09:00:00+08:00"`,
			"photos": `[{"sha256":"a3f1c2d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90","size":10,"type":"image/jpeg"}]`, "notes": `"引号\"和"`}},
		{pairing.CollIssues, map[string]string{"title": `"融资难"`, "category": `"financing"`, "raised_by": `"o1"`, "raised_at": `"2026-03-10T09:00:00+08:00"`}},
		{pairing.CollIssueEvents, map[string]string{"issue": `"i1"`, "type": `"dispatched"`, "at": `"2026-03-10T10:00:00+08:00"`, "handler": `"o\\2"`}},
	} {
		vals := map[string]json.RawMessage{}
		for k, v := range c.fields {
			vals[k] = json.RawMessage(v)
		}
		r, _, err := w.Set(syncproto.NewRecord(c.coll, "id-1", "p1"), vals, at)
		if err != nil {
			f.Fatal(err)
		}
		data, _ := syncproto.Encode(r)
		f.Add(data)
		del, _, err := w.Delete(r, at.Add(time.Minute))
		if err != nil {
			f.Fatal(err)
		}
		data, _ = syncproto.Encode(del)
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var sk syncproto.Skimmed
		var v visitFields
		skimVisit(data, &sk, &v)
		skimToRecord(data, issueWant, "raised_at", &sk)
		skimToRecord(data, eventWant, "type", &sk)
		maybe := syncproto.MayBeDeleted(data)
		full, err := syncproto.DecodeRecord(data, syncproto.Limits{})
		if err != nil {
			return
		}
		if !maybe && len(full.Deletes) > 0 {
			t.Fatalf("MayBeDeleted = false for a record with %d deletes: %s", len(full.Deletes), data)
		}
		switch full.Collection {
		case pairing.CollVisits:
			if full.Deleted() {
				return // the Ledger drops deleted visits before reading them
			}
			if got, want, ok := skimVisitAgainstDecode(data, &full, &sk); ok && !reflect.DeepEqual(got, want) {
				t.Fatalf("skimmed %+v, decoded %+v, of %s", got, want, data)
			}
		case pairing.CollIssues, pairing.CollIssueEvents:
			want, order := issueWant, "raised_at"
			if full.Collection == pairing.CollIssueEvents {
				want, order = eventWant, "type"
			}
			got, ok := skimToRecord(data, want, order, &sk)
			if !ok {
				return
			}
			for _, name := range want {
				g, w := got.Fields[name], full.Fields[name]
				if string(g.Value) != string(w.Value) {
					t.Fatalf("field %s skimmed %s, decoded %s, of %s", name, g.Value, w.Value, data)
				}
				if name == order && (g.Dot != w.Dot || g.HLC != w.HLC) {
					t.Fatalf("field %s skimmed dot %v hlc %v, decoded %v %v, of %s", name, g.Dot, g.HLC, w.Dot, w.HLC, data)
				}
			}
		}
	})
}
