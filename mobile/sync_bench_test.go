package mobile

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/pairsync/pairsync/syncproto"
)

// Engine-level costs of a sync on the phone, with visits shaped like
// fieldctl bench's (~1 KB of Chinese notes, two photo references; ~2.6 KB
// stored): a local write, and a pull page of 500 records decoded and merged
// into the store in one transaction (fsync on), as Sync does.

func benchEngine(b testing.TB) *Engine {
	b.Helper()
	e, err := Open(filepath.Join(b.TempDir(), "bench.db"), Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.Close() })
	err = e.db.Update(func(tx *bolt.Tx) error {
		return saveJSON(tx, keyWriter, writerState{Replica: "01a20328-1c27-7db3-9c66-98296b6b063a"})
	})
	if err != nil {
		b.Fatal(err)
	}
	return e
}

const benchNotes = "今日到企业实地走访，与企业负责人就生产经营情况进行了深入交流。企业反映今年订单总体平稳，但原材料价格上涨明显，利润空间受到挤压。联络员详细讲解了最新的减税降费政策和稳岗补贴申报流程。"

func benchVisitFields(i int) map[string]json.RawMessage {
	photo := func(n int) Photo {
		return Photo{SHA256: fmt.Sprintf("%064x", 2*i+n), Size: 200000, Type: "image/jpeg", Width: 4000, Height: 3000, TakenAt: "2026-11-22T11:31:32Z"}
	}
	return map[string]json.RawMessage{
		"title":        json.RawMessage(`"走访企业了解经营情况"`),
		"officers":     json.RawMessage(`["u-officer0001"]`),
		"mode":         json.RawMessage(`"onsite"`),
		"visited_at":   json.RawMessage(`"2026-11-22T10:31:32Z"`),
		"recorded_at":  json.RawMessage(`"2026-11-22T12:04:32Z"`),
		"location":     json.RawMessage(`{"accuracy_m":33,"lat":32.06637377984915,"lng":118.82254369194659}`),
		"participants": json.RawMessage(`[{"name":"王经理","title":"总经理"},{"name":"杨主任","title":"办公室主任"}]`),
		"notes":        json.RawMessage(`"` + strings.Repeat(benchNotes, 4) + `"`),
		"photos":       Manifest(photo(0), photo(1)),
		"status":       json.RawMessage(`"submitted"`),
	}
}

// benchPage is a pull answer of n visits with ids from first, as the server
// sends it (another phone wrote them; the server stamped received_at).
func benchPage(b *testing.B, first, n int) []byte {
	phone, srv := &syncproto.Writer{Replica: "01a20329-aaaa-7db3-9c66-98296b6b063a"}, &syncproto.Writer{Replica: "srv-abcdefghijkl"}
	at := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	ans := &syncproto.PullAnswer{V: syncproto.Version, Cursor: syncproto.Cursor{"p00001": uint64(first + n)}}
	for i := first; i < first+n; i++ {
		r, _, err := phone.Set(syncproto.NewRecord("visits", fmt.Sprintf("01a20324-cb52-783c-9b67-%012d", i), "p00001"), benchVisitFields(i), at)
		if err != nil {
			b.Fatal(err)
		}
		if r, _, err = srv.Set(r, map[string]json.RawMessage{"received_at": json.RawMessage(`"2026-11-22T12:05:09.722Z"`)}, at); err != nil {
			b.Fatal(err)
		}
		ans.Records = append(ans.Records, syncproto.PulledRecord{Pairing: "p00001", Seq: uint64(i + 1), Record: r})
	}
	body, err := syncproto.Encode(ans)
	if err != nil {
		b.Fatal(err)
	}
	return body
}

// applyPage is what Sync does with a pull answer: decode it, then merge
// every record into the base and move the cursor, in one transaction
// (mergePage). Sync asks for the next page meanwhile.
func applyPage(e *Engine, body []byte) error {
	ans, err := syncproto.DecodePullAnswer(body, answerLimits)
	if err != nil {
		return err
	}
	return e.db.Update(func(tx *bolt.Tx) error { return mergePage(tx, ans, ans.Cursor) })
}

