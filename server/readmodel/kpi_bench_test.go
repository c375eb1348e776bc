package readmodel_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/server/readmodel"
	"github.com/pairsync/pairsync/server/servertest"
	"github.com/pairsync/pairsync/storage"
)

// benchEnv is a bolt store (NoSync) loaded with a year of work and a
// Ledger caught up with it.
type benchEnv struct {
	h        *harness
	l        *readmodel.Ledger
	pairings []string
	rng      *rand.Rand
	n        int // records written
	first    readmodel.Month
}

var benchYear = time.Date(2025, 4, 1, 0, 0, 0, 0, readmodel.China)

// loadBench writes visits and issues (each with a dispatch, a signing and,
// for most, a response and a confirmation) over npairings pairings of a
// tree of 5 departments × 10 branches, then refreshes a Ledger once.
func loadBench(b *testing.B, npairings, visits, issues int) *benchEnv {
	b.Helper()
	h := newHarness(b)
	h.maxBatch = 500
	env := &benchEnv{h: h, rng: rand.New(rand.NewPCG(1, 2)), first: readmodel.MonthOf(benchYear)}
	var ps []testPairing
	for d := range 5 {
		for br := range 10 {
			id := fmt.Sprintf("d%db%d", d, br)
			h.paths[id] = fmt.Sprintf("/r/d%d/%s/", d, id)
		}
	}
	for i := range npairings {
		p := testPairing{ID: fmt.Sprintf("p%04d", i), Branches: []string{fmt.Sprintf("d%db%d", i%5, (i/5)%10)},
			Officers: []string{fmt.Sprintf("o%04d-1", i), fmt.Sprintf("o%04d-2", i)}, Contacts: []string{fmt.Sprintf("k%04d", i)}}
		for k := range 1 + i%3 {
			p.Counterparties = append(p.Counterparties, fmt.Sprintf("c%04d-%d", i, k))
		}
		ps = append(ps, p)
		env.pairings = append(env.pairings, p.ID)
	}
	h.addPairings(ps...)
	year := 365 * day
	for range visits {
		env.visit(env.pairings[env.rng.IntN(npairings)], benchYear.Add(time.Duration(env.rng.Int64N(int64(year)))))
	}
	env.load(b, h, issues)
	return env
}

// load raises issues over the past year in random pairings, commits
// everything and loads the ledger, as the overview finds it.
func (env *benchEnv) load(b *testing.B, h *harness, issues int) {
	year := 365 * day
	for range issues {
		env.issue(env.pairings[env.rng.IntN(len(env.pairings))], benchYear.Add(time.Duration(env.rng.Int64N(int64(year-30*day)))))
	}
	env.flush()
	env.l = h.ledger(kpiRules)
	start := time.Now()
	if err := env.l.Refresh(h.ctx); err != nil {
		b.Fatal(err)
	}
	b.Logf("loaded %d records over %d pairings; the first Refresh took %s", env.n, len(env.pairings), time.Since(start).Round(time.Millisecond))
}

// flush commits and forgets what was written: the benchmark never edits.
func (e *benchEnv) flush() {
	e.h.flush()
	e.h.recs = map[storage.Key]*stored{}
}

func (e *benchEnv) set(pid, coll, id string, at time.Time, kv ...any) {
	e.n++
	e.h.set(pid, coll, id, at, kv...)
	if e.n%20000 == 0 {
		e.flush()
	}
}

func (e *benchEnv) visit(pid string, at time.Time) {
	kv := []any{"title", "走访", "officers", []string{"o-" + pid}, "mode", "onsite", "visited_at", at}
	if e.rng.IntN(2) == 0 {
		kv = append(kv, "location", map[string]any{"lat": 32.0, "lng": 118.8, "accuracy_m": 10},
			"photos", []map[string]any{{"sha256": photoHash(e.n), "size": 1000, "type": "image/jpeg"}})
	}
	e.set(pid, pairing.CollVisits, fmt.Sprintf("v%07d", e.n), at, kv...)
}

