package main

import (
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/pairsync/pairsync/server"
	"github.com/pairsync/pairsync/storage/bolt"
	"github.com/pairsync/pairsync/storage/files"
)

// TestProvinceSmoke runs the province workload's parts at a tiny size (2
// pairings, 100 records): the seeding through the storage interface, the
// readers against a server on the seeded file, and the count of storage
// calls per report. The figures themselves are make bench-province's.
func TestProvinceSmoke(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	spec := provinceSpec{Password: benchPassword, Admin: benchAdmin, Pairings: 2, Counterparties: 5, Users: 5, Devices: 4, Records: 100, Batch: 30, RNG: 1}
	seeded, err := seedProvince(ctx, dir, spec)
	if err != nil {
		t.Fatal(err)
	}
	if seeded.Records != 100 || seeded.Users != 5 || seeded.Devices != 4 || seeded.Directory != 7 || seeded.OrgUnits != 4 {
		t.Fatalf("seeded %+v; want 100 records, 5 users, 4 devices, 7 directory records, 4 org units", seeded)
	}

	db, err := bolt.Open(ctx, bolt.Config{Path: filepath.Join(dir, "pairsync.db"), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := range spec.Pairings {
		if h, err := db.Head(ctx, provincePairing(i)); err != nil || h != uint64(spec.recordsOf(i)) {
			t.Errorf("pairing %s: head %d (%v), want %d", provincePairing(i), h, err, spec.recordsOf(i))
		}
	}
	if _, err := db.Device(ctx, "dev-province-u-"+officerName(3)); err != nil {
		t.Errorf("device of officer 3: %v", err)
	}
	photos, err := files.Open(filepath.Join(dir, "photos"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{}, server.Deps{Store: db, Photos: photos})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	base := "http://" + ln.Addr().String()
	token, err := httpLogin(ctx, base, benchAdmin, benchPassword)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := waitOverview(ctx, base, token, time.Minute); err != nil {
		t.Fatal(err)
	}
	rd := runReaders(ctx, base, token, 2, 300*time.Millisecond, spec.Pairings, "")
	if len(rd.errs) > 0 {
		t.Errorf("reader errors: %v, last %v", rd.errs, rd.last)
	}
	if len(rd.lat["overview"]) == 0 || len(rd.lat["pairing page"]) == 0 {
		t.Errorf("readers read %d overviews and %d pairing pages; want some of each", len(rd.lat["overview"]), len(rd.lat["pairing page"]))
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	calls, err := provinceCalls(ctx, dir, provinceCallsSpec{Admin: benchAdmin, Password: benchPassword, Pairing: provincePairing(1), Repeat: 3})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"overview", "pairing_page", "scopes", "pull"} {
		c, ok := calls.Calls[k]
		if !ok || len(c.Samples) != 3 || c.Min < 1 || c.Min > c.Median || c.Median > c.Max {
			t.Errorf("storage calls of %s: %+v; want 3 samples, each at least one call", k, c)
		}
	}
	t.Logf("storage calls: %+v", calls.Calls)
}
