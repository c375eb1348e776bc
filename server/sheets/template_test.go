package sheets

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

var communities = Schema{Sheet: "社区", Columns: []SchemaColumn{
	{Key: "name", Headers: []string{"社区名称", "Name"}, Required: true, Note: "与民政登记一致"},
	{Key: "street", Headers: []string{"所属街道"}, Note: "可不填"},
}}

func TestTemplate(t *testing.T) {
	var buf bytes.Buffer
	if err := Template(&buf, enterprises, communities); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()

	t.Run("reads back empty", func(t *testing.T) {
		for _, s := range []Schema{enterprises, communities} {
			rows, err := Read(bytes.NewReader(b), s, 10, 1<<20)
			if err != nil || len(rows) != 0 {
				t.Errorf("%s: got %d rows, %v; want 0 rows, no error", s.Sheet, len(rows), err)
			}
		}
	})

	f, err := excelize.OpenReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got, want := f.GetSheetList(), []string{"企业", "社区", "说明"}; !slices.Equal(got, want) {
		t.Fatalf("sheets: got %q, want %q", got, want)
	}
	rowsOf := func(sheet string) [][]string {
		rows, err := f.GetRows(sheet)
		if err != nil {
			t.Fatal(err)
		}
		return rows
	}
	tests := []struct {
		sheet string
		want  [][]string
	}{
		{"企业", [][]string{{"企业名称*", "统一社会信用代码*", "地址", "联系电话"}}},
		{"社区", [][]string{{"社区名称*", "所属街道"}}},
		{"说明", [][]string{
			{"工作表", "列名", "必填", "说明", "其他可用的表头写法"},
			{"企业", "企业名称", "是", "", "Name"},
			{"企业", "统一社会信用代码", "是", "", "Credit Code"},
			{"企业", "地址", "否", "", "Address"},
			{"企业", "联系电话", "否", "", "Phone"},
			{"社区", "社区名称", "是", "与民政登记一致", "Name"},
			{"社区", "所属街道", "否", "可不填"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.sheet, func(t *testing.T) {
			got := rowsOf(tt.sheet)
			if len(got) != len(tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			for i := range got {
				if !slices.Equal(got[i], tt.want[i]) {
					t.Errorf("row %d: got %q, want %q", i+1, got[i], tt.want[i])
				}
			}
			panes, err := f.GetPanes(tt.sheet)
			if err != nil || !panes.Freeze || panes.YSplit != 1 {
				t.Errorf("panes: got %+v, %v; want frozen at row 1", panes, err)
			}
			id, _ := f.GetCellStyle(tt.sheet, "A1")
			if style, err := f.GetStyle(id); err != nil || style.Font == nil || !style.Font.Bold {
				t.Errorf("A1: got style %+v, %v; want bold", style, err)
			}
		})
	}
	t.Run("data columns are text", func(t *testing.T) {
		id, err := f.GetColStyle("企业", "B")
		if err != nil {
			t.Fatal(err)
		}
		if style, err := f.GetStyle(id); err != nil || style.NumFmt != 49 {
			t.Errorf("got style %+v, %v; want number format 49 (text)", style, err)
		}
	})
}

func TestTemplateErrors(t *testing.T) {
	tests := []struct {
		name    string
		schemas []Schema
		want    string
	}{
		{"none", nil, "no schemas"},
		{"no sheet name", []Schema{{Columns: communities.Columns}}, "sheet name \"\""},
		{"same sheet twice", []Schema{communities, communities}, "sheet name \"社区\""},
		{"reserved name", []Schema{{Sheet: "说明", Columns: communities.Columns}}, "sheet name \"说明\""},
		{"invalid schema", []Schema{{Sheet: "x", Columns: []SchemaColumn{{Key: "a"}}}}, "no headers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Template(new(bytes.Buffer), tt.schemas...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
