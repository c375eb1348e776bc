package sheets

import (
	"errors"
	"fmt"
	"io"
	"time"
)

// Column describes one column of a written sheet: its header (Chinese, shown
// in the first row) and its width hint in characters (0: the default width).
type Column struct {
	Header string
	Width  float64
}

// Writer streams rows of one or more sheets to an io.Writer. Memory stays
// flat however many rows are written: xlsx rows spill to a temporary file
// past 16 MB and the zip is written straight to the destination at Close;
// csv rows go through a small buffer.
//
// A Writer is not safe for concurrent use. After any error the Writer is
// done: later calls return that error, and Close still releases its
// temporary files.
type Writer interface {
	// Sheet starts a new sheet with its header row (bold, frozen in xlsx).
	// Names must be distinct (case-insensitively) and valid Excel sheet
	// names (at most 31 characters, none of : \ / ? * [ ]). A CSV file holds
	// one sheet: a second Sheet call is an error, and the name is not
	// written anywhere.
	Sheet(name string, cols []Column) error
	// Row appends one row to the current sheet, at most one value per column.
	// Values may be string, any int or uint type, float32/float64, bool,
	// time.Time or *time.Time (a date-time in the location it carries:
	// a yyyy-mm-dd hh:mm cell in xlsx, "2006-01-02 15:04" in CSV), Date
	// (a date alone: a yyyy-mm-dd cell in xlsx, "2006-01-02" in CSV), or
	// nil. nil, a nil *time.Time, the zero time.Time and the zero Date give
	// an empty cell.
	// Strings are always text, never formulas (see the package doc); in
	// xlsx, integers of more than 15 digits are text too, as Excel would
	// round them.
	Row(values ...any) error
	// Close writes out everything still pending and releases temporary
	// files. It does not close the destination. Calls after Close return
	// ErrClosed.
	Close() error
}

// ErrClosed is returned by a Writer's methods once it has been closed.
var ErrClosed = errors.New("sheets: writer closed")

// NewWriter returns a Writer of format f writing to w. An unknown format
// writes xlsx.
func NewWriter(f Format, w io.Writer) Writer {
	if f == CSV {
		return newCSVWriter(w)
	}
	return newXLSXWriter(w)
}

// maxCellChars is Excel's limit on the characters of one cell, counted in
// UTF-16 code units.
const maxCellChars = 32767

// truncateCell cuts s to Excel's cell limit, ending it with "…" when cut.
func truncateCell(s string) string {
	if len(s) <= maxCellChars || utf16Len(s) <= maxCellChars {
		return s // (a string of fewer bytes than the limit has fewer units too)
	}
	units := 0
	for i, r := range s {
		n := 1
		if r > 0xFFFF {
			n = 2
		}
		if units+n > maxCellChars-1 { // keep one unit for "…"
			return s[:i] + "…"
		}
		units += n
	}
	return s
}

// utf16Len counts s in UTF-16 code units, as Excel counts characters.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n++
		if r > 0xFFFF {
			n++
		}
	}
	return n
}

// timeLayout is how a date-time is written in CSV (and shown in xlsx).
const timeLayout = "2006-01-02 15:04"

// errValueType describes a value Row cannot write.
func errValueType(col int, v any) error {
	return fmt.Errorf("sheets: column %d: unsupported value type %T", col+1, v)
}

// errTooManyValues describes a row wider than its sheet.
func errTooManyValues(n, cols int) error {
	return fmt.Errorf("sheets: row has %d values, the sheet has %d columns", n, cols)
}

// timeValue unwraps the time kinds Row accepts; ok is false for other kinds,
// and empty reports a value written as an empty cell.
func timeValue(v any) (t time.Time, empty, ok bool) {
	switch v := v.(type) {
	case time.Time:
		return v, v.IsZero(), true
	case *time.Time:
		if v == nil {
			return time.Time{}, true, true
		}
		return *v, v.IsZero(), true
	}
	return time.Time{}, false, false
}
