package sheets

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/xuri/excelize/v2"
)

// Row is one data row of a sheet: its 1-based row number in the sheet, as
// Excel shows it, and its cells by column key. Cells holds every key whose
// column is in the sheet (the value "" when the cell is empty) and no other:
// a key missing from Cells means its (optional) column is missing.
type Row struct {
	Number int
	Cells  map[string]string
}

// Schema says what an import expects of a workbook: the sheet to read and
// its columns.
type Schema struct {
	Sheet   string // the sheet to read; see Read for when another is read
	Columns []SchemaColumn
}

// SchemaColumn is one column of a Schema. A header cell matches the column
// when it equals one of Headers after trimming spaces, ignoring case and
// ignoring a trailing "*" (the template's mark of a required column).
type SchemaColumn struct {
	Key      string   // the key in Row.Cells
	Headers  []string // accepted header spellings; the first is the one the template shows
	Required bool     // the sheet must have this column (its cells may still be empty: check them yourself)
	Note     string   // what to enter, shown on the template's 说明 sheet
}

// unzipRatio bounds how many times its size an upload may grow when
// unzipped. Real workbooks grow 3–15 times; a zip bomb grows a thousand.
const unzipRatio = 20

// minUnzip is the unzip allowance of a small upload.
const minUnzip = 4 << 20

// Read reads the rows of one sheet of an .xlsx workbook from r.
//
// The sheet read is the one named schema.Sheet (compared exactly, then
// ignoring case and surrounding spaces); when there is none, the only sheet
// of a one-sheet workbook; when schema.Sheet is "", the first sheet. Its
// first non-empty row is the header row, mapped to keys by the schema;
// header cells matching no column are ignored. Every later row that is not
// fully empty is a data row. Cell values are the strings Excel displays,
// trimmed of spaces, except numbers shown as dates (a date number format,
// whatever its pattern: 3/1/26, 03/01/2026, 26年3月1日), which read as
// 2006-01-02, or 2006-01-02 15:04 when the format shows a time of day.
//
// Read reads at most maxBytes from r and lets the workbook unzip to at most
// 20 times that (at least 4 MB), so a bad upload cannot exhaust memory.
// It stops at the row after maxRows data rows.
//
// Problems a user can fix come back as *Error: r longer than maxBytes; not
// an .xlsx workbook (an .xls, an encrypted or a damaged file included); the
// sheet missing; a required column missing (all missing ones named); two
// header cells matching one column; more than maxRows data rows; an
// OpenDocument spreadsheet (.ods: the message says how to save it as
// .xlsx); a row number beyond Excel's 1,048,576 rows. Other
// errors are the caller's: maxRows or maxBytes not positive, an invalid
// schema (a column without key or headers, a key or a spelling used twice),
// or reading r failing.
func Read(r io.Reader, schema Schema, maxRows int, maxBytes int64) ([]Row, error) {
	if maxRows <= 0 || maxBytes <= 0 {
		return nil, fmt.Errorf("sheets: read: maxRows %d and maxBytes %d must be positive", maxRows, maxBytes)
	}
	spellings, err := schema.spellings()
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(r, maxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("sheets: read upload: %w", err)
	}
	if int64(len(b)) > maxBytes {
		return nil, &Error{Message: text(msgTooLarge, byteSize(maxBytes))}
	}
	unzip := int64(math.MaxInt64)
	if maxBytes < math.MaxInt64/unzipRatio {
		unzip = max(maxBytes*unzipRatio, minUnzip)
	}
	f, err := openWorkbook(b, unzip)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sheet, err := pickSheet(f.GetSheetList(), schema.Sheet)
	if err != nil {
		return nil, err
	}
	rows, err := f.Rows(sheet)
	if err != nil {
		return nil, &Error{Message: text(msgSheetUnreadable, sheet), Err: err}
	}
	defer rows.Close()
	return readRows(rows, sheet, schema, spellings, maxRows)
}

// openWorkbook opens an .xlsx workbook held in b, refusing one that unzips
// to more than limit bytes.
func openWorkbook(b []byte, limit int64) (*excelize.File, error) {
	notXLSX := func(err error) error {
		return &Error{Message: text(msgNotXLSX), Err: err}
	}
	if bytes.HasPrefix(b, []byte{0xD0, 0xCF, 0x11, 0xE0}) { // OLE2: .xls, or an encrypted .xlsx
		return nil, &Error{Message: text(msgOLE2)}
	}
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, notXLSX(err)
	}
	if isODS(zr) {
		return nil, &Error{Message: text(msgODS)}
	}
	// The same check excelize makes, done first for a clearer message. The
	// sizes are the zip's own claims; archive/zip fails reading an entry
	// that inflates past its claim.
	var unzipped uint64
	for _, zf := range zr.File {
		unzipped += zf.UncompressedSize64
	}
	if unzipped > uint64(limit) {
		return nil, &Error{Message: text(msgUnzipTooLarge, byteSize(limit))}
	}
	f, err := excelize.OpenReader(bytes.NewReader(b), excelize.Options{
		UnzipSizeLimit:    limit,
		UnzipXMLSizeLimit: min(limit, excelize.StreamChunkSize), // larger sheets unzip to a temporary file
	})
	if err != nil {
		if f != nil {
			_ = f.Close()
		}
		return nil, notXLSX(err)
	}
	if len(f.GetSheetList()) == 0 {
		_ = f.Close()
		return nil, notXLSX(errors.New("no worksheets"))
	}
	if err := isoDates(f); err != nil {
		_ = f.Close()
		return nil, notXLSX(err)
	}
	return f, nil
}

// odsMimetype begins the "mimetype" entry of an OpenDocument spreadsheet
// (.ods, and .ots templates), which the format puts first in its zip.
const odsMimetype = "application/vnd.oasis.opendocument.spreadsheet"

