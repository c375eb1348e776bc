package main

import (
	"context"
	"flag"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/pairsync/pairsync/server"
	"github.com/pairsync/pairsync/storage/bolt"
	"github.com/pairsync/pairsync/storage/files"
)

var pushProfile = flag.String("push.profile", "", "BenchmarkPushInProcess: write push-cpu.pprof, push-allocs-{before,after}.pprof and push-heap.pprof to this directory")

// BenchmarkPushInProcess is fieldctl bench's push workload (50 devices each
// pushing 200 new visits in batches of 50, over HTTP on 127.0.0.1, with the
// real client engines) with the server IN THIS PROCESS, wired as pairsyncd
// wires it (bolt with fsync, files, production password parameters): for a
// CPU and heap profile of the push, since pairsyncd has no pprof endpoint.
// The figures of record are fieldctl bench's (pairsyncd in its own
// process); this one shares the two cores between server and clients the
// same way. The profiles cover only the measured push (not sign-in or the
// offline writes); the server's CPU samples are labelled side=server, the
// client engines' side=client:
//
//	go test -run '^$' -bench '^BenchmarkPushInProcess$' -benchtime 1x ./mobile/cmd/fieldctl -args -push.profile data/bench
//	go tool pprof -top -tagfocus side=server data/bench/push-cpu.pprof
//	go tool pprof -top -sample_index=alloc_space -diff_base data/bench/push-allocs-before.pprof data/bench/push-allocs-after.pprof
func BenchmarkPushInProcess(b *testing.B) {
	const devices, visits, batch = 50, 200, 50
	ctx := context.Background()
	dir := b.TempDir()
	g := pairingGroup{Prefix: "p", Count: devices / 2, Records: 20, First: 1, Step: 2, Per: 2}
	if _, err := seedStore(ctx, dir, seedSpec{Password: benchPassword, Officers: devices, Admin: benchAdmin, Groups: []pairingGroup{g}, RNG: 1}); err != nil {
		b.Fatal(err)
	}
	db, err := bolt.Open(ctx, bolt.Config{Path: filepath.Join(dir, "pairsync.db")})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	photos, err := files.Open(filepath.Join(dir, "photos"))
	if err != nil {
		b.Fatal(err)
	}
	srv, err := server.New(server.Config{}, server.Deps{Store: db, Photos: photos})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	pprof.Do(ctx, pprof.Labels("side", "server"), func(context.Context) { go srv.Serve(ln) })
	defer srv.Shutdown(ctx)

	b.StopTimer()
	for range b.N {
		cfg := loadConfig{server: "http://" + ln.Addr().String(), mode: modePushBurst, devices: devices, users: officers(devices), password: benchPassword,
			duration: 5 * time.Minute, interval: 10 * time.Second, batch: batch, changes: visits, photoKB: 200, setupWait: 5 * time.Minute, concurrency: 8}
		var cpu *os.File
		cfg.begin = func() {
			b.StartTimer()
			if *pushProfile == "" {
				return
			}
			writeProfile(b, "allocs", filepath.Join(*pushProfile, "push-allocs-before.pprof"))
			if cpu, err = os.Create(filepath.Join(*pushProfile, "push-cpu.pprof")); err != nil {
				b.Fatal(err)
			}
			if err := pprof.StartCPUProfile(cpu); err != nil {
				b.Fatal(err)
			}
		}
		cfg.end = func() {
			b.StopTimer()
			if cpu == nil {
				return
			}
			pprof.StopCPUProfile()
			cpu.Close()
			writeProfile(b, "allocs", filepath.Join(*pushProfile, "push-allocs-after.pprof"))
			runtime.GC()
			writeProfile(b, "heap", filepath.Join(*pushProfile, "push-heap.pprof"))
		}
		var r *report
		pprof.Do(ctx, pprof.Labels("side", "client"), func(ctx context.Context) {
			f, err := newFleet(ctx, cfg, io.Discard)
			if err != nil {
				b.Fatal(err)
			}
			defer f.close()
			if r, err = f.run(ctx, cfg, io.Discard); err != nil {
				b.Fatal(err)
			}
		})
		if r.Errors > 0 || r.Changes != devices*visits {
			b.Fatalf("%d changes pushed, %d errors: %v", r.Changes, r.Errors, r.Samples)
		}
		b.ReportMetric(r.ChangesPerS, "changes/s")
		b.ReportMetric(r.Latency["push"].P99, "push-p99-ms")
	}
}

func writeProfile(b *testing.B, name, path string) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup(name).WriteTo(f, 0); err != nil {
		b.Fatal(err)
	}
}