func (e *benchEnv) issue(pid string, at time.Time) {
	id := fmt.Sprintf("i%07d", e.n)
	e.set(pid, pairing.CollIssues, id, at, "title", "诉求", "category", "policy", "raised_by", "o", "raised_at", at)
	ev := func(k int, typ pairing.EventType, t time.Time, role pairing.Role, kv ...any) {
		e.set(pid, pairing.CollIssueEvents, fmt.Sprintf("%s-%d", id, k), t,
			append([]any{"issue", id, "type", string(typ), "at", t, "by", "u", "role", string(role)}, kv...)...)
	}
	t := at.Add(2 * hour)
	ev(1, pairing.EventDispatched, t, pairing.Admin, "handler", "h")
	ev(2, pairing.EventSigned, t.Add(time.Duration(e.rng.IntN(48))*hour), pairing.Officer)
	if e.rng.IntN(5) > 0 {
		t = t.Add(time.Duration(e.rng.IntN(15*24)) * hour)
		ev(3, pairing.EventResponded, t, pairing.Officer, "resolution", "solved")
		if e.rng.IntN(2) == 0 {
			ev(4, pairing.EventConfirmed, t.Add(day), pairing.Contact, "response", id+"-3")
		}
	}
}

// BenchmarkFigures100kVisits times Figures over a Ledger holding 100,000
// visits and 20,000 issues (~70,000 events) of 500 pairings.
func BenchmarkFigures100kVisits(b *testing.B) {
	env := loadBench(b, 500, 100_000, 20_000)
	now := benchYear.AddDate(1, 0, 5)
	b.Run("tree-12-months", func(b *testing.B) {
		for b.Loop() {
			env.l.Figures(env.pairings, env.first, env.first+12, now)
		}
	})
	b.Run("one-pairing-12-months", func(b *testing.B) {
		for b.Loop() {
			env.l.Figures(env.pairings[7:8], env.first, env.first+12, now)
		}
	})
	b.Run("trend-tree-12-months", func(b *testing.B) {
		for b.Loop() {
			env.l.Trend(env.pairings, env.first, env.first+12, now)
		}
	})
	b.Run("sla-due", func(b *testing.B) {
		for b.Loop() {
			env.l.SLADue(now, nil)
		}
	})
}

