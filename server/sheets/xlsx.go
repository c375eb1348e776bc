package sheets

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/xuri/excelize/v2"
)

// xlsxWriter writes a workbook with excelize's StreamWriter: each sheet's
// rows are serialised as they come (inline strings, no shared-string table)
// into a buffer that spills to a temporary file past 16 MB.
type xlsxWriter struct {
	f      *excelize.File
	sw     *excelize.StreamWriter // the current sheet, nil before the first Sheet
	names  map[string]bool        // lowercased sheet names, Excel compares them so
	ncols  int                    // columns of the current sheet
	row    int                    // last row written to the current sheet
	bold   int                    // style ids
	date   int                    // a date-time
	day    int                    // a Date
	cells  []any                  // reused for each row
	err    error                  // sticky
	closed bool
}

func newXLSXWriter(w io.Writer) *xlsxWriter {
	f := excelize.NewFile()
	// excelize builds the zip in a bytes.Buffer handed to its ZipWriter and
	// then copies that buffer to w: the whole file would sit in memory. Hand
	// it a zip.Writer on w instead, so the zip streams to w and the buffer
	// stays empty.
	f.SetZipWriter(func(io.Writer) excelize.ZipWriter { return zip.NewWriter(w) })
	x := &xlsxWriter{f: f, names: make(map[string]bool)}
	var err error
	if x.bold, err = f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}}); err != nil {
		x.err = fmt.Errorf("sheets: header style: %w", err)
		return x
	}
	minutes, days := minuteLayout, dayLayout
	if x.date, err = f.NewStyle(&excelize.Style{CustomNumFmt: &minutes}); err != nil {
		x.err = fmt.Errorf("sheets: date-time style: %w", err)
		return x
	}
	if x.day, err = f.NewStyle(&excelize.Style{CustomNumFmt: &days}); err != nil {
		x.err = fmt.Errorf("sheets: date style: %w", err)
	}
	return x
}

func (x *xlsxWriter) Sheet(name string, cols []Column) error {
	if err := x.check(); err != nil {
		return err
	}
	x.err = x.sheet(name, cols)
	return x.err
}

func (x *xlsxWriter) sheet(name string, cols []Column) error {
	if name == "" {
		return errors.New("sheets: empty sheet name")
	}
	if x.names[strings.ToLower(name)] {
		return fmt.Errorf("sheets: duplicate sheet name %q", name)
	}
	if x.sw != nil {
		if err := x.sw.Flush(); err != nil {
			return fmt.Errorf("sheets: flush sheet %q: %w", x.sw.Sheet, err)
		}
	}
	if len(x.names) == 0 {
		if err := x.f.SetSheetName("Sheet1", name); err != nil {
			return fmt.Errorf("sheets: sheet %q: %w", name, err)
		}
	} else if _, err := x.f.NewSheet(name); err != nil {
		return fmt.Errorf("sheets: sheet %q: %w", name, err)
	}
	x.names[strings.ToLower(name)] = true
	sw, err := x.f.NewStreamWriter(name)
	if err != nil {
		return fmt.Errorf("sheets: sheet %q: %w", name, err)
	}
	x.sw, x.ncols, x.row = sw, len(cols), 1
	for i, c := range cols {
		if c.Width <= 0 {
			continue
		}
		if err := sw.SetColWidth(i+1, i+1, min(c.Width, excelize.MaxColumnWidth)); err != nil {
			return fmt.Errorf("sheets: sheet %q column %d width: %w", name, i+1, err)
		}
	}
	if err := sw.SetPanes(&excelize.Panes{
		Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft",
		Selection: []excelize.Selection{{SQRef: "A2", ActiveCell: "A2", Pane: "bottomLeft"}},
	}); err != nil {
		return fmt.Errorf("sheets: sheet %q freeze header: %w", name, err)
	}
	header := make([]any, len(cols))
	for i, c := range cols {
		header[i] = excelize.Cell{StyleID: x.bold, Value: truncateCell(c.Header)}
	}
	if err := sw.SetRow("A1", header); err != nil {
		return fmt.Errorf("sheets: sheet %q header: %w", name, err)
	}
	return nil
}

