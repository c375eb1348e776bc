package sheets

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

// sheet is a sheet to build: rows by their 1-based number, absent rows blank.
type sheet struct {
	name string
	rows map[int][]any
}

// workbook builds an .xlsx with excelize's ordinary (non-streaming) API.
func workbook(t *testing.T, sheets ...sheet) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	for i, s := range sheets {
		var err error
		if i == 0 {
			err = f.SetSheetName("Sheet1", s.name)
		} else {
			_, err = f.NewSheet(s.name)
		}
		if err != nil {
			t.Fatal(err)
		}
		for n, r := range s.rows {
			if err := f.SetSheetRow(s.name, fmt.Sprintf("A%d", n), &r); err != nil {
				t.Fatal(err)
			}
		}
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// enterprises is the schema the read tests use.
var enterprises = Schema{Sheet: "企业", Columns: []SchemaColumn{
	{Key: "name", Headers: []string{"企业名称", "Name"}, Required: true},
	{Key: "code", Headers: []string{"统一社会信用代码", "Credit Code"}, Required: true},
	{Key: "addr", Headers: []string{"地址", "Address"}},
	{Key: "phone", Headers: []string{"联系电话", "Phone"}},
}}

func TestRead(t *testing.T) {
	const maxBytes = 1 << 20
	tests := []struct {
		name    string
		book    []byte
		maxRows int
		want    []Row
	}{{
		name: "chinese headers, stars, blank rows, spaces",
		book: workbook(t, sheet{"企业", map[int][]any{
			2: {"企业名称*", " 统一社会信用代码 ＊", "地址", "备注（不导入）"},
			3: {"  甲公司 ", "91110000MA01", nil, "随便写"},
			5: {"乙公司", "91110000MA02", "北京市"},
			6: {nil, nil, nil},
			7: {"", "  "},
			8: {"丙公司", 12345},
		}}),
		maxRows: 3,
		want: []Row{
			{3, map[string]string{"name": "甲公司", "code": "91110000MA01", "addr": ""}},
			{5, map[string]string{"name": "乙公司", "code": "91110000MA02", "addr": "北京市"}},
			{8, map[string]string{"name": "丙公司", "code": "12345", "addr": ""}},
		},
	}, {
		name: "english headers in any case, other sheet name when only one",
		book: workbook(t, sheet{"Sheet1", map[int][]any{
			1: {"PHONE", "credit code*", "name"},
			2: {"010-1234", "X1", "Acme"},
		}}),
		maxRows: 10,
		want: []Row{
			{2, map[string]string{"phone": "010-1234", "code": "X1", "name": "Acme"}},
		},
	}, {
		name: "named sheet among several",
		book: workbook(t,
			sheet{"说明", map[int][]any{1: {"随便"}}},
			sheet{" 企业 ", map[int][]any{1: {"企业名称", "统一社会信用代码"}, 2: {"甲", "1"}}},
		),
		maxRows: 10,
		want:    []Row{{2, map[string]string{"name": "甲", "code": "1"}}},
	}, {
		name:    "header only",
		book:    workbook(t, sheet{"企业", map[int][]any{1: {"企业名称", "统一社会信用代码"}}}),
		maxRows: 1,
		want:    nil,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Read(bytes.NewReader(tt.book), enterprises, tt.maxRows, maxBytes)
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d rows %v, want %d %v", len(got), got, len(tt.want), tt.want)
			}
			for i := range got {
				if got[i].Number != tt.want[i].Number || !maps.Equal(got[i].Cells, tt.want[i].Cells) {
					t.Errorf("row %d: got %v, want %v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

// zipOf builds a zip holding the named files.
func zipOf(t *testing.T, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, b := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestReadErrors(t *testing.T) {
	good := map[int][]any{1: {"企业名称", "统一社会信用代码"}, 2: {"甲", "1"}, 3: {"乙", "2"}, 4: {"丙", "3"}}
	tests := []struct {
		name     string
		book     []byte
		maxRows  int
		maxBytes int64
		wantRow  int
		wantCol  string
		want     string // in Error()
	}{
		{"missing required column", workbook(t, sheet{"企业", map[int][]any{1: {"企业名称", "地址"}, 2: {"甲", "北京"}}}),
			10, 1 << 20, 1, "", "缺少必填列“统一社会信用代码”"},
		{"all missing required columns named", workbook(t, sheet{"企业", map[int][]any{3: {"地址"}}}),
			10, 1 << 20, 3, "", "缺少必填列“企业名称”、“统一社会信用代码”"},
		{"duplicated header", workbook(t, sheet{"企业", map[int][]any{1: {"企业名称", "统一社会信用代码", "Name*"}}}),
			10, 1 << 20, 1, "C", "表头“Name*”与 A 列的“企业名称”重复"},
		{"too many rows", workbook(t, sheet{"企业", good}),
			2, 1 << 20, 4, "", "数据超过 2 行的上限"},
		{"missing sheet", workbook(t, sheet{"Sheet1", good}, sheet{"Sheet2", good}),
			10, 1 << 20, 0, "", "找不到工作表“企业”（工作簿中有：“Sheet1”、“Sheet2”）"},
		{"empty sheet", workbook(t, sheet{"企业", nil}),
			10, 1 << 20, 0, "", "找不到表头行"},
		{"csv, not xlsx", []byte("\uFEFF企业名称,统一社会信用代码\n甲,1\n"),
			10, 1 << 20, 0, "", "不是有效的 Excel 工作簿"},
		{"empty upload", nil,
			10, 1 << 20, 0, "", "不是有效的 Excel 工作簿"},
		{"a zip but no workbook", zipOf(t, map[string][]byte{"word/document.xml": []byte("<w/>")}),
			10, 1 << 20, 0, "", "不是有效的 Excel 工作簿"},
		{"xls", append([]byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}, make([]byte, 504)...),
			10, 1 << 20, 0, "", "旧版 .xls"},
		{"over maxBytes", workbook(t, sheet{"企业", good}),
			10, 1000, 0, "", "文件超过大小上限（1000 字节）"},
		{"zip bomb", zipOf(t, map[string][]byte{"xl/worksheets/sheet1.xml": make([]byte, 5<<20)}),
			10, 64 << 10, 0, "", "文件解压后超过 4 MB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, err := Read(bytes.NewReader(tt.book), enterprises, tt.maxRows, tt.maxBytes)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("got rows %v, error %v; want an *Error", rows, err)
			}
			if e.Row != tt.wantRow || e.Column != tt.wantCol || !strings.Contains(e.Error(), tt.want) {
				t.Errorf("got row %d column %q %q; want row %d column %q, containing %q",
					e.Row, e.Column, e.Error(), tt.wantRow, tt.wantCol, tt.want)
			}
		})
	}
}

func TestReadCallerErrors(t *testing.T) {
	book := workbook(t, sheet{"企业", map[int][]any{1: {"企业名称", "统一社会信用代码"}}})
	tests := []struct {
		name     string
		schema   Schema
		maxRows  int
		maxBytes int64
	}{
		{"zero maxRows", enterprises, 0, 1 << 20},
		{"zero maxBytes", enterprises, 10, 0},
		{"column without key", Schema{Columns: []SchemaColumn{{Headers: []string{"a"}}}}, 10, 1 << 20},
		{"column without headers", Schema{Columns: []SchemaColumn{{Key: "a"}}}, 10, 1 << 20},
		{"key twice", Schema{Columns: []SchemaColumn{{Key: "a", Headers: []string{"a"}}, {Key: "a", Headers: []string{"b"}}}}, 10, 1 << 20},
		{"spelling twice", Schema{Columns: []SchemaColumn{{Key: "a", Headers: []string{"名称"}}, {Key: "b", Headers: []string{"名称*"}}}}, 10, 1 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Read(bytes.NewReader(book), tt.schema, tt.maxRows, tt.maxBytes)
			var e *Error
			if err == nil || errors.As(err, &e) {
				t.Errorf("got %v, want a non-*Error error", err)
			}
		})
	}
}

func TestReadWrittenExport(t *testing.T) {
	// What Writer exports, Read imports: the header row maps, values come
	// back as displayed.
	var buf bytes.Buffer
	w := NewWriter(XLSX, &buf)
	if err := w.Sheet("企业", []Column{{"企业名称", 20}, {"统一社会信用代码", 20}, {"联系电话", 0}}); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if err := w.Row(fmt.Sprintf("企业%02d", i), "=cmd|' /C calc'!A0", 13800000000+i); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rows, err := Read(&buf, enterprises, 50, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 50 {
		t.Fatalf("got %d rows, want 50", len(rows))
	}
	want := map[string]string{"name": "企业49", "code": "=cmd|' /C calc'!A0", "phone": "13800000049"}
	if last := rows[49]; last.Number != 51 || !maps.Equal(last.Cells, want) {
		t.Errorf("got %v, want row 51 %v", last, want)
	}
}
