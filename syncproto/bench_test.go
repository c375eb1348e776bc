package syncproto

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// benchRecords returns two concurrent versions of a 20-field record: each
// side rewrote a few fields (two of them the same), so the merge finds
// conflicts, survivors on both sides, and fields neither touched.
func benchRecords(b *testing.B) (Record, Record) {
	wa, wb := &Writer{Replica: "phone-a"}, &Writer{Replica: "phone-b"}
	v := map[string]json.RawMessage{}
	for i := range 20 {
		v[fmt.Sprintf("field%02d", i)] = json.RawMessage(fmt.Sprintf(`"initial value of field %d, about forty bytes"`, i))
	}
	base, _, err := wa.Set(NewRecord("visits", "01JD3S5D1S4J4Y0C8RWYN1H8VQ", "pairing-17"), v, t0)
	if err != nil {
		b.Fatal(err)
	}
	a, _, _ := wa.Set(base, map[string]json.RawMessage{"field01": json.RawMessage(`"a"`), "field02": json.RawMessage(`{"k":[1,2,3]}`), "field03": json.RawMessage(`3`)}, t0.Add(time.Second))
	c, _, _ := wb.Set(base, map[string]json.RawMessage{"field02": json.RawMessage(`"b"`), "field03": json.RawMessage(`4`), "field04": json.RawMessage(`null`)}, t0.Add(2*time.Second))
	return a, c
}

func BenchmarkMerge(b *testing.B) {
	x, y := benchRecords(b)
	b.ReportAllocs()
	for b.Loop() {
		_ = Merge(x, y)
	}
}

func BenchmarkVectorCompare(b *testing.B) {
	x, y := Vector{}, Vector{}
	for i := range 10 {
		r := ReplicaID(fmt.Sprintf("phone-%02d", i))
		x[r], y[r] = uint64(100+i), uint64(100+i)
	}
	y["phone-03"]++
	b.ReportAllocs()
	for b.Loop() {
		if x.Compare(y) != Before {
			b.Fatal("wrong order")
		}
	}
}

func BenchmarkDecodePush(b *testing.B) {
	body := mustEncode(b, samplePush(b, 100, 10))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodePush(body, DefaultLimits()); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodePull(b *testing.B) {
	push := samplePush(b, 500, 10)
	ans := &PullAnswer{V: Version, Cursor: Cursor{"p1": 500}}
	for i, c := range push.Changes {
		ans.Records = append(ans.Records, PulledRecord{Pairing: "p1", Seq: uint64(i + 1), Record: c.Record})
	}
	b.ReportAllocs()
	var n int
	for b.Loop() {
		out, err := Encode(ans)
		if err != nil {
			b.Fatal(err)
		}
		n = len(out)
	}
	b.SetBytes(int64(n))
}
