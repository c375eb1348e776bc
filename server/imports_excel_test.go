package server

import (
	"archive/zip"
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
)

// handZipped is a minimal .xlsx zipped by hand, one sheet 共建单位 holding
// sheetData as given: what no spreadsheet (and no excelize) would write.
func handZipped(t *testing.T, sheetData string) []byte {
	t.Helper()
	files := []struct{ name, body string }{
		{"[Content_Types].xml", `<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
			`<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>` +
			`<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>` +
			`<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>`},
		{"_rels/.rels", `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` +
			`<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>`},
		{"xl/workbook.xml", `<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" ` +
			`xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="共建单位" sheetId="1" r:id="rId1"/></sheets></workbook>`},
		{"xl/_rels/workbook.xml.rels", `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` +
			`<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>`},
		{"xl/worksheets/sheet1.xml", `<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">` +
			`<sheetData>` + sheetData + `</sheetData></worksheet>`},
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		w, err := zw.Create(f.name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(f.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// cellsRow is a sheet row of inline-string cells from column A.
func cellsRow(r string, values ...string) string {
	var b strings.Builder
	b.WriteString(`<row r="` + r + `">`)
	for i, v := range values {
		fmt.Fprintf(&b, `<c r="%c%s" t="inlineStr"><is><t>%s</t></is></c>`, 'A'+i, r, v)
	}
	return b.String() + "</row>"
}

// GO-2026-5960: a workbook whose row numbers lie far beyond Excel's last
// row (1,048,576) is refused, in words that say what to do, without a
// large allocation and without walking the billion empty rows before it.
func TestImportAbsurdRowIndex(t *testing.T) {
	e := newImportExportEnv(t)
	admin := e.login("adminA").AccessToken
	header := cellsRow("1", "类型", "名称", "统一社会信用代码", "管理单位")
	for name, data := range map[string]string{
		"a row":             header + cellsRow("2", "社区", "幸福社区", "", "unitA") + cellsRow("1048576000", "社区", "阳光社区", "", "unitA"),
		"the largest int32": header + cellsRow("2147483647", "社区", "阳光社区", "", "unitA"),
		"a cell":            header + `<row><c r="B1048576000" t="inlineStr"><is><t>阳光社区</t></is></c></row>`,
	} {
		t.Run(name, func(t *testing.T) {
			book := handZipped(t, data)
			var r result
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			r = e.upload(admin, "", book)
			runtime.ReadMemStats(&after)
			if r.status != 400 {
				t.Fatalf("got %d %s, want 400", r.status, r.body)
			}
			for _, want := range []string{"工作表“共建单位”", "行号超过 Excel 上限（1048576 行）", "另存为 .xlsx"} {
				if !strings.Contains(string(r.body), want) {
					t.Errorf("got %s, want it to say %q", r.body, want)
				}
			}
			// Before v2.11.0 excelize sized a slice of rows by the row
			// number in some paths (a billion rows of ~100 bytes).
			if n := after.TotalAlloc - before.TotalAlloc; n > 64<<20 {
				t.Errorf("the upload allocated %d MiB, want < 64 MiB", n>>20)
			}
		})
	}
	var cl counterpartyList
	e.call("GET", "/v1/counterparties", admin, nil).json(t, &cl)
	if len(cl.Counterparties) != 0 {
		t.Errorf("got %d counterparties after refused imports, want 0", len(cl.Counterparties))
	}
}

// Excel, WPS and LibreOffice as administrators use them: date cells in
// whatever pattern, a credit code that became a number, .ods.
func TestImportExcelAsPeopleUseIt(t *testing.T) {
	e := newImportExportEnv(t)
	admin := e.login("adminA").AccessToken
	r := e.call("POST", "/v1/counterparties", admin, map[string]any{"fields": map[string]any{
		"kind": "community", "name": "幸福社区", "org_unit": "unitA"}})
	if r.status != 201 {
		t.Fatalf("register a counterparty: got %d %s, want 201", r.status, r.body)
	}

	// The workbook: 结对 with real date cells (numbers with a date format,
	// as a spreadsheet stores what is typed into a date cell) in the
	// patterns people's spreadsheets show, and 共建单位 with an 18-digit
	// code typed into a General cell: a number.
	f := excelize.NewFile()
	defer f.Close()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(f.SetSheetName("Sheet1", "共建单位"))
	must(f.SetSheetRow("共建单位", "A1", &[]any{"类型", "名称", "统一社会信用代码", "管理单位"}))
	must(f.SetSheetRow("共建单位", "A2", &[]any{"企业", "数字科技有限公司", int64(911101080000000000), "unitA"}))
	must(f.SetSheetRow("共建单位", "A3", &[]any{"企业", "科学记数有限公司", "9.1110108E+17", "unitA"}))
	must(f.SetSheetRow("共建单位", "A4", &[]any{"社区", "幸福（社区）", "", "unitA"})) // like the registered one
	_, err := f.NewSheet("结对")
	must(err)
	must(f.SetSheetRow("结对", "A1", &[]any{"结对名称", "机关支部", "共建单位", "开始日期", "结束日期"}))
	march1, feb28 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 2, 28, 0, 0, 0, 0, time.UTC)
	for i, layout := range []string{"m/d/yy", "mm/dd/yyyy", `YY"年"M"月"D"日"`, "dd/mm/yyyy"} {
		row := i + 2
		style, err := f.NewStyle(&excelize.Style{CustomNumFmt: &layout})
		must(err)
		must(f.SetSheetRow("结对", fmt.Sprintf("A%d", row), &[]any{fmt.Sprintf("结对 %s", layout), "unitA", "幸福社区", march1, feb28}))
		must(f.SetCellStyle("结对", fmt.Sprintf("D%d", row), fmt.Sprintf("E%d", row), style))
		shown, _ := f.GetCellValue("结对", fmt.Sprintf("D%d", row))
		t.Logf("row %d: 开始日期 shown as %s", row, shown)
	}
	must(f.SetSheetRow("结对", "A6", &[]any{"代码变成数字的结对", "unitA", int64(911101080000000000)}))
	var buf bytes.Buffer
	must(f.Write(&buf))

	r = e.upload(admin, "", buf.Bytes())
	if r.status != 200 {
		t.Fatalf("import: got %d %s, want 200", r.status, r.body)
	}
	var rep importReport
	r.json(t, &rep)
	if len(rep.Sheets) != 2 {
		t.Fatalf("got %d sheets, want 2: %s", len(rep.Sheets), r.body)
	}
	cps, prs := rep.Sheets[0], rep.Sheets[1]
	if cps.Imported != 1 || len(cps.Errors) != 2 {
		t.Fatalf("共建单位: got %d imported, errors %+v; want row 4 imported, 2 errors", cps.Imported, cps.Errors)
	}
	// A registered community is told apart by its unit, never by its id (a uuid).
	if len(cps.Warnings) != 1 || cps.Warnings[0].Message != "与已登记的“幸福社区”（单位 A）名称相近，请确认不是同一单位" {
		t.Errorf("共建单位 warnings: got %+v, want row 4 like the registered 幸福社区 of 单位 A", cps.Warnings)
	}
	for _, p := range cps.Errors {
		for _, want := range []string{"变成了数字", "文本", "单引号"} {
			if p.Column != "统一社会信用代码" || !strings.Contains(p.Message, want) {
				t.Errorf("row %d: got %q %q, want 统一社会信用代码 saying %q", p.Row, p.Column, p.Message, want)
			}
		}
	}
	if prs.Imported != 4 || len(prs.Errors) != 1 || prs.Errors[0].Row != 6 || !strings.Contains(prs.Errors[0].Message, "变成了数字") {
		t.Fatalf("结对: got %d imported, errors %+v; want rows 2-5 imported, row 6 refused saying the code became a number", prs.Imported, prs.Errors)
	}
	for _, id := range prs.IDs {
		var pr recordView
		e.call("GET", "/v1/pairings/"+id.ID, admin, nil).json(t, &pr)
		if got := string(pr.Fields["starts_on"]) + " " + string(pr.Fields["ends_on"]); got != `"2026-03-01" "2027-02-28"` {
			t.Errorf("row %d: got starts_on ends_on %s, want 2026-03-01 2027-02-28", id.Row, got)
		}
	}

	t.Run(".ods", func(t *testing.T) {
		var ods bytes.Buffer
		zw := zip.NewWriter(&ods)
		w, _ := zw.CreateHeader(&zip.FileHeader{Name: "mimetype", Method: zip.Store})
		w.Write([]byte("application/vnd.oasis.opendocument.spreadsheet"))
		w, _ = zw.Create("content.xml")
		w.Write([]byte(`<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"/>`))
		zw.Close()
		for _, ctype := range []string{mimeODS, mimeXLSX, "application/octet-stream"} {
			r := e.call("POST", "/v1/pairings/import", admin, ods.Bytes(), "Content-Type", ctype)
			if r.status != 400 {
				t.Fatalf("as %s: got %d %s, want 400", ctype, r.status, r.body)
			}
			for _, want := range []string{".ods", "LibreOffice", "WPS", "另存为", "Excel 2007-365 (.xlsx)"} {
				if !strings.Contains(string(r.body), want) {
					t.Errorf("as %s: got %s, want it to name %q", ctype, r.body, want)
				}
			}
		}
	})
}

func TestNumberLostDigits(t *testing.T) {
	for cell, want := range map[string]bool{
		"9.1110108E+17":      true,
		"9.1110108e+17":      true,
		"9E+17":              true,
		"911101080000000000": true,
		"911101081234567000": true,
		"91110108123456789X": false, // a code as typed
		"911101081234567891": false, // 18 digits, none lost (still checked as a code)
		"9111010812345":      false,
		"91320100MA0000001X": false,
		"E+17":               false,
		"1.2.3E+4":           false,
	} {
		if got := numberLostDigits(cell); got != want {
			t.Errorf("numberLostDigits(%q) = %v, want %v", cell, got, want)
		}
	}
}
