package sheets

import (
	"bytes"
	"encoding/csv"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCSVWrite(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(CSV, &buf)
	if err := w.Sheet("ignored", []Column{{"名称", 20}, {"数量", 0}, {"时间", 0}, {"完成", 0}, {"比例", 0}}); err != nil {
		t.Fatal(err)
	}
	rows := [][]any{
		{"社区服务中心", 42, time.Date(2024, 3, 5, 14, 30, 0, 0, shanghai), true, 0.25},
		{"=1+2", -5, nil, false, float32(1.5)},
		{"+86 138", uint64(7), time.Time{}},
		{"-2", int64(-2)},
		{"@SUM(A1)"},
		{"\t=1"},
		{"\r=1"},
		{"a=b, \"引号\"\n换行"},
	}
	for _, r := range rows {
		if err := w.Row(r...); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	if !bytes.HasPrefix(buf.Bytes(), []byte("\xEF\xBB\xBF")) {
		t.Fatalf("got prefix % x, want the UTF-8 BOM", buf.Bytes()[:3])
	}
	got, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(buf.String(), bom))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"名称", "数量", "时间", "完成", "比例"},
		{"社区服务中心", "42", "2024-03-05 14:30", "TRUE", "0.25"},
		{"'=1+2", "-5", "", "FALSE", "1.5"},
		{"'+86 138", "7", "", "", ""},
		{"'-2", "-2", "", "", ""},
		{"'@SUM(A1)", "", "", "", ""},
		{"'\t=1", "", "", "", ""},
		{"'\r=1", "", "", "", ""},
		{"a=b, \"引号\"\n换行", "", "", "", ""},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d: %q", len(got), len(want), got)
	}
	for i := range want {
		if !slices.Equal(got[i], want[i]) {
			t.Errorf("record %d: got %q, want %q", i, got[i], want[i])
		}
	}
}

func TestNeutralize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"普通", "普通"},
		{"=cmd", "'=cmd"},
		{"+1", "'+1"},
		{"-1", "'-1"},
		{"@x", "'@x"},
		{"\tx", "'\tx"},
		{"\rx", "'\rx"},
		{" =x", " =x"},
		{"＝x", "＝x"},
	}
	for _, tt := range tests {
		if got := neutralize(tt.in); got != tt.want {
			t.Errorf("neutralize(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCSVNoSheet(t *testing.T) {
	var buf bytes.Buffer
	if err := NewWriter(CSV, &buf).Close(); err != nil {
		t.Fatal(err)
	}
	if got := buf.String(); got != bom {
		t.Errorf("got %q, want only the BOM", got)
	}
}
