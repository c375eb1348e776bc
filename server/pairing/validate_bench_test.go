package pairing

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/pairsync/pairsync/syncproto"
)

// benchVisitValues are the values of a visit as fieldctl's phones write it
// (~1 KB of Chinese notes, two participants, a location, two photos).
func benchVisitValues(now time.Time) map[string]json.RawMessage {
	at := `"` + now.Add(-time.Hour).Format(time.RFC3339Nano) + `"`
	photo := func(c string) string {
		return `{"sha256":"` + strings.Repeat(c, 64) + `","size":204800,"taken_at":` + at + `,"type":"image/jpeg"}`
	}
	return map[string]json.RawMessage{
		"title":        json.RawMessage(`"走访企业了解经营情况"`),
		"counterparty": json.RawMessage(`"cp-0001"`),
		"officers":     json.RawMessage(`["officer0001"]`),
		"mode":         json.RawMessage(`"onsite"`),
		"visited_at":   json.RawMessage(at),
		"recorded_at":  json.RawMessage(at),
		"location":     json.RawMessage(`{"accuracy_m":12,"lat":32.05,"lng":118.79}`),
		"participants": json.RawMessage(`[{"name":"王经理","title":"总经理"},{"name":"李主任","title":"办公室主任"}]`),
		"notes":        json.RawMessage(`"` + strings.Repeat("今日到企业实地走访，与企业负责人就生产经营情况进行了深入交流。", 32) + `"`),
		"photos":       json.RawMessage(`[` + photo("a") + `,` + photo("b") + `]`),
		"status":       json.RawMessage(`"submitted"`),
	}
}

// BenchmarkCheckValuesVisit checks every value of one visit against its
// field's spec, as CheckWrite does for each pushed visit.
func BenchmarkCheckValuesVisit(b *testing.B) {
	now := time.Now().UTC()
	spec, _ := Spec(CollVisits)
	values := benchVisitValues(now)
	b.ReportAllocs()
	for b.Loop() {
		for name, v := range values {
			f, _ := spec.Field(name)
			if e := checkValue(f, v, now); e != nil {
				b.Fatal(e)
			}
		}
	}
}

// BenchmarkCheckWriteVisit is CheckWrite on one pushed visit as a phone
// writes it (a new record: three photos, a location, two participants,
// one officer), the domain rules' share of a pushed visit's CPU before
// CheckRefs. It reports allocations per change (-benchmem).
func BenchmarkCheckWriteVisit(b *testing.B) {
	now := time.Now().UTC()
	values := benchVisitValues(now)
	at := `"` + now.Add(-time.Hour).Format(time.RFC3339Nano) + `"`
	photo := func(c string) string {
		return `{"sha256":"` + strings.Repeat(c, 64) + `","size":204800,"taken_at":` + at + `,"type":"image/jpeg","width":4000,"height":3000,"lat":32.05,"lng":118.79}`
	}
	values["photos"] = json.RawMessage(`[` + photo("a") + `,` + photo("b") + `,` + photo("c") + `]`)
	w := syncproto.Writer{Replica: "dev-1"}
	merged, _, err := w.Set(syncproto.NewRecord(CollVisits, "v1", "p1"), values, now)
	if err != nil {
		b.Fatal(err)
	}
	wr := Write{
		Principal: Principal{UserID: "officer0001", Role: Officer},
		Pairing:   Pairing{ID: "p1", Status: StatusActive, Officers: []string{"officer0001"}, Counterparties: []string{"cp-0001"}},
		Op:        syncproto.OpSet, Values: values, Merged: merged, Now: now, Pushed: true,
	}
	b.ReportAllocs()
	for b.Loop() {
		if e := CheckWrite(wr); e != nil {
			b.Fatal(e)
		}
	}
}
