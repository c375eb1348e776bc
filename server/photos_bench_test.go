package server

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/storage/minio/miniotest"
)

// BenchmarkPhotoUpload100x1MB: 100 photos of 1 MB sent the way phones send
// them (ask, PUT the parts, done; 4 at a time), through the local store and
// through MinIO (signed URLs straight to MinIO; the server reads each photo
// back once to check it). Reports MB/s and the peak Go heap in use during
// the uploads minus before (the test's phones make each photo as they send
// it, so the figure is the server's, plus a few MB of the phones').
func BenchmarkPhotoUpload100x1MB(b *testing.B) {
	base := testJPEG(b, 99, 1<<20)
	stores := []struct {
		name string
		open func(b *testing.B) storage.Photos
	}{{name: "files"}}
	if os.Getenv("PAIRSYNC_MINIO_BIN") != "" {
		stores = append(stores, struct {
			name string
			open func(b *testing.B) storage.Photos
		}{"minio", func(b *testing.B) storage.Photos {
			return openMinIO(b, miniotest.StartPrivate(b))
		}})
	}
	for _, st := range stores {
		b.Run(st.name, func(b *testing.B) {
			var store storage.Photos
			if st.open != nil {
				store = st.open(b)
			}
			e := newEnvWith(b, true, store)
			pid := benchFixture(b, e)
			off := e.device(b, "officerA")
			photo := func(i int) []byte {
				// The same JPEG with 8 bytes after its end marker: another hash.
				p := append(bytes.Clone(base), 0, 0, 0, 0, 0, 0, 0, 0)
				binary.BigEndian.PutUint64(p[len(base):], uint64(i))
				return p
			}
			var totalBytes int64
			var took time.Duration
			var peak atomic.Uint64
			for n := range b.N {
				// Two visits of 50 photos cite the 100 photos of this round.
				for v := range 2 {
					var manifest []map[string]any
					for i := range 50 {
						p := photo(n*100 + v*50 + i)
						manifest = append(manifest, map[string]any{"sha256": sumOf(p), "size": len(p), "type": "image/jpeg"})
					}
					_, ans := off.push(off.set("visits", fmt.Sprintf("bv-%d-%d", n, v), pid, map[string]any{"mode": "onsite",
						"visited_at": time.Now().UTC().Format(time.RFC3339), "officers": []string{"u-officerA"}, "photos": manifest}))
					if len(ans.Results) != 1 || ans.Results[0].Status != "applied" {
						b.Fatalf("visit: %+v", ans.Results)
					}
				}
				runtime.GC()
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				before := ms.HeapInuse
				stop := make(chan struct{})
				var sampler sync.WaitGroup
				sampler.Go(func() {
					var m runtime.MemStats
					for {
						select {
						case <-stop:
							return
						case <-time.After(5 * time.Millisecond):
						}
						runtime.ReadMemStats(&m)
						if m.HeapInuse > before && m.HeapInuse-before > peak.Load() {
							peak.Store(m.HeapInuse - before)
						}
					}
				})
				start := time.Now()
				var wg sync.WaitGroup
				next := atomic.Int64{}
				for range 4 {
					wg.Go(func() {
						for {
							i := int(next.Add(1)) - 1
							if i >= 100 {
								return
							}
							p := photo(n*100 + i)
							if r := off.phoneUpload(p, "image/jpeg", 0); r.status != 200 {
								b.Errorf("upload %d: %d %s", i, r.status, r.body)
								return
							}
							atomic.AddInt64(&totalBytes, int64(len(p)))
						}
					})
				}
				wg.Wait()
				took += time.Since(start)
				close(stop)
				sampler.Wait()
			}
			b.ReportMetric(float64(totalBytes)/1e6/took.Seconds(), "MB/s")
			b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
		})
	}
}

// benchFixture makes pairing p-bench of unit A with officerA, directly.
func benchFixture(b *testing.B, e *idEnv) string {
	b.Helper()
	vals, _ := jsonValues(map[string]any{"name": "压测结对", "status": "active", "branches": []string{"unitA"},
		"counterparties": []string{"cp-A"}, "officers": []map[string]any{{"user_id": "u-officerA", "primary": true}}})
	if _, _, err := e.s.writeRecord(b.Context(), "pairings", "p-bench", "_directory", vals); err != nil {
		b.Fatal(err)
	}
	return "p-bench"
}
