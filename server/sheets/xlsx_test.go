package sheets

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
)

var shanghai = time.FixedZone("CST", 8*3600)

// openXLSX opens written bytes with excelize, failing the test if it cannot.
func openXLSX(t *testing.T, b []byte) *excelize.File {
	t.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("open written workbook: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestXLSXWriteReadBack(t *testing.T) {
	long := strings.Repeat("长", maxCellChars+10)
	when := time.Date(2024, 3, 5, 14, 30, 0, 0, shanghai)
	var buf bytes.Buffer
	w := NewWriter(XLSX, &buf)
	steps := []func() error{
		func() error {
			return w.Sheet("走访记录", []Column{{"名称", 20}, {"数量", 8}, {"负数", 0}, {"大数", 0}, {"比例", 0}, {"完成", 0}, {"时间", 18}, {"空", 0}})
		},
		func() error {
			return w.Row("社区服务中心", 42, int64(-7), uint64(math.MaxUint64), 0.25, true, when, nil)
		},
		func() error { return w.Row("=HYPERLINK(\"http://x\")", "+1", "-2", "@SUM(A1)", false, time.Time{}) },
		func() error { return w.Row(long) },
		func() error { return w.Sheet("诉求", []Column{{"标题", 30}}) },
		func() error { return w.Row("停车难") },
		w.Close,
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}

	f := openXLSX(t, buf.Bytes())
	if got, want := strings.Join(f.GetSheetList(), ","), "走访记录,诉求"; got != want {
		t.Fatalf("sheets: got %q, want %q", got, want)
	}
	cells := []struct {
		sheet, cell, want string
	}{
		{"走访记录", "A1", "名称"},
		{"走访记录", "G1", "时间"},
		{"走访记录", "A2", "社区服务中心"},
		{"走访记录", "B2", "42"},
		{"走访记录", "C2", "-7"},
		{"走访记录", "D2", "18446744073709551615"},
		{"走访记录", "E2", "0.25"},
		{"走访记录", "F2", "TRUE"},
		{"走访记录", "G2", "2024-03-05 14:30"},
		{"走访记录", "H2", ""},
		{"走访记录", "A3", "=HYPERLINK(\"http://x\")"},
		{"走访记录", "B3", "+1"},
		{"走访记录", "C3", "-2"},
		{"走访记录", "D3", "@SUM(A1)"},
		{"走访记录", "E3", "FALSE"},
		{"走访记录", "F3", ""},
		{"诉求", "A1", "标题"},
		{"诉求", "A2", "停车难"},
	}
	for _, c := range cells {
		t.Run(c.sheet+"!"+c.cell, func(t *testing.T) {
			got, err := f.GetCellValue(c.sheet, c.cell)
			if err != nil || got != c.want {
				t.Errorf("got %q, %v; want %q", got, err, c.want)
			}
			formula, err := f.GetCellFormula(c.sheet, c.cell)
			if err != nil || formula != "" {
				t.Errorf("formula: got %q, %v; want none", formula, err)
			}
		})
	}

	t.Run("truncated", func(t *testing.T) {
		got, _ := f.GetCellValue("走访记录", "A4")
		if n := utf16Len(got); n != maxCellChars || !strings.HasSuffix(got, "…") {
			t.Errorf("got %d units ending %q, want %d ending \"…\"", n, got[len(got)-6:], maxCellChars)
		}
	})
	t.Run("header bold and frozen", func(t *testing.T) {
		for _, sheet := range f.GetSheetList() {
			id, err := f.GetCellStyle(sheet, "A1")
			if err != nil {
				t.Fatal(err)
			}
			style, err := f.GetStyle(id)
			if err != nil || style.Font == nil || !style.Font.Bold {
				t.Errorf("%s A1: got style %+v, %v; want bold", sheet, style, err)
			}
			panes, err := f.GetPanes(sheet)
			if err != nil || !panes.Freeze || panes.YSplit != 1 {
				t.Errorf("%s panes: got %+v, %v; want frozen at row 1", sheet, panes, err)
			}
		}
	})
	t.Run("width", func(t *testing.T) {
		got, err := f.GetColWidth("走访记录", "A")
		if err != nil || got != 20 {
			t.Errorf("got %v, %v; want 20", got, err)
		}
	})
}

func TestXLSXTimeLocation(t *testing.T) {
	// The same instant shows as its wall clock in the location it carries.
	instant := time.Date(2024, 3, 5, 6, 30, 0, 0, time.UTC)
	var buf bytes.Buffer
	w := NewWriter(XLSX, &buf)
	if err := w.Sheet("t", []Column{{"UTC", 0}, {"北京时间", 0}}); err != nil {
		t.Fatal(err)
	}
	if err := w.Row(instant, instant.In(shanghai)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f := openXLSX(t, buf.Bytes())
	for cell, want := range map[string]string{"A2": "2024-03-05 06:30", "B2": "2024-03-05 14:30"} {
		if got, _ := f.GetCellValue("t", cell); got != want {
			t.Errorf("%s: got %q, want %q", cell, got, want)
		}
	}
}

func TestWriterErrors(t *testing.T) {
	cols := []Column{{"甲", 0}, {"乙", 0}}
	tests := []struct {
		name    string
		formats []Format
		run     func(w Writer) error
		want    string // in the error
	}{
		{"row before sheet", []Format{XLSX, CSV}, func(w Writer) error { return w.Row("x") }, "Row before Sheet"},
		{"too many values", []Format{XLSX, CSV}, func(w Writer) error {
			_ = w.Sheet("s", cols)
			return w.Row(1, 2, 3)
		}, "3 values"},
		{"unsupported type", []Format{XLSX, CSV}, func(w Writer) error {
			_ = w.Sheet("s", cols)
			return w.Row(1, struct{}{})
		}, "column 2: unsupported value type struct {}"},
		{"sticky", []Format{XLSX, CSV}, func(w Writer) error {
			_ = w.Sheet("s", cols)
			_ = w.Row(1, []int{1})
			return w.Row(1, 2)
		}, "unsupported value type []int"},
		{"duplicate sheet", []Format{XLSX}, func(w Writer) error {
			_ = w.Sheet("名单", cols)
			return w.Sheet("名单", cols)
		}, "duplicate sheet name"},
		{"invalid sheet name", []Format{XLSX}, func(w Writer) error { return w.Sheet("a/b", cols) }, "sheet \"a/b\""},
		{"second csv sheet", []Format{CSV}, func(w Writer) error {
			_ = w.Sheet("一", cols)
			return w.Sheet("二", cols)
		}, "one sheet"},
		{"after close", []Format{XLSX, CSV}, func(w Writer) error {
			_ = w.Close()
			return w.Row()
		}, ErrClosed.Error()},
		{"close twice", []Format{XLSX, CSV}, func(w Writer) error {
			_ = w.Close()
			return w.Close()
		}, ErrClosed.Error()},
	}
	for _, tt := range tests {
		for _, format := range tt.formats {
			t.Run(tt.name+"/"+string(format), func(t *testing.T) {
				w := NewWriter(format, new(bytes.Buffer))
				defer w.Close()
				err := tt.run(w)
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("got error %v, want one containing %q", err, tt.want)
				}
			})
		}
	}
}

// failWriter fails every write.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriterDestinationError(t *testing.T) {
	for _, format := range []Format{XLSX, CSV} {
		t.Run(string(format), func(t *testing.T) {
			w := NewWriter(format, failWriter{})
			if err := w.Sheet("s", []Column{{"甲", 0}}); err != nil {
				t.Fatal(err)
			}
			if err := w.Row("x"); err != nil {
				t.Fatal(err) // still buffered
			}
			if err := w.Close(); err == nil || !strings.Contains(err.Error(), "disk full") {
				t.Errorf("Close: got %v, want the destination's error", err)
			}
		})
	}
}