// isODS reports whether zr is an OpenDocument spreadsheet.
func isODS(zr *zip.Reader) bool {
	for _, zf := range zr.File {
		if zf.Name != "mimetype" {
			continue
		}
		rc, err := zf.Open()
		if err != nil {
			return false
		}
		defer rc.Close()
		head, _ := io.ReadAll(io.LimitReader(rc, int64(len(odsMimetype))))
		return string(head) == odsMimetype
	}
	return false
}

// pickSheet chooses the sheet to read from a workbook's sheets.
func pickSheet(sheets []string, want string) (string, error) {
	if want == "" {
		return sheets[0], nil
	}
	for _, s := range sheets {
		if s == want {
			return s, nil
		}
	}
	for _, s := range sheets {
		if strings.EqualFold(strings.TrimSpace(s), strings.TrimSpace(want)) {
			return s, nil
		}
	}
	if len(sheets) == 1 {
		return sheets[0], nil
	}
	return "", &Error{Message: text(msgNoSheet, want, quoteList(sheets))}
}

// readRows maps the header row and collects the data rows.
func readRows(rows *excelize.Rows, sheet string, schema Schema, spellings map[string]int, maxRows int) ([]Row, error) {
	var (
		out    []Row
		keys   []string // header cell index → key, "" for a cell matching no column
		number int      // the row number of the current row
	)
	// unreadable says why the sheet cannot be read: a row number beyond
	// Excel's last row (a crafted or broken file; excelize refuses it with
	// ErrMaxRows) gets its own words.
	unreadable := func(err error) error {
		if errors.Is(err, excelize.ErrMaxRows) {
			return &Error{Message: text(msgRowBeyondLimit, excelize.TotalRows), Err: err}
		}
		return &Error{Row: number, Message: text(msgSheetUnreadable, sheet), Err: err}
	}
	for rows.Next() {
		number++
		// Rows yields the rows a sheet skips as empty ones. excelize stops
		// at a row number beyond Excel's last row; so does this, so that
		// no version of it can walk a billion empty rows.
		if number > excelize.TotalRows {
			return nil, unreadable(excelize.ErrMaxRows)
		}
		cells, err := rows.Columns()
		if err != nil {
			return nil, unreadable(err)
		}
		empty := true
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
			empty = empty && cells[i] == ""
		}
		if empty {
			continue
		}
		if keys == nil {
			if keys, err = mapHeader(cells, number, schema, spellings); err != nil {
				return nil, err
			}
			continue
		}
		if len(out) == maxRows {
			return nil, &Error{Row: number, Message: text(msgTooManyRows, maxRows)}
		}
		row := Row{Number: number, Cells: make(map[string]string, len(schema.Columns))}
		for i, k := range keys {
			if k == "" {
				continue
			}
			v := ""
			if i < len(cells) {
				v = cells[i]
			}
			row.Cells[k] = v
		}
		out = append(out, row)
	}
	if err := rows.Error(); err != nil {
		return nil, unreadable(err)
	}
	if keys == nil {
		return nil, &Error{Message: text(msgEmptySheet, sheet)}
	}
	return out, nil
}

// mapHeader maps the header row's cells to keys.
func mapHeader(cells []string, number int, schema Schema, spellings map[string]int) ([]string, error) {
	keys := make([]string, len(cells))
	at := make(map[int]int, len(schema.Columns)) // schema column index → header cell index
	for i, cell := range cells {
		c, ok := spellings[normalizeHeader(cell)]
		if !ok || cell == "" {
			continue
		}
		if prev, dup := at[c]; dup {
			return nil, &Error{Row: number, Column: columnName(i), Message: text(msgDupHeader, cell, columnName(prev), cells[prev])}
		}
		at[c] = i
		keys[i] = schema.Columns[c].Key
	}
	var missing []string
	for c, col := range schema.Columns {
		if _, ok := at[c]; col.Required && !ok {
			missing = append(missing, col.Headers[0])
		}
	}
	if len(missing) > 0 {
		return nil, &Error{Row: number, Message: text(msgMissingColumns, quoteList(missing))}
	}
	return keys, nil
}

// normalizeHeader is how header texts are compared: trimmed, without the
// trailing "*" (or full-width "＊") of a required column, lowercased.
func normalizeHeader(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimRight(s, "*＊")
	return strings.ToLower(strings.TrimSpace(s))
}

// spellings maps each normalized header spelling to its column's index,
// checking the schema.
func (s Schema) spellings() (map[string]int, error) {
	m := make(map[string]int)
	keys := make(map[string]bool, len(s.Columns))
	for i, c := range s.Columns {
		if c.Key == "" || len(c.Headers) == 0 {
			return nil, fmt.Errorf("sheets: schema %q column %d: empty key or no headers", s.Sheet, i+1)
		}
		if keys[c.Key] {
			return nil, fmt.Errorf("sheets: schema %q: key %q used twice", s.Sheet, c.Key)
		}
		keys[c.Key] = true
		for _, h := range c.Headers {
			n := normalizeHeader(h)
			if n == "" {
				return nil, fmt.Errorf("sheets: schema %q key %q: empty header", s.Sheet, c.Key)
			}
			if j, dup := m[n]; dup && j != i {
				return nil, fmt.Errorf("sheets: schema %q: header %q used by %q and %q", s.Sheet, h, s.Columns[j].Key, c.Key)
			}
			m[n] = i
		}
	}
	return m, nil
}

// columnName is the letter of the 0-based column i: 0 → "A", 26 → "AA".
func columnName(i int) string {
	name, err := excelize.ColumnNumberToName(i + 1)
	if err != nil {
		return fmt.Sprint(i + 1)
	}
	return name
}
