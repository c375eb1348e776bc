package readmodel_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/server/readmodel"
)

// seedScale writes n records as the scale benchmark (fieldctl bench -only
// scale, seedPairing) does: pairings of 1000 records over a year, mostly
// ~1 KB visits citing two photos never uploaded; about one visit in four
// raises an issue, and about half the open issues get an accepted event.
func seedScale(tb testing.TB, n int) *harness {
	tb.Helper()
	h := newHarness(tb)
	h.maxBatch = 1000
	const per = 1000
	var ps []testPairing
	for i := range max(n/per, 1) {
		pid := fmt.Sprintf("big%04d", i)
		ps = append(ps, testPairing{ID: pid, Branches: []string{"unitA"}, Counterparties: []string{"cp-" + pid},
			Officers: []string{"u-officer-1", "u-officer-2"}})
	}
	h.paths["unitA"] = "/root/unitA/"
	h.addPairings(ps...)
	rng := rand.New(rand.NewPCG(7, 11))
	notes := strings.Repeat("企业反映用工、融资和政策兑现方面的情况，", 30)[:1000]
	start := time.Date(2025, 6, 1, 8, 0, 0, 0, readmodel.China)
	step := 365 * 24 * time.Hour / per
	id := 0
	// ids as fieldctl's (UUIDv7, 36 characters): the Ledger keeps them.
	newID := func(string) string {
		id++
		return fmt.Sprintf("%08x-%04x-7%03x-8%03x-%012x", 0x019a0000+id/65536, id%65536, rng.IntN(4096), rng.IntN(4096), rng.Uint64()>>16)
	}
	for _, p := range ps {
		var open []string
		for k := 0; k < per; {
			at := start.Add(time.Duration(k) * step)
			by := p.Officers[rng.IntN(2)]
			if len(open) > 0 && rng.IntN(2) == 0 {
				h.set(p.ID, pairing.CollIssueEvents, newID("e"), at, "issue", open[0], "type", "accepted", "at", at,
					"by", by, "role", "officer", "note", "已受理，转相关部门办理")
				open, k = open[1:], k+1
				continue
			}
			vid := newID("v")
			kv := []any{"title", "走访调研", "officers", []string{by}, "mode", "onsite", "visited_at", at, "recorded_at", at,
				"location", map[string]float64{"lat": 32.1, "lng": 118.8, "accuracy_m": 12},
				"participants", []map[string]string{{"name": "王经理", "title": "总经理"}},
				"notes", notes, "status", "submitted", "counterparty", "cp-" + p.ID, "received_at", at.Add(time.Minute),
				"photos", []map[string]any{
					{"sha256": fmt.Sprintf("%064x", rng.Uint64()), "size": 200000, "type": "image/jpeg", "width": 4000, "height": 3000},
					{"sha256": fmt.Sprintf("%064x", rng.Uint64()), "size": 210000, "type": "image/jpeg", "width": 4000, "height": 3000}}}
			if k+1 < per && rng.IntN(4) == 0 {
				iid := newID("i")
				h.set(p.ID, pairing.CollIssues, iid, at, "title", "融资难", "category", "finance", "description", notes[:300],
					"raised_by", by, "raised_at", at, "visit", vid, "priority", "normal", "counterparty", "cp-"+p.ID,
					"received_at", at.Add(time.Minute))
				kv = append(kv, "issues", []string{iid})
				open, k = append(open, iid), k+1
			}
			h.set(p.ID, pairing.CollVisits, vid, at, kv...)
			k++
		}
		h.flush()
		clear(h.recs) // written once: forget them
	}
	return h
}

// BenchmarkLedgerLoad times a Ledger's first Refresh over a store of
// LEDGER_LOAD_RECORDS records (default 100,000) shaped like the scale
// workload's, and reports the time per record and the live heap the
// loaded Ledger holds per record (after a GC).
func BenchmarkLedgerLoad(b *testing.B) {
	n := 100_000
	if s := os.Getenv("LEDGER_LOAD_RECORDS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	h := seedScale(b, n)
	var l *readmodel.Ledger
	var ms runtime.MemStats
	var before uint64
	for b.Loop() {
		b.StopTimer()
		l = nil
		runtime.GC()
		runtime.ReadMemStats(&ms)
		before = ms.HeapAlloc
		l = h.ledger(nil)
		b.StartTimer()
		if err := l.Refresh(h.ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/float64(n), "µs/record")
	b.ReportMetric((float64(ms.HeapAlloc)-float64(before))/float64(n), "live-B/record")
	if path := os.Getenv("LEDGER_LOAD_HEAPPROFILE"); path != "" { // what the loaded Ledger holds
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		if err := pprof.WriteHeapProfile(f); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
	runtime.KeepAlive(l)
}
