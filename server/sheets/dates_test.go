package sheets

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
)

func TestFormatDateKind(t *testing.T) {
	for code, want := range map[string]dateKind{
		"m/d/yy":                    dateOnly,
		"mm/dd/yyyy":                dateOnly,
		`YY"年"M"月"D"日"`:             dateOnly, // LibreOffice zh-CN's default date
		`yyyy"年"m"月"d"日"`:           dateOnly,
		"[$-804]yyyy/m/d;@":         dateOnly,
		"[Red]d-mmm-yy":             dateOnly,
		`[$-F800]dddd\,\ mmmm\ dd`:  dateOnly,
		"yyyy/m/d h:mm":             dateTime,
		"m/d/yy h:mm AM/PM":         dateTime,
		"[$-409]yyyy-mm-dd hh:mm":   dateTime,
		"h:mm":                      notDate,
		"mm:ss":                     notDate,
		"[h]:mm:ss":                 notDate,
		"General":                   notDate,
		"0.00E+00":                  notDate,
		"##0.0E-0":                  notDate,
		`#,##0.00 "元"`:              notDate,
		`"day" 0`:                   notDate,
		"@":                         notDate,
		`_("$"* #,##0_);_("$"* (d)`: notDate, // the second section is not read
		"":                          notDate,
	} {
		if got := formatDateKind(code); got != want {
			t.Errorf("formatDateKind(%q) = %d, want %d", code, got, want)
		}
	}
}

