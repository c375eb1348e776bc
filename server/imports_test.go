package server

import (
	"bytes"
	"fmt"
	"mime/multipart"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
)

// newImportExportEnv is newDomainEnv serving the routes of
// importExportRoutes. Until routes.go lists them, it serves a second Server
// on the same store whose app has them first (GET
// /v1/pairings/import-template must come before GET /v1/pairings/:id).
func newImportExportEnv(t *testing.T) *idEnv {
	t.Helper()
	e := newDomainEnv(t)
	e.clock.Store(time.Now().Truncate(time.Minute).UnixNano()) // whole minutes: times read back from sheets show minutes
	return e
}

// creditCode returns a valid 统一社会信用代码 numbered n (the check
// character computed as pairing's creditcode.go does).
func creditCode(n int) string {
	const alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
	weights := [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}
	body := fmt.Sprintf("91320100MA%07d", n)
	sum := 0
	for i := 0; i < 17; i++ {
		sum += strings.IndexByte(alphabet, body[i]) * weights[i]
	}
	return body + string(alphabet[(31-sum%31)%31])
}

// mistyped changes the check character of a valid code.
func mistyped(code string) string {
	last := byte('1')
	if code[17] == '1' {
		last = '2'
	}
	return code[:17] + string(last)
}

// workbook builds an .xlsx workbook: sheet name → rows (the first is the
// header), sheets in the order given.
func workbook(t *testing.T, sheets ...any) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	for i := 0; i+1 < len(sheets); i += 2 {
		name, rows := sheets[i].(string), sheets[i+1].([][]string)
		if i == 0 {
			if err := f.SetSheetName("Sheet1", name); err != nil {
				t.Fatal(err)
			}
		} else if _, err := f.NewSheet(name); err != nil {
			t.Fatal(err)
		}
		for r, row := range rows {
			cells := make([]any, len(row))
			for j, v := range row {
				cells[j] = v
			}
			if err := f.SetSheetRow(name, fmt.Sprintf("A%d", r+1), &cells); err != nil {
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

func (e *idEnv) upload(token, query string, body []byte) result {
	e.t.Helper()
	return e.call("POST", "/v1/pairings/import"+query, token, body, "Content-Type", mimeXLSX)
}

func TestImport(t *testing.T) {
	e := newImportExportEnv(t)
	admin := e.login("adminA").AccessToken

	existing := creditCode(9)
	r := e.call("POST", "/v1/counterparties", admin, map[string]any{"fields": map[string]any{
		"kind": "enterprise", "name": "已有科技有限公司", "credit_code": existing, "org_unit": "unitA"}})
	if r.status != 201 {
		t.Fatalf("register the existing counterparty: got %d %s, want 201", r.status, r.body)
	}
	code1, code3, code4, code5, code6 := creditCode(1), creditCode(3), creditCode(4), creditCode(5), creditCode(6)
	bad := mistyped(creditCode(2))

	book := workbook(t,
		"共建单位", [][]string{
			{"类型*", "名称*", "统一社会信用代码", "管理单位*", "地址", "行业", "联系人", "备注"},
			{"企业", "甲科技有限公司", strings.ToLower(code1), "unitA", "南京市玄武区 1 号", "软件", "张三（总经理）、李四", "重点企业"}, // 2
			{"社区", "幸福社区", "", "单位 A", "", "", "", ""},                                                   // 3
			{"企业", "乙制造有限公司", code1, "unitA", "", "", "", ""},                                            // 4: duplicate of row 2
			{"企业", "丙有限公司", existing, "unitA", "", "", "", ""},                                           // 5: already registered
			{"企业", "丁有限公司", bad, "unitA", "", "", "", ""},                                                // 6: check character
			{"工厂", "戊有限公司", code3, "unitA", "", "", "", ""},                                              // 7: kind
			{"企业", "", code4, "", "", "", "", ""},                                                        // 8: name and unit missing
			{"社区", "阳光社区", "", "unitB", "", "", "", ""},                                                  // 9: not in the subtree
			{"企业", "已有科技（有限公司）", code5, "unitA", "", "", "", ""},                                         // 10: like a registered one
			{"企业", "甲科技", code6, "unitA", "", "", "", ""},                                                // 11: like row 2
			{"企业", "无代码有限公司", "", "unitA", "", "", "", ""},                                               // 12: no code
		},
		"结对", [][]string{
			{"Name", "Branches", "Counterparties", "Primary officer", "Backup officers", "Contacts", "Start date", "End date", "Status", "Description"},
			{"结对一", "unitA", code1 + "、幸福社区", "officerA", "", "contactA", "2026-03-01", "2027/2/28", "进行中", "党建共建"}, // 2
			{"结对二", "单位 A", existing, "", "", "", "", "", "", ""},                                                   // 3
			{"结对三", "unitA", "乙制造有限公司", "", "", "", "", "", "", ""},                                                 // 4: its row failed
			{"结对四", "unitX", "不存在的单位", "", "", "", "", "", "", ""},                                                  // 5: unknown unit and counterparty
			{"结对五", "unitA", code1, "adminA", "", "", "", "", "", ""},                                               // 6: wrong role
			{"结对六", "unitA", code1, "nobody", "", "", "", "", "", ""},                                               // 7: unknown user
			{"结对七", "unitA", code1, "", "", "officerA", "", "", "", ""},                                             // 8: an officer as contact
			{"结对八", "unitA", code1, "", "", "", "2026-13-45", "", "", ""},                                           // 9: bad date
			{"", "unitA", code1, "", "", "", "", "", "", ""},                                                        // 10: no name
			{"结对九", "unitA", code1, "", "", "", "", "", "已结束", ""},                                                  // 11: status
		},
	)

	wantErrors := map[string][]rowProblem{
		"共建单位": {
			{4, "统一社会信用代码", "统一社会信用代码 " + code1 + " 与第 2 行重复"},
			{5, "统一社会信用代码", "统一社会信用代码 " + existing + " 已登记为“已有科技有限公司”（" + existing + "）"},
			{6, "统一社会信用代码", "统一社会信用代码校验位不符，可能有字符输错"},
			{7, "类型", "类型应为“企业”或“社区”，不是“工厂”"},
			{8, "名称", "“名称”为必填项"},
			{8, "管理单位", "“管理单位”为必填项"},
			{9, "管理单位", "未找到单位“unitB”（应为您管辖范围内的单位编号或完整名称）"},
			{12, "统一社会信用代码", "企业须填写统一社会信用代码"},
		},
		"结对": {
			{4, "共建单位", "共建单位“乙制造有限公司”（共建单位表第 4 行）未能导入"},
			{5, "机关支部", "未找到单位“unitX”（应为您管辖范围内的单位编号或完整名称）"},
			{5, "共建单位", "未找到共建单位“不存在的单位”（应为统一社会信用代码或完整名称）"},
			{6, "主联络员", "用户“adminA”是管理员，不是联络员"},
			{7, "主联络员", "未找到用户名为“nobody”的用户"},
			{8, "联系人账号", "用户“officerA”是联络员，不是联系人"},
			{9, "开始日期", "“2026-13-45”不是日期，请写成 2026-03-01，或把单元格设为日期格式后重新输入"},
			{10, "结对名称", "“结对名称”为必填项"},
			{11, "状态", "状态应为“草稿”或“进行中”，不是“已结束”"},
		},
	}
	wantWarnings := map[string][]rowProblem{
		"共建单位": {
			{10, "名称", "与已登记的“已有科技有限公司”（" + existing + "）名称相近，请确认不是同一单位"},
			{11, "名称", "与第 2 行的“甲科技有限公司”名称相近，请确认不是同一单位"},
		},
		"结对": {},
	}
	wantCounts := map[string][2]int{"共建单位": {11, 4}, "结对": {10, 2}} // rows, imported
	check := func(t *testing.T, rep importReport, dryRun bool) {
		t.Helper()
		if rep.DryRun != dryRun || len(rep.Sheets) != 2 || rep.Sheets[0].Sheet != "共建单位" || rep.Sheets[1].Sheet != "结对" {
			t.Fatalf("got dry_run %v, sheets %+v; want dry_run %v, sheets 共建单位 then 结对", rep.DryRun, rep.Sheets, dryRun)
		}
		for _, sh := range rep.Sheets {
			if got, want := [2]int{sh.Rows, sh.Imported}, wantCounts[sh.Sheet]; got != want {
				t.Errorf("%s: got rows, imported %v, want %v", sh.Sheet, got, want)
			}
			if !slices.Equal(sh.Errors, wantErrors[sh.Sheet]) {
				t.Errorf("%s errors:\ngot  %+v\nwant %+v", sh.Sheet, sh.Errors, wantErrors[sh.Sheet])
			}
			if !slices.Equal(sh.Warnings, wantWarnings[sh.Sheet]) {
				t.Errorf("%s warnings:\ngot  %+v\nwant %+v", sh.Sheet, sh.Warnings, wantWarnings[sh.Sheet])
			}
		}
	}
	listNames := func(t *testing.T) (cps, prs []string) {
		t.Helper()
		var cl counterpartyList
		e.call("GET", "/v1/counterparties?limit=1000", admin, nil).json(t, &cl)
		for _, cp := range cl.Counterparties {
			cps = append(cps, cp.Name)
		}
		var pl pairingList
		e.call("GET", "/v1/pairings?limit=1000", admin, nil).json(t, &pl)
		for _, pr := range pl.Pairings {
			prs = append(prs, pr.Name)
		}
		slices.Sort(cps)
		slices.Sort(prs)
		return cps, prs
	}

	t.Run("dry run writes nothing", func(t *testing.T) {
		r := e.upload(admin, "?dry_run=true", book)
		if r.status != 200 {
			t.Fatalf("got %d %s, want 200", r.status, r.body)
		}
		var rep importReport
		r.json(t, &rep)
		check(t, rep, true)
		for _, sh := range rep.Sheets {
			if len(sh.IDs) != 0 {
				t.Errorf("%s: got ids %v in a dry run, want none", sh.Sheet, sh.IDs)
			}
		}
		cps, prs := listNames(t)
		if !slices.Equal(cps, []string{"已有科技有限公司"}) || len(prs) != 0 {
			t.Errorf("after a dry run: got counterparties %q, pairings %q; want only the existing counterparty", cps, prs)
		}
	})

	t.Run("import", func(t *testing.T) {
		r := e.upload(admin, "", book)
		if r.status != 200 {
			t.Fatalf("got %d %s, want 200", r.status, r.body)
		}
		var rep importReport
		r.json(t, &rep)
		check(t, rep, false)
		rows := func(ids []importedRow) []int {
			var out []int
			for _, id := range ids {
				out = append(out, id.Row)
			}
			return out
		}
		if got := rows(rep.Sheets[0].IDs); !slices.Equal(got, []int{2, 3, 10, 11}) {
			t.Errorf("counterparty ids for rows %v, want 2, 3, 10, 11", got)
		}
		if got := rep.Sheets[0].IDs[0].ID; got != code1 {
			t.Errorf("row 2's id: got %q, want its credit code %q (normalized)", got, code1)
		}
		if got := rows(rep.Sheets[1].IDs); !slices.Equal(got, []int{2, 3}) {
			t.Errorf("pairing ids for rows %v, want 2, 3", got)
		}

		cps, prs := listNames(t)
		want := []string{"幸福社区", "已有科技有限公司", "已有科技（有限公司）", "甲科技", "甲科技有限公司"}
		if slices.Sort(want); !slices.Equal(cps, want) {
			t.Errorf("counterparties: got %q, want %q", cps, want)
		}
		if want := []string{"结对一", "结对二"}; !slices.Equal(prs, want) {
			t.Errorf("pairings: got %q, want %q", prs, want)
		}

		var cp recordView
		e.call("GET", "/v1/counterparties/"+code1, admin, nil).json(t, &cp)
		for field, want := range map[string]string{"kind": `"enterprise"`, "credit_code": `"` + code1 + `"`, "org_unit": `"unitA"`,
			"industry": `"软件"`, "contacts": `[{"name":"张三","title":"总经理"},{"name":"李四"}]`, "note": `"重点企业"`} {
			if got := string(cp.Fields[field]); got != want {
				t.Errorf("counterparty %s: got %s, want %s", field, got, want)
			}
		}
		community := rep.Sheets[0].IDs[1].ID
		var pr recordView
		e.call("GET", "/v1/pairings/"+rep.Sheets[1].IDs[0].ID, admin, nil).json(t, &pr)
		for field, want := range map[string]string{"status": `"active"`, "branches": `["unitA"]`,
			"counterparties": `["` + code1 + `","` + community + `"]`, "officers": `[{"primary":true,"user_id":"u-officerA"}]`,
			"contacts": `["u-contactA"]`, "starts_on": `"2026-03-01"`, "ends_on": `"2027-02-28"`, "description": `"党建共建"`} {
			if got := string(pr.Fields[field]); got != want {
				t.Errorf("pairing %s: got %s, want %s", field, got, want)
			}
		}
		e.call("GET", "/v1/pairings/"+rep.Sheets[1].IDs[1].ID, admin, nil).json(t, &pr)
		if got := string(pr.Fields["status"]) + string(pr.Fields["counterparties"]); got != `"draft"["`+existing+`"]` {
			t.Errorf("结对二: got status and counterparties %s, want draft and the registered counterparty", got)
		}

		var audit struct {
			Events []auditView `json:"events"`
		}
		e.call("GET", "/v1/audit?action=directory.import", admin, nil).json(t, &audit)
		if len(audit.Events) != 1 || audit.Events[0].Detail != "共建单位: 4 of 11 rows imported, 8 errors; 结对: 2 of 10 rows imported, 9 errors" {
			t.Errorf("audit: got %+v, want one directory.import event with the counts", audit.Events)
		}
	})

	t.Run("again: every row is a duplicate now", func(t *testing.T) {
		var rep importReport
		e.upload(admin, "?dry_run=1", book).json(t, &rep)
		if got := rep.Sheets[0].Imported; got != 1 { // only the community: it has no code
			t.Errorf("got %d counterparties importable, want 1 (the community)", got)
		}
		if got := rep.Sheets[0].Errors[0]; got != (rowProblem{2, "统一社会信用代码", "统一社会信用代码 " + code1 + " 已登记为“甲科技有限公司”（" + code1 + "）"}) {
			t.Errorf("row 2: got %+v, want already registered", got)
		}
	})
}

func TestImportTemplate(t *testing.T) {
	e := newImportExportEnv(t)
	admin := e.login("adminA").AccessToken
	r := e.call("GET", "/v1/pairings/import-template", admin, nil)
	if r.status != 200 {
		t.Fatalf("got %d %s, want 200", r.status, r.body)
	}
	if got := r.header.Get("Content-Type"); got != mimeXLSX {
		t.Errorf("Content-Type: got %q, want %q", got, mimeXLSX)
	}
	wantCD := `attachment; filename="pairsync-import-template.xlsx"; filename*=UTF-8''%E7%BB%93%E5%AF%B9%E5%85%B1%E5%BB%BA%E5%AF%BC%E5%85%A5%E6%A8%A1%E6%9D%BF.xlsx`
	if got := r.header.Get("Content-Disposition"); got != wantCD {
		t.Errorf("Content-Disposition:\ngot  %s\nwant %s", got, wantCD)
	}
	f, err := excelize.OpenReader(bytes.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := f.GetSheetList(); !slices.Equal(got, []string{"共建单位", "结对", "说明"}) {
		t.Errorf("sheets: got %q, want 共建单位, 结对, 说明", got)
	}
	for sheet, want := range map[string][]string{
		"共建单位": {"类型*", "名称*", "统一社会信用代码", "管理单位*", "地址", "行业", "联系人", "备注"},
		"结对":   {"结对名称*", "机关支部*", "共建单位*", "主联络员", "副联络员", "联系人账号", "开始日期", "结束日期", "状态", "共建内容"},
	} {
		rows, err := f.GetRows(sheet)
		if err != nil || len(rows) != 1 || !slices.Equal(rows[0], want) {
			t.Errorf("%s: got %q, %v; want the header %q only", sheet, rows, err, want)
		}
	}

	var rep importReport
	r = e.upload(admin, "", r.body)
	if r.status != 200 {
		t.Fatalf("re-import the template: got %d %s, want 200", r.status, r.body)
	}
	r.json(t, &rep)
	if len(rep.Sheets) != 2 || rep.Sheets[0].Rows != 0 || rep.Sheets[1].Rows != 0 || rep.Sheets[0].Imported+rep.Sheets[1].Imported != 0 ||
		len(rep.Sheets[0].Errors)+len(rep.Sheets[1].Errors) != 0 {
		t.Errorf("re-import the template: got %+v, want two sheets of zero rows", rep)
	}
}

func TestImportRefusals(t *testing.T) {
	e := newImportExportEnv(t)
	admin := e.login("adminA").AccessToken
	good := workbook(t, "共建单位", [][]string{{"类型", "名称", "统一社会信用代码", "管理单位"}, {"社区", "幸福社区", "", "unitA"}})

	many := [][]string{{"类型", "名称", "统一社会信用代码", "管理单位"}}
	for i := 0; i <= importMaxRows; i++ {
		many = append(many, []string{"社区", fmt.Sprintf("社区 %d", i), "", "unitA"})
	}
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	fw, _ := mw.CreateFormFile("file", "共建单位.xlsx")
	fw.Write(good)
	mw.Close()

	tests := []struct {
		name   string
		token  string
		body   []byte
		ctype  string
		status int
		msg    string // a part of the message
	}{
		{"a viewer", e.login("viewerA").AccessToken, good, mimeXLSX, 403, "只有管理员可以导入"},
		{"an officer", e.login("officerA").AccessToken, good, mimeXLSX, 403, "只有管理员可以导入"},
		{"not a workbook", admin, []byte("名称,代码\n甲,1\n"), mimeXLSX, 400, "文件不是有效的 Excel 工作簿（.xlsx）"},
		{"JSON", admin, []byte(`{"fields":{}}`), "application/json", 415, "请上传 .xlsx 文件"},
		{"no import sheet", admin, workbook(t, "Sheet1", [][]string{{"名称"}, {"甲"}}), mimeXLSX, 400, "工作簿中没有“共建单位”或“结对”工作表（工作簿中有：Sheet1）"},
		{"a missing column", admin, workbook(t, "结对", [][]string{{"结对名称", "共建单位"}, {"甲", "乙"}}), mimeXLSX, 400, "工作表“结对”：第 1 行：缺少必填列“机关支部”"},
		{"too many rows", admin, workbook(t, "共建单位", many), mimeXLSX, 400, "数据超过 5000 行的上限"},
		{"multipart without file", admin, []byte("--x--\r\n"), "multipart/form-data; boundary=x", 400, "file 字段"},
		{"multipart (dry run)", admin, mp.Bytes(), mw.FormDataContentType(), 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.call("POST", "/v1/pairings/import?dry_run=true", tt.token, tt.body, "Content-Type", tt.ctype)
			if r.status != tt.status || !strings.Contains(string(r.body), tt.msg) {
				t.Fatalf("got %d %s, want %d with %q", r.status, r.body, tt.status, tt.msg)
			}
		})
	}
	// Uploads up to 10 MiB reach the handler; larger ones are refused with
	// a message that says so. (This needs Fiber's BodyLimit above the
	// import limit: see newImportExportEnv.)
	for _, tt := range []struct {
		size   int
		status int
		msg    string
	}{
		{2 << 20, 400, "文件不是有效的 Excel 工作簿"},
		{importMaxBytes + 1, 413, "文件超过 10 MB 的上限"},
	} {
		r := e.upload(admin, "", bytes.Repeat([]byte{'x'}, tt.size))
		if r.status != tt.status || !strings.Contains(string(r.body), tt.msg) {
			t.Errorf("upload of %d bytes: got %d %s, want %d with %q", tt.size, r.status, r.body, tt.status, tt.msg)
		}
	}

	var cl counterpartyList
	e.call("GET", "/v1/counterparties", admin, nil).json(t, &cl)
	if len(cl.Counterparties) != 0 {
		t.Errorf("got %d counterparties after refused and dry-run imports, want 0", len(cl.Counterparties))
	}
}

func TestImportDateFormats(t *testing.T) {
	for in, want := range map[string]string{
		"2026-03-01": "2026-03-01", "2026-3-1": "2026-03-01", "2026/3/1": "2026-03-01", "2026.03.01": "2026-03-01",
		"2026年3月1日": "2026-03-01", "20260301": "2026-03-01", "03-01-26": "2026-03-01", "46082": "2026-03-01",
		"2026-02-30": "", "明天": "", "12": "",
	} {
		got, ok := parseImportDate(in)
		if got != want || ok != (want != "") {
			t.Errorf("parseImportDate(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}