// BenchmarkPullPage: a page of 500 new visits into a store that holds the
// pages before it (an initial sync's steady state); records/s is the
// phone's ceiling for an initial sync, network and server aside.
func BenchmarkPullPage(b *testing.B) {
	e := benchEngine(b)
	b.StopTimer()
	for i := range b.N {
		body := benchPage(b, i*500, 500)
		b.SetBytes(int64(len(body)))
		b.StartTimer()
		if err := applyPage(e, body); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
	}
	b.ReportMetric(float64(500*b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkPullPageHeld: the same page again (records the phone holds
// already: its own writes, pulled back after its push).
func BenchmarkPullPageHeld(b *testing.B) {
	e := benchEngine(b)
	body := benchPage(b, 0, 500)
	if err := applyPage(e, body); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if err := applyPage(e, body); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(500*b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkSetVisit: recording a visit offline (one fsync'd transaction).
func BenchmarkSetVisit(b *testing.B) {
	e := benchEngine(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if err := e.Set("visits", fmt.Sprintf("01a20324-cb52-783c-9b67-%012d", i), "p00001", benchVisitFields(i)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBuildPush: taking a push of 50 changes from an outbox of 200
// written by this engine (each change as Set left it, then encoded).
func BenchmarkBuildPush(b *testing.B) {
	benchBuildPush(b, false)
}

// BenchmarkBuildPushFromOutbox: the same, the writes made before the engine
// opened (each change decoded from the outbox, rebuilt from base and
// pending writes, then encoded).
func BenchmarkBuildPushFromOutbox(b *testing.B) {
	benchBuildPush(b, true)
}

func benchBuildPush(b *testing.B, reopened bool) {
	e := benchEngine(b)
	for i := range 200 {
		if err := e.Set("visits", fmt.Sprintf("01a20324-cb52-783c-9b67-%012d", i), "p00001", benchVisitFields(i)); err != nil {
			b.Fatal(err)
		}
	}
	if reopened {
		e.recent.clear()
	}
	s := &syncRun{e: e}
	b.ReportAllocs()
	for b.Loop() {
		items, _, err := s.buildPush(50)
		if err != nil || len(items) != 50 {
			b.Fatal(len(items), err)
		}
	}
	b.ReportMetric(float64(50*b.N)/b.Elapsed().Seconds(), "changes/s")
}

// BenchmarkPushRound: the phone's side of one push of 50 new visits, no
// network and no server: take the push from the outbox (buildPush), make
// its body (gzip, the default), decode the server's answer (every change
// applied and stamped with received_at, as pairsyncd answers) and apply
// it in one transaction (fsync on). The outbox is refilled untimed.
// cpu-µs/change is the process's CPU time in the timed parts (fsync waits
// are not CPU; the machine is shared).
func BenchmarkPushRound(b *testing.B) {
	e := benchEngine(b)
	s := &syncRun{e: e, c: &conn{e: e, sess: session{DeviceID: "01a20328-1c27-7db3-9c66-98296b6b063a"}}}
	srv := &syncproto.Writer{Replica: "srv-abcdefghijkl"}
	at := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	const n = 50
	seq, next := uint64(0), 0
	var cpu time.Duration
	b.ReportAllocs()
	b.StopTimer()
	for range b.N {
		e.db.NoSync = true
		for range n {
			next++
			if err := e.Set("visits", fmt.Sprintf("01a20324-cb52-783c-9b67-%012d", next), "p00001", pairedVisit(next)); err != nil {
				b.Fatal(err)
			}
		}
		e.db.NoSync = false
		b.StartTimer()
		cpu0 := cpuTime()
		items, _, err := s.buildPush(n)
		if err != nil || len(items) != n {
			b.Fatal(len(items), err)
		}
		req := s.pushRequest(items)
		cpu += cpuTime() - cpu0
		b.StopTimer()
		// The server's answer, made untimed.
		ans := &syncproto.PushAnswer{V: syncproto.Version}
		for _, it := range items {
			_, sw, err := srv.Set(it.ch.Record, map[string]json.RawMessage{"received_at": json.RawMessage(`"2026-11-22T12:05:09.722Z"`)}, at)
			if err != nil {
				b.Fatal(err)
			}
			seq++
			ans.Results = append(ans.Results, syncproto.Result{Dot: it.w.Dot, Status: syncproto.StatusApplied, Seq: seq, Stamp: []syncproto.Write{sw}})
		}
		body, err := syncproto.Encode(ans)
		if err != nil || len(req.body) == 0 {
			b.Fatal(err)
		}
		b.StartTimer()
		cpu0 = cpuTime()
		got, err := syncproto.DecodePushAnswer(body, answerLimits)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.apply(items, got); err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime() - cpu0
	}
	b.StopTimer()
	if p := e.Pending(); p != 0 {
		b.Fatalf("%d writes still pending", p)
	}
	b.ReportMetric(float64(cpu.Microseconds())/float64(n*b.N), "cpu-µs/change")
}
