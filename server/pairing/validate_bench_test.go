package pairing

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
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
