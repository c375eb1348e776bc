package syncproto

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// The benchmarks below use records shaped like fieldctl bench's visits:
// ~1 KB of Chinese notes, two participants, a location and two photo
// references, stamped received_at by a server writer (~2.6 KB encoded,
// 12 fields each carrying its dot and HLC). bench_test.go's benchmarks use
// synthetic records; these are the sizes the server and the phones see.

const benchNotes = "今日到企业实地走访，与企业负责人就生产经营情况进行了深入交流。企业反映今年订单总体平稳，但原材料价格上涨明显，利润空间受到挤压。联络员详细讲解了最新的减税降费政策和稳岗补贴申报流程。"

func benchVisit(tb testing.TB, phone *Writer, srv *Writer, i int, at time.Time) (Record, Write) {
	tb.Helper()
	photo := func(n int) string {
		return fmt.Sprintf(`{"height":3000,"sha256":"%064x","size":%d,"taken_at":"2026-11-22T11:31:32Z","type":"image/jpeg","width":4000}`, i*2+n, 200000+n)
	}
	v := map[string]json.RawMessage{
		"title":        json.RawMessage(`"走访企业了解经营情况"`),
		"officers":     json.RawMessage(`["u-officer0001"]`),
		"mode":         json.RawMessage(`"onsite"`),
		"visited_at":   json.RawMessage(`"2026-11-22T10:31:32Z"`),
		"recorded_at":  json.RawMessage(`"2026-11-22T12:04:32Z"`),
		"location":     json.RawMessage(`{"accuracy_m":33,"lat":32.06637377984915,"lng":118.82254369194659}`),
		"participants": json.RawMessage(`[{"name":"王经理","title":"总经理"},{"name":"杨主任","title":"办公室主任"}]`),
		"notes":        json.RawMessage(`"` + strings.Repeat(benchNotes, 4) + `"`),
		"photos":       json.RawMessage(`[` + photo(0) + `,` + photo(1) + `]`),
		"status":       json.RawMessage(`"submitted"`),
		"counterparty": json.RawMessage(`"cp-p00001"`),
	}
	r, w, err := phone.Set(NewRecord("visits", fmt.Sprintf("01a20324-cb52-783c-9b67-%012d", i), "p00001"), v, at)
	if err != nil {
		tb.Fatal(err)
	}
	if srv != nil {
		if r, _, err = srv.Set(r, map[string]json.RawMessage{"received_at": json.RawMessage(`"2026-11-22T12:05:09.722Z"`)}, at.Add(time.Second)); err != nil {
			tb.Fatal(err)
		}
	}
	return r, w
}

// benchVisitPush is a push of n new visits, as a phone sends it.
func benchVisitPush(tb testing.TB, n int) *PushRequest {
	phone := &Writer{Replica: "01a20328-1c27-7db3-9c66-98296b6b063a"}
	req := &PushRequest{V: Version, Device: phone.Replica}
	for i := range n {
		r, w := benchVisit(tb, phone, nil, i, t0.Add(time.Duration(i)*time.Second))
		req.Changes = append(req.Changes, Change{Dot: w.Dot, HLC: w.HLC, Record: r})
	}
	return req
}

// benchVisitPage is a pull page of n stored visits.
func benchVisitPage(tb testing.TB, n int) *PullAnswer {
	phone, srv := &Writer{Replica: "01a20328-1c27-7db3-9c66-98296b6b063a"}, &Writer{Replica: "srv-abcdefghijkl"}
	ans := &PullAnswer{V: Version, Cursor: Cursor{"p00001": uint64(n)}}
	for i := range n {
		r, _ := benchVisit(tb, phone, srv, i, t0.Add(time.Duration(i)*time.Second))
		ans.Records = append(ans.Records, PulledRecord{Pairing: "p00001", Seq: uint64(i + 1), Record: r})
	}
	return ans
}

// BenchmarkDecodePushVisits: the server decoding one push of 50 visits
// (fieldctl's batch).
func BenchmarkDecodePushVisits(b *testing.B) {
	body := mustEncode(b, benchVisitPush(b, 50))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodePush(body, DefaultLimits()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(50*b.N)/b.Elapsed().Seconds(), "changes/s")
}