// BenchmarkLedgerRefresh1000 times a Refresh catching up 1,000 new records
// (visits and issues with their events, in 50 of 500 pairings) over a
// Ledger of 20,000 visits and 4,000 issues.
func BenchmarkLedgerRefresh1000(b *testing.B) {
	env := loadBench(b, 500, 20_000, 4_000)
	at := benchYear.AddDate(1, 0, 0)
	for b.Loop() {
		b.StopTimer()
		written := env.n
		for env.n-written < 1000 {
			pid := env.pairings[env.rng.IntN(50)*10]
			if env.rng.IntN(3) == 0 {
				env.issue(pid, at)
			} else {
				env.visit(pid, at)
			}
			at = at.Add(time.Minute)
		}
		env.flush()
		b.StartTimer()
		if err := env.l.Refresh(env.h.ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOverviewProvince times what GET /v1/reports/overview asks of
// the Ledger for a province administrator (deploy/BENCHMARKS.md "The
// province workload"): the figures and trend of 7,000 pairings for 12
// months and the figures of each of the 100 departments below the root
// (70 pairings each), over 60,000 visits and 10,000 issues. "overview" is
// the one call the handler makes (Overview: each pairing read once);
// "figures-per-unit" the calls it made before (Figures and Trend of the
// tree, then Figures of each department), for comparison in the same run.
// cpu-ms/op is the process's CPU time per overview: on a shared machine the
// wall time per op moves with the load.
func BenchmarkOverviewProvince(b *testing.B) {
	env := loadProvince(b, 7000, 60_000, 10_000)
	now := benchYear.AddDate(1, 0, 5)
	depts := make([][]string, 100)
	for i, pid := range env.pairings {
		depts[i%100] = append(depts[i%100], pid)
	}
	b.Run("overview", func(b *testing.B) {
		start := servertest.CPUTime()
		for b.Loop() {
			env.l.Overview(env.pairings, depts, env.first, env.first+12, now)
		}
		b.ReportMetric(float64(servertest.CPUTime()-start)/float64(b.N)/1e6, "cpu-ms/op")
	})
	b.Run("figures-per-unit", func(b *testing.B) {
		start := servertest.CPUTime()
		for b.Loop() {
			env.l.Figures(env.pairings, env.first, env.first+12, now)
			env.l.Trend(env.pairings, env.first, env.first+12, now)
			for _, sub := range depts {
				env.l.Figures(sub, env.first, env.first+12, now)
			}
		}
		b.ReportMetric(float64(servertest.CPUTime()-start)/float64(b.N)/1e6, "cpu-ms/op")
	})
}

// loadProvince is loadBench for the province: npairings pairings of one
// branch each under 100 departments, one or two counterparties each, and
// visits naming their counterparty.
func loadProvince(b *testing.B, npairings, visits, issues int) *benchEnv {
	b.Helper()
	h := newHarness(b)
	h.maxBatch = 500
	env := &benchEnv{h: h, rng: rand.New(rand.NewPCG(1, 2)), first: readmodel.MonthOf(benchYear)}
	var ps []testPairing
	for i := range npairings {
		br := fmt.Sprintf("br%05d", i)
		h.paths[br] = fmt.Sprintf("/r/d%03d/%s/", i%100, br)
		p := testPairing{ID: fmt.Sprintf("p%05d", i), Branches: []string{br},
			Officers: []string{fmt.Sprintf("o%05d-1", i), fmt.Sprintf("o%05d-2", i)}, Contacts: []string{fmt.Sprintf("k%05d", i)}}
		for k := range 1 + i%2 {
			p.Counterparties = append(p.Counterparties, fmt.Sprintf("c%05d-%d", i, k))
		}
		ps = append(ps, p)
		env.pairings = append(env.pairings, p.ID)
	}
	for len(ps) > 0 {
		n := min(len(ps), 1000)
		h.addPairings(ps[:n]...)
		ps = ps[n:]
	}
	year := 365 * day
	for range visits {
		i := env.rng.IntN(npairings)
		at := benchYear.Add(time.Duration(env.rng.Int64N(int64(year))))
		env.set(env.pairings[i], pairing.CollVisits, fmt.Sprintf("v%07d", env.n), at, "title", "走访", "officers", []string{"o"}, "mode", "onsite",
			"visited_at", at, "counterparty", fmt.Sprintf("c%05d-%d", i, env.rng.IntN(1+i%2)))
	}
	env.load(b, h, issues)
	return env
}

// BenchmarkFiguresEachProvince times what GET /v1/reports/pairings and
// the pairings export ask of the Ledger for a province administrator: the
// figures of each of 7,000 pairings alone for 12 months, over the ledger
// of BenchmarkOverviewProvince. "each" is the one call the handlers make
// (FiguresEach); "figures-per-pairing" the calls they made before (Figures
// of each pairing, kept as the handlers' rows kept them), for comparison in
// the same run (run them in separate processes too: the first to run pays
// for the collection of the load's garbage). cpu-ms/op is the
// process's CPU time per request's figures.
func BenchmarkFiguresEachProvince(b *testing.B) {
	env := loadProvince(b, 7000, 60_000, 10_000)
	now := benchYear.AddDate(1, 0, 5)
	b.Run("each", func(b *testing.B) {
		start := servertest.CPUTime()
		for b.Loop() {
			env.l.FiguresEach(env.pairings, env.first, env.first+12, now)
		}
		b.ReportMetric(float64(servertest.CPUTime()-start)/float64(b.N)/1e6, "cpu-ms/op")
	})
	b.Run("figures-per-pairing", func(b *testing.B) {
		start := servertest.CPUTime()
		for b.Loop() {
			out := make([]readmodel.Figures, len(env.pairings)) // as the handlers kept them, in their rows
			for i, pid := range env.pairings {
				out[i] = env.l.Figures([]string{pid}, env.first, env.first+12, now)
			}
		}
		b.ReportMetric(float64(servertest.CPUTime()-start)/float64(b.N)/1e6, "cpu-ms/op")
	})
}
