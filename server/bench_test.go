package server

import (
	"sort"
	"testing"
	"time"

	"github.com/pairsync/pairsync/server/auth"
	"github.com/pairsync/pairsync/storage"
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