// BenchmarkDecodeRecordVisit: the server decoding one stored visit (the
// pull decodes every record it sends; a push every record it merges into).
func BenchmarkDecodeRecordVisit(b *testing.B) {
	r, _ := benchVisit(b, &Writer{Replica: "phone"}, &Writer{Replica: "srv"}, 1, t0)
	data := mustEncode(b, r)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeRecord(data, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeRecordVisit: encoding one visit (stored after a push,
// and in every pull page).
func BenchmarkEncodeRecordVisit(b *testing.B) {
	r, _ := benchVisit(b, &Writer{Replica: "phone"}, &Writer{Replica: "srv"}, 1, t0)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode(r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodePullVisits: the server encoding a full pull page of 500
// visits (before compression).
func BenchmarkEncodePullVisits(b *testing.B) {
	ans := benchVisitPage(b, 500)
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
	b.ReportMetric(float64(500*b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkDecodePullAnswerVisits: a phone decoding that page (validating
// every record).
func BenchmarkDecodePullAnswerVisits(b *testing.B) {
	body := mustEncode(b, benchVisitPage(b, 500))
	lim := Limits{MaxBytes: 32 << 20, MaxArray: 1 << 20, MaxKeys: 1 << 20}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodePullAnswer(body, lim); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(500*b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkMergeVisitNew and BenchmarkMergeVisitSame: a push merging a new
// visit into nothing, and a pull merging a visit the phone already holds
// (its own, pulled back after the push).
func BenchmarkMergeVisitNew(b *testing.B) {
	r, _ := benchVisit(b, &Writer{Replica: "phone"}, nil, 1, t0)
	b.ReportAllocs()
	for b.Loop() {
		_ = Merge(Record{}, r)
	}
}

func BenchmarkMergeVisitSame(b *testing.B) {
	r, _ := benchVisit(b, &Writer{Replica: "phone"}, &Writer{Replica: "srv"}, 1, t0)
	b.ReportAllocs()
	for b.Loop() {
		_ = Merge(r, r)
	}
}

// BenchmarkEncodePullVisitsEncodingJSON: the same page through
// encoding/json's Encoder (SetEscapeHTML(false)), which is how a handler's
// c.JSON sends it: encoding/json calls PullAnswer.MarshalJSON, then
// compacts and validates its output in a second pass. The difference with
// BenchmarkEncodePullVisits is what sending syncproto.Encode's bytes as
// they are would save per page.
func BenchmarkEncodePullVisitsEncodingJSON(b *testing.B) {
	ans := benchVisitPage(b, 500)
	b.ReportAllocs()
	b.SetBytes(int64(encodeWithEncodingJSON(b, ans)))
	b.ReportMetric(float64(500*b.N)/b.Elapsed().Seconds(), "records/s")
}

// encodeWithEncodingJSON is the benchmark loop of v through encoding/json's
// Encoder without HTML escaping, as a handler's c.JSON sends it; it returns
// the encoding's size.
func encodeWithEncodingJSON(b *testing.B, v any) int {
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			b.Fatal(err)
		}
	}
	return buf.Len()
}

// BenchmarkEncodePushVisits: a phone's push of 50 visits through Encode
// (its own encoder, no reflection)…
func BenchmarkEncodePushVisits(b *testing.B) {
	req := benchVisitPush(b, 50)
	b.ReportAllocs()
	var n int
	for b.Loop() {
		out, err := Encode(req)
		if err != nil {
			b.Fatal(err)
		}
		n = len(out)
	}
	b.SetBytes(int64(n))
}

// BenchmarkEncodePushVisitsEncodingJSON: …and through encoding/json, as
// Encode did before (Record.MarshalJSON, then compaction of its output).
func BenchmarkEncodePushVisitsEncodingJSON(b *testing.B) {
	req := benchVisitPush(b, 50)
	b.ReportAllocs()
	b.SetBytes(int64(encodeWithEncodingJSON(b, req)))
}

// BenchmarkDecodeWriteVisit: one outbox entry (a new visit's write)
// through DecodeWrite…
func BenchmarkDecodeWriteVisit(b *testing.B) {
	_, w := benchVisit(b, &Writer{Replica: "01a20328-1c27-7db3-9c66-98296b6b063a"}, nil, 1, t0)
	data, err := json.Marshal(w)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := DecodeWrite(data, Limits{MaxBytes: -1}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeWriteVisitEncodingJSON: …and through encoding/json, as
// the phone's outbox did before.
func BenchmarkDecodeWriteVisitEncodingJSON(b *testing.B) {
	_, w := benchVisit(b, &Writer{Replica: "01a20328-1c27-7db3-9c66-98296b6b063a"}, nil, 1, t0)
	data, err := json.Marshal(w)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		var out Write
		if err := json.Unmarshal(data, &out); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkServerPushVisits: the protocol's share of the server's work on
// one push of 50 new visits (fieldctl's batch), per change as
// server.commitChanges does it: DecodePush, then Check against nothing
// stored, MergeInto, Written (for the domain rules) and Encode of the
// merged record (what is stored). The domain rules and storage are not in
// it.
func BenchmarkServerPushVisits(b *testing.B) {
	const n = 50
	body := mustEncode(b, benchVisitPush(b, n))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		req, err := DecodePush(body, DefaultLimits())
		if err != nil {
			b.Fatal(err)
		}
		for _, ch := range req.Changes {
			if e := ch.Check(req.Device, Record{}); e != nil {
				b.Fatal(e)
			}
			merged, _ := ch.MergeInto(Record{})
			_, _ = ch.Written()
			if _, err := Encode(merged); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*b.N)/1000, "µs/change")
}

// BenchmarkStampVisit: the server stamping received_at on a new visit as
// it stores it (its Writer.Set on the pushed record).
func BenchmarkStampVisit(b *testing.B) {
	r, _ := benchVisit(b, &Writer{Replica: "01a20328-1c27-7db3-9c66-98296b6b063a"}, nil, 1, t0)
	srv := &Writer{Replica: "srv-abcdefghijkl"}
	stamp := map[string]json.RawMessage{"received_at": json.RawMessage(`"2026-11-22T12:05:09.722Z"`)}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := srv.Set(r, stamp, t0.Add(time.Second)); err != nil {
			b.Fatal(err)
		}
	}
}