func (x *xlsxWriter) Row(values ...any) error {
	if err := x.check(); err != nil {
		return err
	}
	x.err = x.writeRow(values)
	return x.err
}

func (x *xlsxWriter) writeRow(values []any) error {
	if x.sw == nil {
		return errors.New("sheets: Row before Sheet")
	}
	if len(values) > x.ncols {
		return errTooManyValues(len(values), x.ncols)
	}
	if x.row >= excelize.TotalRows {
		return fmt.Errorf("sheets: sheet %q is full: Excel allows %d rows", x.sw.Sheet, excelize.TotalRows)
	}
	x.cells = x.cells[:0]
	for i, v := range values {
		c, err := x.cell(i, v)
		if err != nil {
			return err
		}
		x.cells = append(x.cells, c)
	}
	x.row++
	if err := x.sw.SetRow("A"+strconv.Itoa(x.row), x.cells); err != nil {
		return fmt.Errorf("sheets: sheet %q row %d: %w", x.sw.Sheet, x.row, err)
	}
	return nil
}

// cell converts one Row value to what StreamWriter.SetRow takes. Strings go
// in as plain values, which excelize writes as inline strings: a leading '='
// never makes a formula (that would need excelize.Cell.Formula).
func (x *xlsxWriter) cell(col int, v any) (any, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case string:
		return truncateCell(v), nil
	case int8, int16, int32, uint8, uint16, uint32, bool:
		return v, nil
	case int:
		return exactInt(int64(v)), nil
	case int64:
		return exactInt(v), nil
	case uint:
		return exactUint(uint64(v)), nil
	case uint64:
		return exactUint(v), nil
	case float32:
		return x.cell(col, float64(v))
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return strconv.FormatFloat(v, 'f', -1, 64), nil // not a number Excel can hold
		}
		return v, nil
	}
	if t, empty, ok := timeValue(v); ok {
		if empty {
			return nil, nil
		}
		// excelize writes the wall clock of t's own location.
		return excelize.Cell{StyleID: x.date, Value: t}, nil
	}
	if d, ok := v.(Date); ok {
		if d.IsZero() {
			return nil, nil
		}
		return excelize.Cell{StyleID: x.day, Value: d.time()}, nil
	}
	return nil, errValueType(col, v)
}

// maxExact is the largest integer Excel shows exactly: it keeps 15
// significant digits.
const maxExact = 999_999_999_999_999

// exactInt keeps an integer too long for Excel as text, so that no digit is
// lost.
func exactInt(v int64) any {
	if v > maxExact || v < -maxExact {
		return strconv.FormatInt(v, 10)
	}
	return v
}

// exactUint is exactInt for unsigned integers.
func exactUint(v uint64) any {
	if v > maxExact {
		return strconv.FormatUint(v, 10)
	}
	return v
}

func (x *xlsxWriter) Close() error {
	if x.closed {
		return ErrClosed
	}
	x.closed = true
	err := x.err
	if err == nil && x.sw != nil {
		if ferr := x.sw.Flush(); ferr != nil {
			err = fmt.Errorf("sheets: flush sheet %q: %w", x.sw.Sheet, ferr)
		}
	}
	if err == nil {
		x.f.SetActiveSheet(0)
		if werr := x.f.Write(io.Discard); werr != nil { // the zip goes to w, see newXLSXWriter
			err = fmt.Errorf("sheets: write workbook: %w", werr)
		}
	}
	if cerr := x.f.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("sheets: remove temporary files: %w", cerr)
	}
	x.err = err
	return err
}

// check returns the error that ends every call on a closed or failed Writer.
func (x *xlsxWriter) check() error {
	if x.closed {
		return ErrClosed
	}
	return x.err
}
