package bolt

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"

	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/syncproto"
)

// BenchmarkRecordCodecs: the candidates for compressing a stored visit
// (fieldctl bench's, and one whose notes do not repeat), each encoding and
// decoding one record with a reused encoder and decoder; B is the
// compressed size. s2 is what appendData uses (codec.go).
func BenchmarkRecordCodecs(b *testing.B) {
	type codec struct {
		name string
		enc  func([]byte) []byte
		dec  func([]byte) ([]byte, error)
	}
	zdec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
	if err != nil {
		b.Fatal(err)
	}
	cs := []codec{
		{"s2", func(x []byte) []byte { return s2.Encode(nil, x) }, func(x []byte) ([]byte, error) { return s2.Decode(nil, x) }},
		{"s2-better", func(x []byte) []byte { return s2.EncodeBetter(nil, x) }, func(x []byte) ([]byte, error) { return s2.Decode(nil, x) }},
	}
	for _, lvl := range []zstd.EncoderLevel{zstd.SpeedFastest, zstd.SpeedDefault} {
		e, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(lvl), zstd.WithEncoderConcurrency(1), zstd.WithEncoderCRC(false))
		if err != nil {
			b.Fatal(err)
		}
		cs = append(cs, codec{"zstd-" + lvl.String(), func(x []byte) []byte { return e.EncodeAll(x, nil) },
			func(x []byte) ([]byte, error) { return zdec.DecodeAll(x, nil) }})
	}
	for _, unique := range []bool{false, true} {
		r := benchVisitRecord(b, &syncproto.Writer{Replica: "01a20328-1c27-7db3-9c66-98296b6b063a"}, &syncproto.Writer{Replica: "srv-abcdefghijkl"},
			"p00001", 7, time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC), unique)
		data, err := syncproto.Encode(r)
		if err != nil {
			b.Fatal(err)
		}
		for _, c := range cs {
			z := c.enc(data)
			b.Run(fmt.Sprintf("unique=%v/%s/encode", unique, c.name), func(b *testing.B) {
				defer threadCPUMetric(b)()
				for b.Loop() {
					c.enc(data)
				}
				b.ReportMetric(float64(len(z)), "B")
				b.ReportMetric(float64(len(data)), "rawB")
			})
			b.Run(fmt.Sprintf("unique=%v/%s/decode", unique, c.name), func(b *testing.B) {
				defer threadCPUMetric(b)()
				for b.Loop() {
					if _, err := c.dec(z); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkRecordValue: the CPU a stored form adds per record, in one
// process: writing a visit's records value (encodeRecord, s2) against the
// value as written before (the data appended as it is), and reading it back
// into a storage.Record (decodeRecord and record, as Get and Changes do)
// from each. A Changes page of 500 visits pays 500 reads.
func BenchmarkRecordValue(b *testing.B) {
	for _, unique := range []bool{false, true} {
		r := benchVisitRecord(b, &syncproto.Writer{Replica: "01a20328-1c27-7db3-9c66-98296b6b063a"}, &syncproto.Writer{Replica: "srv-abcdefghijkl"},
			"p00001", 7, time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC), unique)
		data, err := syncproto.Encode(r)
		if err != nil {
			b.Fatal(err)
		}
		key := storage.Key{Collection: "visits", ID: r.ID}
		for _, form := range []struct {
			name  string
			value func() []byte
		}{
			{"old", func() []byte { return oldRecordValue(12, "p00001", data) }},
			{"s2", func() []byte { return encodeRecord(12, "p00001", data) }},
		} {
			v := form.value()
			b.Run(fmt.Sprintf("unique=%v/write/%s", unique, form.name), func(b *testing.B) {
				b.ReportAllocs()
				defer threadCPUMetric(b)()
				for b.Loop() {
					form.value()
				}
				b.ReportMetric(float64(len(v)), "B")
			})
			b.Run(fmt.Sprintf("unique=%v/read/%s", unique, form.name), func(b *testing.B) {
				b.ReportAllocs()
				defer threadCPUMetric(b)()
				for b.Loop() {
					sr, err := decodeRecord(v)
					if err != nil {
						b.Fatal(err)
					}
					if rec := sr.record(key); len(rec.Data) != len(data) {
						b.Fatal("wrong length")
					}
				}
			})
		}
	}
}

// threadCPUMetric locks the benchmark to its thread and returns the func
// (deferred) that reports the thread's CPU time per op as cpu-ns/op: the
// work's cost whatever the machine's load (GC on other threads excluded;
// B/op shows the allocation).
func threadCPUMetric(b *testing.B) func() {
	runtime.LockOSThread()
	start := threadCPU()
	return func() {
		b.ReportMetric(float64(threadCPU()-start)/float64(b.N), "cpu-ns/op")
		runtime.UnlockOSThread()
	}
}
