package server

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/pairsync/pairsync/syncproto"
)

// TestPullPageSplice checks that a pull page built from stored bytes is,
// byte for byte, what encoding the decoded records gives (the answer before
// splicing), and that the client's decoder reads it back to the same
// records.
func TestPullPageSplice(t *testing.T) {
	w := syncproto.Writer{Replica: "0190f3c2-7d1e-7a4b-8c55-3b2f0e6a9d11"}
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	var stored [][]byte
	var want []syncproto.PulledRecord
	for i, pid := range []string{"p-1", "p-1", "p-2"} {
		r, _, err := w.Set(syncproto.NewRecord("visits", "01a2-"+string(rune('a'+i)), pid), map[string]json.RawMessage{
			"title": json.RawMessage(`"走访 <企业> & \"社区\""`),
			"notes": json.RawMessage(`{"b":[1,2.5,null],"a":true}`),
		}, now)
		if err != nil {
			t.Fatalf("set: got error %v, want none", err)
		}
		data, err := syncproto.Encode(r)
		if err != nil {
			t.Fatalf("encode: got error %v, want none", err)
		}
		stored = append(stored, data)
		want = append(want, syncproto.PulledRecord{Pairing: pid, Seq: uint64(10 + i), Record: r})
	}
	for _, tc := range []struct {
		name string
		n    int
		ans  syncproto.PullAnswer
	}{
		{"empty", 0, syncproto.PullAnswer{V: syncproto.Version, Cursor: syncproto.Cursor{"p-1": 4}}},
		{"one", 1, syncproto.PullAnswer{V: syncproto.Version, Cursor: syncproto.Cursor{"p-1": 10}, More: true}},
		{"all", 3, syncproto.PullAnswer{V: syncproto.Version, Cursor: syncproto.Cursor{"p-1": 11, "p-2": 12}, Resync: []string{"p-9"}, Purge: []string{"p-3"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var pg pullPage
			for i := range tc.n {
				pg.add(want[i].Pairing, want[i].Seq, stored[i])
			}
			got, err := pg.encode(tc.ans)
			if err != nil {
				t.Fatalf("encode page: got error %v, want none", err)
			}
			full := tc.ans
			full.Records = append([]syncproto.PulledRecord{}, want[:tc.n]...)
			wantBytes, err := syncproto.Encode(full)
			if err != nil {
				t.Fatalf("encode answer: got error %v, want none", err)
			}
			if !bytes.Equal(got, wantBytes) {
				t.Fatalf("page:\ngot  %s\nwant %s", got, wantBytes)
			}
			dec, err := syncproto.DecodePullAnswer(got, syncproto.Limits{})
			if err != nil {
				t.Fatalf("decode page: got error %v, want none", err)
			}
			if len(dec.Records) != tc.n {
				t.Fatalf("decoded records: got %d, want %d", len(dec.Records), tc.n)
			}
			for i, r := range dec.Records {
				if r.Pairing != want[i].Pairing || r.Seq != want[i].Seq || !r.Record.Equal(want[i].Record) {
					t.Errorf("record %d: got %s@%d %s, want %s@%d %s", i, r.Pairing, r.Seq, r.Record, want[i].Pairing, want[i].Seq, want[i].Record)
				}
			}
		})
	}
}
