package syncproto

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// stdEncode is what Encode gave before its fast paths: encoding/json
// without HTML escaping.
func stdEncode(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// TestEncodeFastPaths: Encode's own encoders of changes, writes and push
// requests give the bytes encoding/json gives, on random histories and on
// values encoding/json would escape for HTML.
func TestEncodeFastPaths(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	wa := &Writer{Replica: "phone-A"}
	r, w1 := mustSet(t, wa, NewRecord("visits", "v1", "p1"), vals("notes", `"<b>&amp; \u2028 \u0001 \"x\""`, "n", "1.50", "o", `{"z":[1,{"y":null}],"a":"é"}`), t0)
	r, w2 := mustSet(t, wa, r, vals("notes", "null"), t0.Add(time.Second))
	_, w3, err := wa.Delete(r, t0.Add(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	changes := []Change{{Dot: w1.Dot, HLC: w1.HLC, Record: r}}
	for range 50 {
		rec := randomRecord(rng)
		for rep, n := range rec.VV {
			changes = append(changes, Change{Dot: Dot{rep, n}, HLC: HLC{Wall: 1700000000000 + int64(n)}, Record: rec})
			break
		}
	}
	for i, w := range []Write{w1, w2, w3, {Collection: "c", ID: "i", Pairing: "p", Dot: Dot{"B", 3}, Op: OpKeep}} {
		if got, want := mustEncode(t, w), stdEncode(t, w); !bytes.Equal(got, want) {
			t.Errorf("write %d: got %s, want %s", i, got, want)
		}
	}
	for i, c := range changes {
		if got, want := mustEncode(t, c), stdEncode(t, c); !bytes.Equal(got, want) {
			t.Errorf("change %d: got %s, want %s", i, got, want)
		}
	}
	for _, req := range []*PushRequest{
		{V: Version, Device: "phone-A", Changes: changes},
		{V: Version, Device: "phone-A"},
		{V: Version, Device: "phone-A", Changes: []Change{}},
	} {
		if got, want := mustEncode(t, req), stdEncode(t, req); !bytes.Equal(got, want) {
			t.Errorf("push of %d: got %s, want %s", len(req.Changes), got, want)
		}
	}
}

// TestDecodeWrite: an outbox entry written by Encode or by encoding/json
// (HTML escaping and all) decodes to the write; values come back canonical.
func TestDecodeWrite(t *testing.T) {
	wa := &Writer{Replica: "phone-A"}
	r, w1 := mustSet(t, wa, NewRecord("visits", "v1", "p1"), vals("notes", `"<b>&"`, "o", `{"b":1,"a":[true]}`), t0)
	_, w2, err := wa.Delete(r, t0.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []Write{w1, w2} {
		std, err := json.Marshal(w) // escapes < > & as \u003c …
		if err != nil {
			t.Fatal(err)
		}
		for _, data := range [][]byte{mustEncode(t, w), std} {
			got, err := DecodeWrite(data, Limits{})
			if err != nil {
				t.Fatalf("DecodeWrite(%s): %v", data, err)
			}
			if g, want := mustEncode(t, got), mustEncode(t, w); !bytes.Equal(g, want) {
				t.Errorf("DecodeWrite(%s) = %s, want %s", data, g, want)
			}
		}
	}
	for _, bad := range []string{`{}`, `{"collection":"c","id":"i","pairing":"p","dot":"A:1","hlc":[1,0],"op":"set","context":{}}`, `[]`} {
		if _, err := DecodeWrite([]byte(bad), Limits{}); err == nil {
			t.Errorf("DecodeWrite(%s): no error", bad)
		} else {
			checkDecodeErr(t, err)
		}
	}
}

// TestStoredVersion: a device rebuilds, from the push answer alone, the
// very bytes the server stored: its change's record with the server's
// stamp applied. Without a stamp, or for another status, it must pull.
func TestStoredVersion(t *testing.T) {
	phone, srv := &Writer{Replica: "phone-A"}, &Writer{Replica: "srv-1", Counter: 41}
	rec, w := mustSet(t, phone, NewRecord("visits", "v1", "p1"), vals("notes", `"x"`), t0)
	ch := Change{Dot: w.Dot, HLC: w.HLC, Record: rec}
	stored, sw, err := srv.Set(rec, vals("received_at", `"2025-03-01T08:00:01.000Z"`), t0.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	ans := PushAnswer{V: Version, Results: []Result{
		{Dot: ch.Dot, Status: StatusApplied, Seq: 7, Stamp: []Write{sw}},
		{Dot: ch.Dot, Status: StatusApplied, Seq: 7, Stamp: []Write{}},
		{Dot: ch.Dot, Status: StatusApplied, Seq: 7},
		{Dot: ch.Dot, Status: StatusMerged, Seq: 7, Stamp: []Write{sw}},
	}}
	// Through the wire, as the server sends it (encoding/json) and the
	// device decodes it.
	got, err := DecodePushAnswer(stdEncode(t, ans), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []struct {
		ok  bool
		rec Record
	}{{true, stored}, {true, rec}, {false, Record{}}, {false, Record{}}} {
		r, ok, err := got.Results[i].StoredVersion(ch)
		if err != nil || ok != want.ok {
			t.Fatalf("result %d: ok %v, err %v; want ok %v", i, ok, err, want.ok)
		}
		if ok && !bytes.Equal(mustEncode(t, r), mustEncode(t, want.rec)) {
			t.Errorf("result %d: rebuilt %s, want the stored %s", i, mustEncode(t, r), mustEncode(t, want.rec))
		}
	}
	// A stamp the record has already seen is refused, not applied twice.
	if _, ok, err := (Result{Dot: ch.Dot, Status: StatusApplied, Seq: 7, Stamp: []Write{w}}).StoredVersion(ch); ok || err == nil {
		t.Errorf("stamp with the change's own write: ok %v, err %v; want an error", ok, err)
	}
}

// TestCursorAdvance: the cursor moves over a device's own sequences only
// while they follow it without a gap; another device's commit between two
// of them stops it there.
func TestCursorAdvance(t *testing.T) {
	c := Cursor{"p1": 10, "p2": 0, "p3": 5}
	got := c.Advance(map[string][]uint64{
		"p1": {13, 11, 12, 15}, // 14 is someone else's
		"p2": {2, 3},           // 1 is someone else's
		"p3": {5, 6},           // 5 already received
		"p4": {1, 2},           // not in the cursor
	})
	want := Cursor{"p1": 13, "p2": 0, "p3": 6}
	if !sameCursor(got, want) {
		t.Errorf("Advance = %v, want %v", got, want)
	}
	if c["p1"] != 10 {
		t.Errorf("Advance modified its cursor: %v", c)
	}
}

func sameCursor(a, b Cursor) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestPulledRecordRaw: a pull answer's canonical records keep their bytes
// as they came; a record spelled otherwise does not.
func TestPulledRecordRaw(t *testing.T) {
	w := &Writer{Replica: "phone-A"}
	r1, _ := mustSet(t, w, NewRecord("visits", "v1", "p1"), vals("notes", `"<&> 中文"`), t0)
	r2, _ := mustSet(t, w, NewRecord("visits", "v2", "p1"), vals("notes", `"y"`), t0)
	body := mustEncode(t, &PullAnswer{V: Version, Records: []PulledRecord{{Pairing: "p1", Seq: 1, Record: r1}, {Pairing: "p1", Seq: 2, Record: r2}}, Cursor: Cursor{"p1": 2}})
	ans, err := DecodePullAnswer(body, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for i, pr := range ans.Records {
		if want := mustEncode(t, pr.Record); !bytes.Equal(pr.Raw, want) {
			t.Errorf("record %d: Raw %s, want %s", i, pr.Raw, want)
		}
	}
	// encoding/json with HTML escaping (an older server's c.JSON) and
	// whitespace: not canonical, so no Raw.
	esc, _ := json.Marshal(json.RawMessage(body))
	for _, b := range [][]byte{esc, slices.Concat([]byte(" "), bytes.ReplaceAll(body, []byte(`"fields":`), []byte(`"fields" : `)))} {
		ans, err := DecodePullAnswer(b, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if ans.Records[0].Raw != nil {
			t.Errorf("Raw of a non-canonical record: %s", ans.Records[0].Raw)
		}
	}
}
