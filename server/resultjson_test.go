package server

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/pairsync/pairsync/syncproto"
)

// TestResultJSONAsEncodingJSON: a receipt's answer is json.Marshal's bytes
// and a push answer the response encoder's, whatever the strings and
// values hold (appendResult writes the plain ones, encoding/json the rest);
// the direct path is taken for the usual answers.
func TestResultJSONAsEncodingJSON(t *testing.T) {
	strs := []string{"", "applied", "rejected", "validation_failed", "rating must be 1 to 5", "走访企业了解经营情况",
		"a<b", "x&y", "p>q", `say "hi"`, `back\slash`, "line\nbreak", "tab\t", "\x01", "\x7f", "sep\u2028x", "par\u2029", "bad\xffutf8", "\xe2\x80", "é", "😀"}
	vals := []json.RawMessage{json.RawMessage(`"2026-11-22T12:05:09.722Z"`), json.RawMessage(`{"a":1,"b":[true,null]}`), json.RawMessage(`{ "a" : 1 }`),
		json.RawMessage(`"<b>"`), json.RawMessage(`"a\u2028b"`), json.RawMessage("\"a\u2028b\""), json.RawMessage(`"\u003c"`), json.RawMessage(`12.5e3`), json.RawMessage(`"走访"`)}
	rng := rand.New(rand.NewPCG(4, 20))
	pick := func() string { return strs[rng.IntN(len(strs))] }
	plain := 0
	for n := range 5000 {
		r := syncproto.Result{Dot: syncproto.Dot{Replica: "01a20328-1c27-7db3-9c66-98296b6b063a", Counter: uint64(1 + rng.IntN(1e6))}, Status: syncproto.StatusApplied}
		if n%7 == 0 {
			r.Dot = syncproto.Dot{Replica: "bad id", Counter: 1}
		}
		if n%2 == 0 {
			r.Seq = uint64(rng.IntN(1000))
		}
		switch n % 3 {
		case 0:
			r.Status = syncproto.Status(pick())
			r.Error = &syncproto.Error{Code: syncproto.Code(pick()), Message: pick(), Field: pick(), Reason: pick()}
			if n%5 == 0 {
				r.Error.RetryAfter = rng.IntN(3)
				r.Error.Args = map[string]string{pick(): pick(), pick(): pick()}
			}
		case 1:
			r.Stamp = []syncproto.Write{}
			for range rng.IntN(3) {
				w := syncproto.Write{Collection: "visits", ID: pick(), Pairing: "p00001", Dot: syncproto.Dot{Replica: "srv-abcdefghijkl", Counter: 9},
					HLC: syncproto.HLC{Wall: 1700000000000, Logical: uint32(rng.IntN(3))}, Op: syncproto.OpSet}
				if rng.IntN(4) > 0 {
					w.Values = map[string]json.RawMessage{"received_at": vals[rng.IntN(len(vals))]}
					if rng.IntN(3) == 0 {
						w.Values[pick()] = vals[rng.IntN(len(vals))]
					}
				}
				if rng.IntN(4) > 0 {
					w.Context = syncproto.Vector{"01a20328-1c27-7db3-9c66-98296b6b063a": 42, syncproto.ReplicaID(pick()): 1}
				}
				r.Stamp = append(r.Stamp, w)
			}
		}
		want, werr := json.Marshal(r)
		if werr != nil {
			want = nil // receipt() kept no answer then, as before
		}
		if got := encodeResult(r); !bytes.Equal(got, want) {
			t.Fatalf("receipt of %+v:\n got  %s\n want %s", r, got, want)
		}
		a := syncproto.PushAnswer{V: syncproto.Version, Results: []syncproto.Result{r, {Dot: syncproto.Dot{Replica: "A", Counter: 1}, Status: syncproto.StatusApplied, Seq: 3, Stamp: []syncproto.Write{}}}}
		wantA, errA := marshalJSON(a)
		gotA, errG := encodePushAnswer(a)
		if (errA == nil) != (errG == nil) || !bytes.Equal(gotA, wantA) {
			t.Fatalf("answer of %+v:\n got  %s, %v\n want %s, %v", r, gotA, errG, wantA, errA)
		}
		if _, ok := appendResult(nil, r); ok {
			plain++
		}
	}
	if plain < 500 {
		t.Fatalf("only %d of 5000 answers took the direct path", plain)
	}
	for _, a := range []syncproto.PushAnswer{{V: 1}, {V: 1, Results: []syncproto.Result{}}} {
		want, _ := marshalJSON(a)
		if got, err := encodePushAnswer(a); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("answer %+v: got %s, %v; want %s", a, got, err, want)
		}
	}
	// A phone's usual answer: applied with the server's stamp.
	usual := syncproto.Result{Dot: syncproto.Dot{Replica: "phone-7", Counter: 42}, Status: syncproto.StatusApplied, Seq: 118, Stamp: []syncproto.Write{{
		Collection: "visits", ID: "01a20324-cb52-783c-9b67-000000000001", Pairing: "p00001", Dot: syncproto.Dot{Replica: "srv-1", Counter: 9},
		HLC: syncproto.HLC{Wall: 1700000000000}, Op: syncproto.OpSet, Values: map[string]json.RawMessage{"received_at": json.RawMessage(`"2026-11-22T12:05:09.722Z"`)},
		Context: syncproto.Vector{"phone-7": 42}}}}
	if _, ok := appendResult(nil, usual); !ok {
		t.Fatal("the usual answer does not take the direct path")
	}
}
