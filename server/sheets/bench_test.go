package sheets

import (
	"fmt"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// benchRows is how many rows of benchCols Chinese strings each benchmark
// writes.
const (
	benchRows = 100_000
	benchCols = 10
)

// benchWrite writes benchRows rows in format f to io.Discard and reports,
// besides allocations, the peak heap in use (sampled every 10 ms, garbage
// included) and the size written: the figures that show memory stays flat.
func benchWrite(b *testing.B, f Format) {
	cols := make([]Column, benchCols)
	for i := range cols {
		cols[i] = Column{Header: fmt.Sprintf("第%d列", i+1), Width: 16}
	}
	values := make([][]any, 100) // varied rows, built once; column 1 is set per row
	for i := range values {
		values[i] = make([]any, benchCols)
		for j := range values[i] {
			values[i][j] = fmt.Sprintf("北京市朝阳区第%d社区服务站%d号", i, j)
		}
	}
	peak := samplePeakHeap(b)
	var out countWriter
	b.ReportAllocs()
	for b.Loop() {
		out = 0
		w := NewWriter(f, &out)
		if err := w.Sheet("走访记录", cols); err != nil {
			b.Fatal(err)
		}
		for r := range benchRows {
			row := values[r%len(values)]
			row[0] = "北京市朝阳区第" + strconv.Itoa(r) + "号企业" // unique, as names and codes are
			if err := w.Row(row...); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(peak())/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(out)/(1<<20), "out-MB")
}

// samplePeakHeap samples the heap in use until the benchmark ends; the
// returned function stops sampling and gives the peak.
func samplePeakHeap(b *testing.B) func() uint64 {
	stop, done := make(chan struct{}), make(chan uint64)
	go func() {
		var peak uint64
		var ms runtime.MemStats
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-stop:
				done <- peak
				return
			case <-tick.C:
			}
		}
	}()
	var peak uint64
	stopped := false
	result := func() uint64 {
		if !stopped {
			stopped = true
			close(stop)
			peak = <-done
		}
		return peak
	}
	b.Cleanup(func() { result() })
	return result
}

// countWriter counts and discards what is written.
type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) {
	*c += countWriter(len(p))
	return len(p), nil
}

func BenchmarkWriteXLSX(b *testing.B) { benchWrite(b, XLSX) }

func BenchmarkWriteCSV(b *testing.B) { benchWrite(b, CSV) }
