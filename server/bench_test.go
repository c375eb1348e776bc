package server

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pairsync/pairsync/server/auth"
	"github.com/pairsync/pairsync/server/readmodel"
	"github.com/pairsync/pairsync/server/servertest"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/syncproto"
)

// BenchmarkLogin signs in over real HTTP with the production argon2id
// parameters (m = 19 MiB, t = 2, p = 1) and reports the latency percentiles.
func BenchmarkLogin(b *testing.B) {
	db, photos := openStores(b)
	s, err := New(Config{}, Deps{Store: db, Photos: photos})
	if err != nil {
		b.Fatal(err)
	}
	e := &idEnv{t: b, s: s, db: db}
	e.base = serve(b, s)
	phc, _ := auth.NewHasher(auth.DefaultParams, 1).Hash(b.Context(), testPassword)
	if _, err := db.CreateOrgUnit(b.Context(), storage.OrgUnit{ID: "root", Name: "root", Kind: "committee"}); err != nil {
		b.Fatal(err)
	}
	if _, err := db.CreateUser(b.Context(), storage.User{ID: "u1", Username: "officer", Role: "officer", OrgUnit: "root", PasswordHash: phc}); err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		r := e.call("POST", "/v1/auth/login", "", map[string]string{"username": "officer", "password": testPassword})
		lat = append(lat, time.Since(start))
		if r.status != 200 {
			b.Fatalf("login: %d %s", r.status, r.body)
		}
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkReports100kVisits: the dashboard over real HTTP with 100,000
// visits and 20,000 issues (each dispatched and answered) stored in 500
// pairings: GET /v1/reports/overview for the whole tree and a year, and a
// page of GET /v1/reports/pairings. Reports p50/p99; the first call, which
// builds the ledger from the stored feeds, is reported apart (warm-ms).
func BenchmarkReports100kVisits(b *testing.B) {
	e := newDomainEnv(b)
	ctx := b.Context()
	const pairings, visitsPer, issuesPer = 500, 200, 40
	w := syncproto.Writer{Replica: "bench-phone"}
	year := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	notes := strings.Repeat("走访企业，了解生产经营情况和融资、用工诉求。", 8)
	enc := func(rec syncproto.Record, vals map[string]any) syncproto.Record {
		raw, err := jsonValues(vals)
		if err != nil {
			b.Fatal(err)
		}
		next, _, err := w.Set(rec, raw, year)
		if err != nil {
			b.Fatal(err)
		}
		return next
	}
	for p := range pairings {
		pid := fmt.Sprintf("bp%03d", p)
		unit := []string{"unitA", "unitB"}[p%2]
		vals, _ := jsonValues(map[string]any{"name": "结对 " + pid, "status": "active", "branches": []string{unit},
			"counterparties": []string{"cp-" + pid}, "officers": []map[string]any{{"user_id": "u-officerA", "primary": true}}})
		if _, _, err := e.s.writeRecord(ctx, "pairings", pid, "_directory", vals); err != nil {
			b.Fatal(err)
		}
		var puts []storage.Put
		add := func(r syncproto.Record) {
			data, err := syncproto.Encode(r)
			if err != nil {
				b.Fatal(err)
			}
			puts = append(puts, storage.Put{Key: storage.Key{Collection: r.Collection, ID: r.ID}, Data: data})
		}
		for v := range visitsPer {
			at := year.Add(time.Duration(v*p%330) * 24 * time.Hour)
			add(enc(syncproto.NewRecord("visits", fmt.Sprintf("%s-v%d", pid, v), pid), map[string]any{
				"mode": "onsite", "visited_at": at.Format(time.RFC3339), "officers": []string{"u-officerA"}, "notes": notes,
				"location": map[string]any{"lat": 32.06, "lng": 118.79, "accuracy_m": 10}}))
		}
		for i := range issuesPer {
			at := year.Add(time.Duration(i*7+p%30) * 24 * time.Hour)
			id := fmt.Sprintf("%s-i%d", pid, i)
			add(enc(syncproto.NewRecord("issues", id, pid), map[string]any{"title": "融资难", "category": "financing",
				"raised_by": "u-officerA", "raised_at": at.Format(time.RFC3339)}))
			add(enc(syncproto.NewRecord("issue_events", id+"-d", pid), map[string]any{"issue": id, "type": "dispatched",
				"at": at.Add(time.Hour).Format(time.RFC3339), "by": "u-adminA", "role": "admin", "handler": "u-officerA"}))
			add(enc(syncproto.NewRecord("issue_events", id+"-r", pid), map[string]any{"issue": id, "type": "responded",
				"at": at.Add(50 * time.Hour).Format(time.RFC3339), "by": "u-officerA", "role": "officer", "resolution": "solved"}))
		}
		if _, err := e.db.Commit(ctx, storage.Batch{Pairing: pid, Puts: puts}); err != nil {
			b.Fatal(err)
		}
	}
	tok := e.login("root").AccessToken
	measure := func(path string) (p50, p99 float64) {
		lat := make([]time.Duration, 0, b.N)
		for range b.N {
			start := time.Now()
			if r := e.call("GET", path, tok, nil); r.status != 200 {
				b.Fatalf("%s: %d %s", path, r.status, r.body)
			}
			lat = append(lat, time.Since(start))
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		return float64(lat[len(lat)/2].Microseconds()) / 1000, float64(lat[len(lat)*99/100].Microseconds()) / 1000
	}
	start := time.Now()
	var ov overviewReport
	e.call("GET", "/v1/reports/overview?from=2026-01&to=2026-12", tok, nil).json(b, &ov)
	warm := time.Since(start)
	if ov.Figures.Visits != pairings*visitsPer || ov.Figures.IssuesDispatched != pairings*issuesPer {
		b.Fatalf("overview: %d visits, %d issues dispatched; want %d, %d", ov.Figures.Visits, ov.Figures.IssuesDispatched, pairings*visitsPer, pairings*issuesPer)
	}
	b.ResetTimer()
	o50, o99 := measure("/v1/reports/overview?from=2026-01&to=2026-12")
	p50, p99 := measure("/v1/reports/pairings?from=2026-01&to=2026-12&sort=visits&limit=100")
	b.StopTimer()
	b.ReportMetric(float64(warm.Milliseconds()), "warm-ms")
	b.ReportMetric(o50, "overview-p50-ms")
	b.ReportMetric(o99, "overview-p99-ms")
	b.ReportMetric(p50, "pairings-p50-ms")
	b.ReportMetric(p99, "pairings-p99-ms")
}

// BenchmarkPairingsReportProvince: GET /v1/reports/pairings over real
// HTTP for the root's administrator at a province's size (deploy/
// BENCHMARKS.md "The province workload"): 7,000 pairings under two units,
// ~63,000 visits and ~7,000 issues (dispatched, answered) over a year, a
// year's figures sorted by visits, the first page. cpu-ms/op is the
// process's CPU time per request (server and client in one process; the
// wall time per op moves with the shared machine's load).
func BenchmarkPairingsReportProvince(b *testing.B) {
	e := newDomainEnv(b)
	ctx := b.Context()
	const pairings = 7000
	w := syncproto.Writer{Replica: "bench-phone"}
	year := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	enc := func(rec syncproto.Record, vals map[string]any) storage.Put {
		raw, err := jsonValues(vals)
		if err != nil {
			b.Fatal(err)
		}
		next, _, err := w.Set(rec, raw, year)
		if err != nil {
			b.Fatal(err)
		}
		data, err := syncproto.Encode(next)
		if err != nil {
			b.Fatal(err)
		}
		return storage.Put{Key: storage.Key{Collection: next.Collection, ID: next.ID}, Data: data}
	}
	start := time.Now()
	visits := 0
	for p := range pairings {
		pid := fmt.Sprintf("pp%04d", p)
		vals, _ := jsonValues(map[string]any{"name": "结对 " + pid, "status": "active", "branches": []string{[]string{"unitA", "unitB"}[p%2]},
			"counterparties": []string{"cp-" + pid}, "officers": []map[string]any{{"user_id": "u-officerA", "primary": true}}})
		if _, _, err := e.s.writeRecord(ctx, "pairings", pid, "_directory", vals); err != nil {
			b.Fatal(err)
		}
		var puts []storage.Put
		for v := range 8 + p%3 {
			at := year.Add(time.Duration((v*37+p)%330) * 24 * time.Hour)
			puts = append(puts, enc(syncproto.NewRecord("visits", fmt.Sprintf("%s-v%d", pid, v), pid), map[string]any{
				"mode": "onsite", "visited_at": at.Format(time.RFC3339), "officers": []string{"u-officerA"}}))
			visits++
		}
		for i := range p % 3 {
			at := year.Add(time.Duration((i*53+p)%300) * 24 * time.Hour)
			id := fmt.Sprintf("%s-i%d", pid, i)
			puts = append(puts, enc(syncproto.NewRecord("issues", id, pid), map[string]any{"title": "融资难", "category": "financing",
				"raised_by": "u-officerA", "raised_at": at.Format(time.RFC3339)}),
				enc(syncproto.NewRecord("issue_events", id+"-d", pid), map[string]any{"issue": id, "type": "dispatched",
					"at": at.Add(time.Hour).Format(time.RFC3339), "by": "u-adminA", "role": "admin", "handler": "u-officerA"}),
				enc(syncproto.NewRecord("issue_events", id+"-r", pid), map[string]any{"issue": id, "type": "responded",
					"at": at.Add(50 * time.Hour).Format(time.RFC3339), "by": "u-officerA", "role": "officer", "resolution": "solved"}))
		}
		if _, err := e.db.Commit(ctx, storage.Batch{Pairing: pid, Puts: puts}); err != nil {
			b.Fatal(err)
		}
	}
	tok := e.login("root").AccessToken
	const path = "/v1/reports/pairings?from=2026-01&to=2026-12&sort=visits&limit=100"
	var first pairingsReportAnswer
	e.call("GET", path, tok, nil).json(b, &first)
	if first.Total != pairings || len(first.Pairings) != 100 || first.Pairings[0].Figures.Visits != 10 {
		b.Fatalf("report: total %d, %d rows, first with %d visits; want %d, 100, 10", first.Total, len(first.Pairings), first.Pairings[0].Figures.Visits, pairings)
	}
	b.Logf("seeded %d pairings, %d visits and the first report in %s", pairings, visits, time.Since(start).Round(time.Second))
	cpu := servertest.CPUTime()
	for b.Loop() {
		if r := e.call("GET", path, tok, nil); r.status != 200 {
			b.Fatalf("%d %s", r.status, r.body)
		}
	}
	b.ReportMetric(float64(servertest.CPUTime()-cpu)/float64(b.N)/1e6, "cpu-ms/op")
}

// pairingsReportAnswer is pairingsReport as a client reads it.
type pairingsReportAnswer struct {
	Pairings []struct {
		Figures readmodel.Figures `json:"figures"`
	} `json:"pairings"`
	Total int `json:"total"`
}