// dateBook builds, with excelize, a sheet 企业 whose column B holds real
// date cells (numbers) in the number formats given, one a row, and whose
// column C holds what Read should return.
func dateBook(t *testing.T, cells []dateCell) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetSheetName("Sheet1", "企业"); err != nil {
		t.Fatal(err)
	}
	if err := f.SetSheetRow("企业", "A1", &[]any{"企业名称", "统一社会信用代码"}); err != nil {
		t.Fatal(err)
	}
	for i, c := range cells {
		row := i + 2
		style := &excelize.Style{NumFmt: c.builtIn}
		if c.custom != "" {
			style = &excelize.Style{CustomNumFmt: &c.custom}
		}
		id, err := f.NewStyle(style)
		if err != nil {
			t.Fatal(err)
		}
		b := fmt.Sprintf("B%d", row)
		if err := f.SetCellValue("企业", fmt.Sprintf("A%d", row), fmt.Sprintf("row %d", row)); err != nil {
			t.Fatal(err)
		}
		if err := f.SetCellValue("企业", b, c.value); err != nil {
			t.Fatal(err)
		}
		if err := f.SetCellStyle("企业", b, b, id); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type dateCell struct {
	value   any    // a time.Time is a real date cell
	builtIn int    // the built-in number format, when custom is ""
	custom  string // a custom number format code
	shown   string // what a spreadsheet shows (as excelize renders it), for the record
	want    string // what Read returns
}

func TestReadDateCells(t *testing.T) {
	march1 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	cells := []dateCell{
		{march1, 0, "m/d/yy", "3/1/26", "2026-03-01"},         // Excel en-US's short date
		{march1, 0, "mm/dd/yyyy", "03/01/2026", "2026-03-01"}, // a typed pattern
		{march1, 0, `YY"年"M"月"D"日"`, "26年3月1日", "2026-03-01"}, // LibreOffice zh-CN's default
		{march1, 0, "dd/mm/yyyy", "01/03/2026", "2026-03-01"}, // day first: the value decides
		{march1, 14, "", "03-01-26", "2026-03-01"},            // built-in short date
		{march1, 31, "", "2026年3月1日", "2026-03-01"},           // built-in zh-CN long date
		{march1.Add(9*time.Hour + 30*time.Minute), 0, "yyyy/m/d h:mm", "2026/3/1 9:30", "2026-03-01 09:30"},
		{march1.Add(9*time.Hour + 30*time.Minute), 22, "", "3/1/26 09:30", "2026-03-01 09:30"},
		{"2026/3/1", 0, "mm/dd/yyyy", "2026/3/1", "2026/3/1"}, // text in a date column reads as typed
		{46082, 0, "0.00", "46082.00", "46082.00"},            // a number is not a date
		{0.5, 0, "h:mm", "12:00", "12:00"},                    // nor a time of day alone
		{46082, 0, "General", "46082", "46082"},
	}
	rows, err := Read(bytes.NewReader(dateBook(t, cells)), enterprises, 100, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(cells) {
		t.Fatalf("got %d rows, want %d", len(rows), len(cells))
	}
	for i, c := range cells {
		if got := rows[i].Cells["code"]; got != c.want {
			t.Errorf("row %d, %v in %q%d (shown %s): got %q, want %q", i+2, c.value, c.custom, c.builtIn, c.shown, got, c.want)
		}
	}
}

// rawWorkbook is a minimal .xlsx, zipped by hand, with one sheet 企业
// holding sheetData as given: what excelize would never write.
func rawWorkbook(t *testing.T, sheetData string) []byte {
	t.Helper()
	return zipOf(t, map[string][]byte{
		"[Content_Types].xml": []byte(`<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
			`<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>` +
			`<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>` +
			`<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>`),
		"_rels/.rels": []byte(`<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` +
			`<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>`),
		"xl/workbook.xml": []byte(`<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" ` +
			`xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="企业" sheetId="1" r:id="rId1"/></sheets></workbook>`),
		"xl/_rels/workbook.xml.rels": []byte(`<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` +
			`<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>`),
		"xl/worksheets/sheet1.xml": []byte(`<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">` +
			`<sheetData>` + sheetData + `</sheetData></worksheet>`),
	})
}

// inlineRow is a sheet row of inline-string cells from column A.
func inlineRow(r int, values ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<row r="%d">`, r)
	for i, v := range values {
		fmt.Fprintf(&b, `<c r="%s%d" t="inlineStr"><is><t>%s</t></is></c>`, columnName(i), r, v)
	}
	return b.String() + "</row>"
}

// absurdRows are sheets whose row numbers lie far beyond Excel's 1,048,576
// rows (GO-2026-5960: excelize before v2.11.0 sized its rows by them).
var absurdRows = map[string]string{
	"row r":        inlineRow(1, "企业名称", "统一社会信用代码") + inlineRow(2, "甲", "1") + `<row r="1048576000"><c t="inlineStr"><is><t>乙</t></is></c></row>`,
	"row and cell": inlineRow(1, "企业名称", "统一社会信用代码") + `<row r="2147483647"><c r="A2147483647" t="inlineStr"><is><t>乙</t></is></c></row>`,
	"cell only":    inlineRow(1, "企业名称", "统一社会信用代码") + `<row><c r="A1048576000" t="inlineStr"><is><t>乙</t></is></c></row>`,
	"one past the last row": inlineRow(1, "企业名称", "统一社会信用代码") + inlineRow(2, "甲", "1") +
		`<row r="1048577"><c r="A1048577" t="inlineStr"><is><t>乙</t></is></c></row>`,
}

func TestReadAbsurdRowIndex(t *testing.T) {
	for name, data := range absurdRows {
		t.Run(name, func(t *testing.T) {
			book := rawWorkbook(t, data)
			var err error
			allocated := allocatedBy(func() { _, err = Read(bytes.NewReader(book), enterprises, 5000, 10<<20) })
			var e *Error
			if !errors.As(err, &e) || !strings.Contains(e.Error(), "超过 Excel 上限（1048576 行）") || !strings.Contains(e.Error(), "另存为 .xlsx") {
				t.Errorf("got %v, want an *Error about a row beyond Excel's last row saying what to do", err)
			}
			// The vulnerable excelize sized a slice by the row number: a
			// billion rows of ~100 bytes.
			if allocated > 64<<20 {
				t.Errorf("reading it allocated %d MiB, want < 64 MiB", allocated>>20)
			}
		})
	}
	t.Run("the last row is fine", func(t *testing.T) {
		book := rawWorkbook(t, inlineRow(1, "企业名称", "统一社会信用代码")+inlineRow(excelize.TotalRows, "乙", "2"))
		rows, err := Read(bytes.NewReader(book), enterprises, 5000, 10<<20)
		if err != nil || len(rows) != 1 || rows[0].Number != excelize.TotalRows {
			t.Errorf("got %v, %v; want row %d", rows, err, excelize.TotalRows)
		}
	})
}

// allocatedBy reports the bytes allocated on the heap while f runs (by
// every goroutine: run it without parallel tests).
func allocatedBy(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestReadODS(t *testing.T) {
	// What LibreOffice writes first in an .ods: an uncompressed mimetype.
	ods := zipOf(t, map[string][]byte{
		"mimetype":              []byte("application/vnd.oasis.opendocument.spreadsheet"),
		"content.xml":           []byte(`<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"/>`),
		"META-INF/manifest.xml": []byte(`<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"/>`),
	})
	_, err := Read(bytes.NewReader(ods), enterprises, 10, 1<<20)
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("got %v, want an *Error", err)
	}
	for _, want := range []string{".ods", "LibreOffice", "WPS", "另存为", "Excel 2007-365 (.xlsx)"} {
		if !strings.Contains(e.Error(), want) {
			t.Errorf("got %q, want it to contain %q", e.Error(), want)
		}
	}
	// A text document is not a spreadsheet in another format: the usual words.
	odt := zipOf(t, map[string][]byte{"mimetype": []byte("application/vnd.oasis.opendocument.text")})
	if _, err := Read(bytes.NewReader(odt), enterprises, 10, 1<<20); !errors.As(err, &e) || !strings.Contains(e.Error(), "不是有效的 Excel 工作簿") {
		t.Errorf(".odt: got %v, want not a workbook", err)
	}
}

