package bolt

import (
	"fmt"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"

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
				for b.Loop() {
					c.enc(data)
				}
				b.ReportMetric(float64(len(z)), "B")
				b.ReportMetric(float64(len(data)), "rawB")
			})
			b.Run(fmt.Sprintf("unique=%v/%s/decode", unique, c.name), func(b *testing.B) {
				for b.Loop() {
					if _, err := c.dec(z); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
