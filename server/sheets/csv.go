package sheets

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
)

// bom is the UTF-8 byte-order mark: without it Excel reads a CSV file in the
// local code page (GBK on Chinese Windows) and garbles Chinese text.
const bom = "\uFEFF"

// csvWriter writes one sheet as CSV through a 64 KB buffer.
type csvWriter struct {
	buf    *bufio.Writer
	cw     *csv.Writer
	began  bool // Sheet was called
	ncols  int
	rec    []string // reused for each row
	err    error    // sticky
	closed bool
}

func newCSVWriter(w io.Writer) *csvWriter {
	buf := bufio.NewWriterSize(w, 64<<10)
	// csv.NewWriter uses buf itself rather than adding its own. Lines end in
	// "\n", which Excel reads; UseCRLF would drop a lone "\r" in a field.
	cw := csv.NewWriter(buf)
	return &csvWriter{buf: buf, cw: cw}
}

func (c *csvWriter) Sheet(name string, cols []Column) error {
	if err := c.check(); err != nil {
		return err
	}
	if c.began {
		c.err = fmt.Errorf("sheets: a CSV file holds one sheet, cannot start %q", name)
		return c.err
	}
	c.began, c.ncols = true, len(cols)
	c.rec = make([]string, len(cols))
	for i, col := range cols {
		c.rec[i] = neutralize(col.Header)
	}
	if _, err := c.buf.WriteString(bom); err != nil {
		c.err = fmt.Errorf("sheets: write csv: %w", err)
		return c.err
	}
	c.err = c.write()
	return c.err
}

func (c *csvWriter) Row(values ...any) error {
	if err := c.check(); err != nil {
		return err
	}
	switch {
	case !c.began:
		c.err = errors.New("sheets: Row before Sheet")
	case len(values) > c.ncols:
		c.err = errTooManyValues(len(values), c.ncols)
	}
	if c.err != nil {
		return c.err
	}
	clear(c.rec) // a short row ends in empty fields
	for i, v := range values {
		s, err := csvField(i, v)
		if err != nil {
			c.err = err
			return err
		}
		c.rec[i] = s
	}
	c.err = c.write()
	return c.err
}

func (c *csvWriter) write() error {
	if err := c.cw.Write(c.rec); err != nil {
		return fmt.Errorf("sheets: write csv: %w", err)
	}
	return nil
}

// csvField formats one Row value as a CSV field.
func csvField(col int, v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return neutralize(v), nil
	case int:
		return strconv.Itoa(v), nil
	case int8:
		return strconv.FormatInt(int64(v), 10), nil
	case int16:
		return strconv.FormatInt(int64(v), 10), nil
	case int32:
		return strconv.FormatInt(int64(v), 10), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case uint:
		return strconv.FormatUint(uint64(v), 10), nil
	case uint8:
		return strconv.FormatUint(uint64(v), 10), nil
	case uint16:
		return strconv.FormatUint(uint64(v), 10), nil
	case uint32:
		return strconv.FormatUint(uint64(v), 10), nil
	case uint64:
		return strconv.FormatUint(v, 10), nil
	case float32:
		return formatFloat(float64(v), 32), nil
	case float64:
		return formatFloat(v, 64), nil
	case bool:
		if v {
			return "TRUE", nil // as Excel shows a boolean
		}
		return "FALSE", nil
	}
	if t, empty, ok := timeValue(v); ok {
		if empty {
			return "", nil
		}
		return t.Format(timeLayout), nil
	}
	if d, ok := v.(Date); ok {
		if d.IsZero() {
			return "", nil
		}
		return d.String(), nil
	}
	return "", errValueType(col, v)
}

func formatFloat(v float64, bits int) string {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'f', -1, bits)
}

// neutralize defuses CSV injection (OWASP): a spreadsheet treats a field
// starting with = + - @ (or tab or carriage return, which some strip first)
// as a formula, so such a field gets a leading single quote and is shown as
// text. Numbers passed as numbers are never touched; "-5" passed as a string
// becomes "'-5".
func neutralize(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}

func (c *csvWriter) Close() error {
	if c.closed {
		return ErrClosed
	}
	c.closed = true
	if c.err != nil {
		return c.err
	}
	if !c.began { // no sheet: still a valid (empty) UTF-8 CSV file
		if _, err := c.buf.WriteString(bom); err != nil {
			c.err = fmt.Errorf("sheets: write csv: %w", err)
			return c.err
		}
	}
	c.cw.Flush()
	if err := c.cw.Error(); err != nil {
		c.err = fmt.Errorf("sheets: write csv: %w", err)
		return c.err
	}
	if err := c.buf.Flush(); err != nil {
		c.err = fmt.Errorf("sheets: write csv: %w", err)
	}
	return c.err
}

func (c *csvWriter) check() error {
	if c.closed {
		return ErrClosed
	}
	return c.err
}
