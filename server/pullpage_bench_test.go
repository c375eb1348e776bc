package server

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pairsync/pairsync/syncproto"
)

// benchStoredVisits are n stored visits of fieldctl bench's size (~2.6 KB
// stored: ~1 KB of Chinese notes, every field with its dot and HLC).
func benchStoredVisits(b *testing.B, n int) [][]byte {
	w := syncproto.Writer{Replica: "0190f3c2-7d1e-7a4b-8c55-3b2f0e6a9d11"}
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	out := make([][]byte, n)
	for i := range out {
		r, _, err := w.Set(syncproto.NewRecord("visits", fmt.Sprintf("01a20324-cb52-783c-9b67-%012d", i), "p-1"), map[string]json.RawMessage{
			"title":        json.RawMessage(`"走访企业了解经营情况"`),
			"notes":        json.RawMessage(`"` + strings.Repeat("今日到企业实地走访，与企业负责人就生产经营情况进行了深入交流。", 32) + `"`),
			"participants": json.RawMessage(`[{"name":"王经理","title":"总经理"},{"name":"李主任","title":"办公室主任"}]`),
			"location":     json.RawMessage(`{"accuracy_m":12,"lat":32.05,"lng":118.79}`),
			"mode":         json.RawMessage(`"onsite"`),
			"visited_at":   json.RawMessage(`"2026-11-22T08:00:00Z"`),
			"status":       json.RawMessage(`"submitted"`),
		}, now)
		if err != nil {
			b.Fatal(err)
		}
		if out[i], err = syncproto.Encode(r); err != nil {
			b.Fatal(err)
		}
	}
	return out
}

// BenchmarkPullPageVisits builds one full pull page of 500 stored visits:
// "splice" as the pull handler does (stored bytes spliced in), "decode" as
// it did before (each record decoded, then the answer encoded through the
// server's JSON encoder, as c.JSON did).
func BenchmarkPullPageVisits(b *testing.B) {
	stored := benchStoredVisits(b, 500)
	size := 0
	for _, d := range stored {
		size += len(d)
	}
	b.Run("splice", func(b *testing.B) {
		b.SetBytes(int64(size))
		b.ReportAllocs()
		for b.Loop() {
			var pg pullPage
			for i, d := range stored {
				pg.add("p-1", uint64(i+1), d)
			}
			if _, err := pg.encode(syncproto.PullAnswer{V: syncproto.Version, Cursor: syncproto.Cursor{"p-1": 500}}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode", func(b *testing.B) {
		b.SetBytes(int64(size))
		b.ReportAllocs()
		for b.Loop() {
			ans := syncproto.PullAnswer{V: syncproto.Version, Records: []syncproto.PulledRecord{}, Cursor: syncproto.Cursor{"p-1": 500}}
			for i, d := range stored {
				r, err := syncproto.DecodeRecord(d, syncproto.Limits{})
				if err != nil {
					b.Fatal(err)
				}
				ans.Records = append(ans.Records, syncproto.PulledRecord{Pairing: "p-1", Seq: uint64(i + 1), Record: r})
			}
			if _, err := marshalJSON(ans); err != nil {
				b.Fatal(err)
			}
		}
	})
}