func TestWriteDate(t *testing.T) {
	d, ok := ParseDate("2026-03-01")
	if !ok || d != (Date{2026, time.March, 1}) {
		t.Fatalf("ParseDate: got %v, %v", d, ok)
	}
	for _, bad := range []string{"", "2026-3-1", "2026-02-30", "明天"} {
		if _, ok := ParseDate(bad); ok {
			t.Errorf("ParseDate(%q): got ok, want not a date", bad)
		}
	}

	var buf bytes.Buffer
	w := NewWriter(XLSX, &buf)
	if err := w.Sheet("结对", []Column{{"开始日期", 12}, {"结束日期", 12}}); err != nil {
		t.Fatal(err)
	}
	if err := w.Row(d, Date{}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f := openXLSX(t, buf.Bytes())
	// A number (the date's serial) shown as yyyy-mm-dd: a real date cell.
	if got, _ := f.GetCellValue("结对", "A2", excelize.Options{RawCellValue: true}); got != "46082" {
		t.Errorf("A2 raw: got %q, want the serial 46082", got)
	}
	if got, _ := f.GetCellValue("结对", "A2"); got != "2026-03-01" {
		t.Errorf("A2 shown: got %q, want 2026-03-01", got)
	}
	id, _ := f.GetCellStyle("结对", "A2")
	if st, err := f.GetStyle(id); err != nil || st.CustomNumFmt == nil || *st.CustomNumFmt != "yyyy-mm-dd" {
		t.Errorf("A2 style: got %+v, %v; want the number format yyyy-mm-dd", st, err)
	}
	if got, _ := f.GetCellValue("结对", "B2"); got != "" {
		t.Errorf("B2 (zero Date): got %q, want empty", got)
	}
	// Read gives it back as the date.
	rows, err := Read(bytes.NewReader(buf.Bytes()), Schema{Columns: []SchemaColumn{{Key: "from", Headers: []string{"开始日期"}}}}, 10, 1<<20)
	if err != nil || len(rows) != 1 || rows[0].Cells["from"] != "2026-03-01" {
		t.Errorf("read back: got %v, %v; want 2026-03-01", rows, err)
	}

	buf.Reset()
	w = NewWriter(CSV, &buf)
	if err := w.Sheet("结对", []Column{{"开始日期", 0}, {"结束日期", 0}}); err != nil {
		t.Fatal(err)
	}
	if err := w.Row(d, Date{}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(buf.String(), bom))).ReadAll()
	if err != nil || len(recs) != 2 || recs[1][0] != "2026-03-01" || recs[1][1] != "" {
		t.Errorf("csv: got %q, %v; want 2026-03-01 and empty", recs, err)
	}
}