func TestXLSXNoSheet(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(XLSX, &buf)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f := openXLSX(t, buf.Bytes())
	if got := len(f.GetSheetList()); got != 1 {
		t.Errorf("got %d sheets, want 1", got)
	}
}

func TestTruncateCell(t *testing.T) {
	emoji := "😀" // two UTF-16 units
	tests := []struct {
		name      string
		in        string
		wantUnits int
		wantCut   bool
	}{
		{"short", "短", 1, false},
		{"at limit", strings.Repeat("a", maxCellChars), maxCellChars, false},
		{"ascii over", strings.Repeat("a", maxCellChars+1), maxCellChars, true},
		{"chinese over", strings.Repeat("中", maxCellChars+1), maxCellChars, true},
		{"emoji at limit", strings.Repeat("a", maxCellChars-2) + emoji, maxCellChars, false},
		{"emoji over", strings.Repeat(emoji, maxCellChars/2+1), maxCellChars, true},
		{"emoji straddles", strings.Repeat("a", maxCellChars-2) + emoji + "b", maxCellChars - 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := truncateCell(tt.in)
			if n, cut := utf16Len(got), strings.HasSuffix(got, "…"); n != tt.wantUnits || cut != tt.wantCut {
				t.Errorf("got %d units, cut %v; want %d, %v", n, cut, tt.wantUnits, tt.wantCut)
			}
		})
	}
}

func TestXLSXLongIntegersStayExact(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(XLSX, &buf)
	if err := w.Sheet("n", []Column{{"a", 0}, {"b", 0}, {"c", 0}, {"d", 0}}); err != nil {
		t.Fatal(err)
	}
	if err := w.Row(int64(maxExact), int64(maxExact+1), -maxExact-1, uint64(maxExact+1)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f := openXLSX(t, buf.Bytes())
	tests := []struct {
		cell, want string
		typ        excelize.CellType
	}{
		{"A2", "999999999999999", excelize.CellTypeUnset}, // a number: no t attribute
		{"B2", "1000000000000000", excelize.CellTypeInlineString},
		{"C2", "-1000000000000000", excelize.CellTypeInlineString},
		{"D2", "1000000000000000", excelize.CellTypeInlineString},
	}
	for _, tt := range tests {
		got, _ := f.GetCellValue("n", tt.cell)
		typ, _ := f.GetCellType("n", tt.cell)
		if got != tt.want || typ != tt.typ {
			t.Errorf("%s: got %q type %v, want %q type %v", tt.cell, got, typ, tt.want, tt.typ)
		}
	}
}
