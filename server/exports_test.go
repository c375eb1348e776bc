package server

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/server/readmodel"
	"github.com/pairsync/pairsync/server/sheets"
)

// exportFixture is what seedExports wrote.
type exportFixture struct {
	admin, viewer string // tokens
	p1, p2        string // pairings of unit A (p3, of unit B, is not visible to A)
	code, comm    string // counterparties of p1: an enterprise and a community
	now           time.Time
	// Times of the records, in whole minutes.
	visit1, visit2, issue1, issue2, dispatched, due, completed time.Time
}

// seedExports creates, in unit A, pairing 结对一 (active; officerA; the
// enterprise 甲科技有限公司 and 幸福社区) with two visits this period and
// one 40 days ago, two issues (one dispatched and overdue) and two projects
// (one completed, with one of two milestones done), and 结对二 (draft,
// empty); in unit B, 结对三.
func seedExports(t *testing.T, e *idEnv) exportFixture {
	t.Helper()
	now := e.now()
	fx := exportFixture{admin: e.login("adminA").AccessToken, viewer: e.login("viewerA").AccessToken, now: now, code: creditCode(1),
		visit1: now.Add(-2 * time.Hour), visit2: now.Add(-time.Hour), issue1: now.Add(-2 * time.Hour), issue2: now.Add(-time.Hour),
		dispatched: now.Add(-time.Hour), due: now.Add(-30 * time.Minute), completed: now.Add(-time.Hour)}
	e.create(t, "/v1/counterparties", fx.admin, map[string]any{"kind": "enterprise", "name": "甲科技有限公司", "credit_code": fx.code, "org_unit": "unitA",
		"industry": "软件", "address": "南京市玄武区 1 号", "contacts": []map[string]any{{"name": "张三", "title": "总经理"}, {"name": "李四"}}, "note": "重点企业"})
	fx.comm = e.create(t, "/v1/counterparties", fx.admin, map[string]any{"kind": "community", "name": "幸福社区", "org_unit": "unitA"})
	fx.p1 = e.create(t, "/v1/pairings", fx.admin, map[string]any{"name": "结对一", "status": "active", "branches": []string{"unitA"},
		"counterparties": []string{fx.code, fx.comm}, "officers": []map[string]any{{"user_id": "u-officerA", "primary": true}}, "starts_on": "2026-03-01"})
	fx.p2 = e.create(t, "/v1/pairings", fx.admin, map[string]any{"name": "结对二", "branches": []string{"unitA"}, "counterparties": []string{fx.code}})
	adminB := e.login("adminB").AccessToken
	commB := e.create(t, "/v1/counterparties", adminB, map[string]any{"kind": "community", "name": "B 社区", "org_unit": "unitB"})
	e.create(t, "/v1/pairings", adminB, map[string]any{"name": "结对三", "status": "active", "branches": []string{"unitB"}, "counterparties": []string{commB},
		"officers": []map[string]any{{"user_id": "u-officerB", "primary": true}}})

	officer := pairing.Principal{UserID: "u-officerA", Role: pairing.Officer, OrgPath: e.units["A"].Path}
	admin := pairing.Principal{UserID: "u-adminA", Role: pairing.Admin, OrgPath: e.units["A"].Path}
	write := func(p pairing.Principal, collection, id string, fields map[string]any) {
		t.Helper()
		vals, err := jsonValues(fields)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.s.writeAs(t.Context(), p, collection, id, fx.p1, vals, writeOptions{create: true}); err != nil {
			t.Fatalf("write %s/%s: %v", collection, id, err)
		}
	}
	update := func(p pairing.Principal, collection, id string, fields map[string]any) {
		t.Helper()
		vals, _ := jsonValues(fields)
		if _, _, err := e.s.writeAs(t.Context(), p, collection, id, fx.p1, vals, writeOptions{}); err != nil {
			t.Fatalf("update %s/%s: %v", collection, id, err)
		}
	}
	at := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	write(officer, pairing.CollVisits, "v0", map[string]any{"title": "上月走访", "counterparty": fx.code, "officers": []string{"u-officerA"},
		"mode": "onsite", "visited_at": at(now.AddDate(0, 0, -40))})
	write(officer, pairing.CollVisits, "v1", map[string]any{"title": "走访甲科技", "counterparty": fx.code, "officers": []string{"u-officerA"},
		"mode": "onsite", "visited_at": at(fx.visit1), "location": map[string]any{"lat": 32.05, "lng": 118.78, "accuracy_m": 15},
		"participants": []map[string]any{{"name": "张三", "title": "总经理", "org": "甲科技"}}, "notes": "了解用工需求",
		"photos": []map[string]any{{"sha256": strings.Repeat("ab", 32), "size": 1000, "type": "image/jpeg"}}})
	write(officer, pairing.CollVisits, "v2", map[string]any{"title": "电话回访", "counterparty": fx.comm, "officers": []string{"u-officerA"},
		"mode": "phone", "visited_at": at(fx.visit2)})
	update(admin, pairing.CollVisits, "v2", map[string]any{"status": "returned", "return_comment": "请补充照片"})

	write(officer, pairing.CollIssues, "i1", map[string]any{"title": "用工招聘难", "category": "talent", "priority": "urgent",
		"counterparty": fx.code, "raised_by": "u-officerA", "raised_at": at(fx.issue1)})
	write(admin, pairing.CollIssueEvents, "e1", map[string]any{"issue": "i1", "type": "dispatched", "at": at(fx.dispatched),
		"by": "u-adminA", "role": "admin", "handler": "u-officerA", "due": at(fx.due)})
	write(officer, pairing.CollIssues, "i2", map[string]any{"title": "停车难", "category": "policy", "raised_by": "u-officerA", "raised_at": at(fx.issue2)})

	write(admin, pairing.CollProjects, "pr1", map[string]any{"title": "产业对接会", "category": "industry", "status": "approved",
		"owner": "u-officerA", "planned_end": "2026-12-31"})
	update(admin, pairing.CollProjects, "pr1", map[string]any{"status": "in_progress"})
	update(officer, pairing.CollProjects, "pr1", map[string]any{"status": "completed", "completed_at": at(fx.completed)})
	write(officer, pairing.CollMilestones, "m1", map[string]any{"project": "pr1", "title": "发布需求", "order": 1, "done_at": at(now.Add(-2 * time.Hour))})
	write(officer, pairing.CollMilestones, "m2", map[string]any{"project": "pr1", "title": "召开对接会", "order": 2})
	write(officer, pairing.CollProjects, "pr2", map[string]any{"title": "社区义诊", "category": "livelihood", "status": "proposed"})
	return fx
}

// shown is a time as an export shows it: China time, to the minute.
func shown(t time.Time) string { return t.In(readmodel.China).Format("2006-01-02 15:04") }

// download gets an export and checks its status and headers.
func download(t *testing.T, e *idEnv, token, path, wantType, wantName, wantASCII string) []byte {
	t.Helper()
	r := e.call("GET", path, token, nil)
	if r.status != 200 {
		t.Fatalf("GET %s: got %d %s, want 200", path, r.status, r.body)
	}
	if got := r.header.Get("Content-Type"); got != wantType {
		t.Errorf("Content-Type: got %q, want %q", got, wantType)
	}
	wantCD := `attachment; filename="` + wantASCII + `"; filename*=UTF-8''` + url.PathEscape(wantName)
	if got := r.header.Get("Content-Disposition"); got != wantCD {
		t.Errorf("Content-Disposition: got %s, want %s", got, wantCD)
	}
	return r.body
}

// sheetRows opens an exported workbook and returns the rows of its only
// sheet, each padded to the header's width.
func sheetRows(t *testing.T, b []byte, wantSheet string) [][]string {
	t.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("open the export: %v", err)
	}
	defer f.Close()
	if got := f.GetSheetList(); !slices.Equal(got, []string{wantSheet}) {
		t.Fatalf("sheets: got %q, want %q", got, wantSheet)
	}
	rows, err := f.GetRows(wantSheet)
	if err != nil || len(rows) == 0 {
		t.Fatalf("rows: %v (%d rows)", err, len(rows))
	}
	for i := range rows {
		for len(rows[i]) < len(rows[0]) {
			rows[i] = append(rows[i], "")
		}
	}
	return rows
}

func compareRows(t *testing.T, got, want [][]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d rows, want %d:\n%q", len(got), len(want), got)
	}
	for i := range min(len(got), len(want)) {
		if !slices.Equal(got[i], want[i]) {
			t.Errorf("row %d:\ngot  %q\nwant %q", i+1, got[i], want[i])
		}
	}
}

func TestExports(t *testing.T) {
	e := newImportExportEnv(t)
	fx := seedExports(t, e)
	from, to := readmodel.MonthOf(fx.visit1).String(), readmodel.MonthOf(fx.visit2).String()
	period, name := from, from
	if from != to {
		period, name = from+" 至 "+to, from+"_"+to
	}
	q := "from=" + from + "&to=" + to

	t.Run("pairings", func(t *testing.T) {
		b := download(t, e, fx.viewer, "/v1/exports/pairings?"+q, mimeXLSX, "结对-"+name+".xlsx", "pairings-"+name+".xlsx")
		compareRows(t, sheetRows(t, b, "结对"), [][]string{
			{"结对名称", "状态", "机关支部", "共建单位", "联络员", "开始日期", "结束日期", "统计期间", "走访次数", "走访覆盖率(%)", "诉求提出数",
				"诉求办结数", "响应率(%)", "解决率(%)", "满意率(%)", "超期诉求数", "完成项目数", "计划项目数"},
			{"结对一", "进行中", "单位 A", "甲科技有限公司、幸福社区", "officerA", "2026-03-01", "", period, "2", "100", "2", "0", "0", "", "", "1", "1", "1"},
			{"结对二", "草稿", "单位 A", "甲科技有限公司", "", "", "", period, "0", "0", "0", "0", "", "", "", "0", "0", "0"},
		})
		// The filters of the pairing list apply.
		b = download(t, e, fx.admin, "/v1/exports/pairings?status=active", mimeXLSX, "结对-"+shown(fx.now)[:10]+".xlsx", "pairings-"+shown(fx.now)[:10]+".xlsx")
		rows := sheetRows(t, b, "结对")
		if len(rows) != 2 || rows[1][0] != "结对一" || rows[1][7] != "全部" || rows[1][8] != "3" {
			t.Errorf("status=active, all months: got %q, want 结对一 only, period 全部, 3 visits", rows)
		}
	})

	t.Run("visits", func(t *testing.T) {
		b := download(t, e, fx.admin, "/v1/exports/visits?"+q, mimeXLSX, "走访记录-"+name+".xlsx", "visits-"+name+".xlsx")
		compareRows(t, sheetRows(t, b, "走访记录"), [][]string{
			{"结对", "走访对象", "主题", "联络员", "走访方式", "走访时间", "服务器接收时间", "位置", "参加人员", "走访记录", "照片数", "状态", "退回意见"},
			{"结对一", "幸福社区", "电话回访", "officerA", "电话联系", shown(fx.visit2), shown(fx.now), "", "", "", "0", "已退回", "请补充照片"},
			{"结对一", "甲科技有限公司", "走访甲科技", "officerA", "实地走访", shown(fx.visit1), shown(fx.now), "32.050000, 118.780000 (±15 m)",
				"张三（总经理，甲科技）", "了解用工需求", "1", "已提交", ""},
		})
	})

	issueHeader := []string{"结对", "提出单位", "诉求标题", "类别", "紧急程度", "状态", "提出时间", "交办时间", "承办人", "办理期限", "按时签收",
		"答复时间", "办理结果", "办结时间", "退回次数", "重新办理次数", "是否超期"}
	issueRows := [][]string{issueHeader,
		{"结对一", "甲科技有限公司", "用工招聘难", "人才用工", "紧急", "已交办", shown(fx.issue1), shown(fx.dispatched), "officerA", shown(fx.due),
			"", "", "", "", "0", "0", "是"},
		{"结对一", "", "停车难", "政策咨询", "一般", "已提出", shown(fx.issue2), "", "", "", "", "", "", "", "0", "0", "否"},
	}
	t.Run("issues", func(t *testing.T) {
		b := download(t, e, fx.viewer, "/v1/exports/issues?"+q, mimeXLSX, "诉求-"+name+".xlsx", "issues-"+name+".xlsx")
		compareRows(t, sheetRows(t, b, "诉求"), issueRows)
	})

	t.Run("issues as CSV", func(t *testing.T) {
		b := download(t, e, fx.viewer, "/v1/exports/issues?format=csv&"+q, "text/csv; charset=utf-8", "诉求-"+name+".csv", "issues-"+name+".csv")
		body, ok := bytes.CutPrefix(b, []byte("\xEF\xBB\xBF"))
		if !ok {
			t.Fatalf("got % x…, want the UTF-8 BOM first", b[:min(3, len(b))])
		}
		got, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		compareRows(t, got, issueRows)
	})

	t.Run("projects", func(t *testing.T) {
		b := download(t, e, fx.admin, "/v1/exports/projects", mimeXLSX, "实事项目-"+shown(fx.now)[:10]+".xlsx", "projects-"+shown(fx.now)[:10]+".xlsx")
		compareRows(t, sheetRows(t, b, "实事项目"), [][]string{
			{"结对", "共建单位", "项目名称", "项目类别", "状态", "负责人", "计划完成", "完成时间", "审核验收时间", "已完成节点数", "节点总数"},
			{"结对一", "甲科技有限公司、幸福社区", "产业对接会", "产业发展", "已完成(待验收)", "officerA", "2026-12-31", shown(fx.completed), "", "1", "2"},
			{"结对一", "甲科技有限公司、幸福社区", "社区义诊", "民生服务", "待立项", "", "", "", "", "0", "0"},
		})
	})

	t.Run("date-only columns are date cells", func(t *testing.T) {
		// 开始日期 and 计划完成 are numbers (date serials) shown yyyy-mm-dd,
		// so a spreadsheet filters and compares them as dates.
		for _, tt := range []struct{ path, sheet, cell string }{
			{"/v1/exports/pairings", "结对", "F2"},
			{"/v1/exports/projects", "实事项目", "G2"},
		} {
			r := e.call("GET", tt.path, fx.admin, nil)
			f, err := excelize.OpenReader(bytes.NewReader(r.body))
			if err != nil {
				t.Fatalf("%s: %v", tt.path, err)
			}
			raw, _ := f.GetCellValue(tt.sheet, tt.cell, excelize.Options{RawCellValue: true})
			shownAs, _ := f.GetCellValue(tt.sheet, tt.cell)
			id, _ := f.GetCellStyle(tt.sheet, tt.cell)
			style, _ := f.GetStyle(id)
			f.Close()
			if _, err := strconv.Atoi(raw); err != nil || style == nil || style.CustomNumFmt == nil || *style.CustomNumFmt != "yyyy-mm-dd" {
				t.Errorf("%s %s: got raw %q, style %+v; want a date serial formatted yyyy-mm-dd (shown %q)", tt.path, tt.cell, raw, style, shownAs)
			}
		}
	})

	t.Run("counterparties", func(t *testing.T) {
		// A name a spreadsheet would take for a formula stays text.
		r := e.call("POST", "/v1/counterparties", fx.admin, map[string]any{"fields": map[string]any{"kind": "community",
			"name": `=HYPERLINK("http://x","点我")`, "org_unit": "unitA"}})
		if r.status != 201 {
			t.Fatalf("create: got %d %s, want 201", r.status, r.body)
		}
		day := shown(fx.now)[:10]
		header := []string{"类型", "名称", "统一社会信用代码", "管理单位", "地址", "行业", "联系人", "备注", "所在结对"}
		want := [][]string{header,
			{"社区", `=HYPERLINK("http://x","点我")`, "", "单位 A", "", "", "", "", ""},
			{"社区", "幸福社区", "", "单位 A", "", "", "", "", "结对一"},
			{"企业", "甲科技有限公司", fx.code, "单位 A", "南京市玄武区 1 号", "软件", "张三（总经理）、李四", "重点企业", "结对一、结对二"},
		}
		b := download(t, e, fx.viewer, "/v1/exports/counterparties", mimeXLSX, "共建单位-"+day+".xlsx", "counterparties-"+day+".xlsx")
		compareRows(t, sheetRows(t, b, "共建单位"), want)
		f, _ := excelize.OpenReader(bytes.NewReader(b))
		if formula, _ := f.GetCellFormula("共建单位", "B2"); formula != "" {
			t.Errorf("B2: got formula %q, want text", formula)
		}
		f.Close()

		// The list's filters apply; CSV neutralizes the formula.
		b = download(t, e, fx.admin, "/v1/exports/counterparties?format=csv&kind=community", "text/csv; charset=utf-8", "共建单位-"+day+".csv", "counterparties-"+day+".csv")
		got, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(b, []byte("\xEF\xBB\xBF")))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		compareRows(t, got, [][]string{header,
			{"社区", `'=HYPERLINK("http://x","点我")`, "", "单位 A", "", "", "", "", ""},
			{"社区", "幸福社区", "", "单位 A", "", "", "", "", "结对一"},
		})
		b = download(t, e, fx.admin, "/v1/exports/counterparties?search=甲科技", mimeXLSX, "共建单位-"+day+".xlsx", "counterparties-"+day+".xlsx")
		compareRows(t, sheetRows(t, b, "共建单位"), [][]string{header, want[3]})

		// What it exports, the import reads: its sheet and columns are the template's.
		rows, err := sheets.Read(bytes.NewReader(b), counterpartySchema, 10, 1<<20)
		if err != nil || len(rows) != 1 || rows[0].Cells["credit_code"] != fx.code || rows[0].Cells["contacts"] != "张三（总经理）、李四" {
			t.Errorf("read back as an import: got %v, %v", rows, err)
		}
	})

	t.Run("refused", func(t *testing.T) {
		officer, contact := e.login("officerA").AccessToken, e.login("contactA").AccessToken
		for _, path := range []string{"/v1/exports/pairings", "/v1/exports/visits", "/v1/exports/issues", "/v1/exports/projects", "/v1/exports/counterparties"} {
			for who, token := range map[string]string{"officerA": officer, "contactA": contact} {
				if r := e.call("GET", path, token, nil); r.status != 403 {
					t.Errorf("GET %s as %s: got %d %s, want 403", path, who, r.status, r.body)
				}
			}
			if r := e.call("GET", path+"?format=pdf", fx.admin, nil); r.status != 400 || !strings.Contains(string(r.body), "xlsx or csv") {
				t.Errorf("GET %s?format=pdf: got %d %s, want 400 naming the formats", path, r.status, r.body)
			}
			if path == "/v1/exports/counterparties" {
				continue // no period
			}
			if r := e.call("GET", path+"?from=2026-13", fx.admin, nil); r.status != 400 {
				t.Errorf("GET %s?from=2026-13: got %d %s, want 400", path, r.status, r.body)
			}
		}
	})
}

// TestPairingsReportFiguresPerPairing: each row of GET /v1/reports/pairings
// carries, byte for byte, what Figures of its pairing alone encodes to
// (the report reads them all in one pass, FiguresEach), whatever the sort;
// the fixture's pairings have different figures, so a row given another's
// shows, and none is dropped.
func TestPairingsReportFiguresPerPairing(t *testing.T) {
	e := newImportExportEnv(t)
	fx := seedExports(t, e)
	from, to := readmodel.MonthOf(fx.visit1)-1, readmodel.MonthOf(fx.now)
	q := "from=" + from.String() + "&to=" + to.String()
	for _, sort := range []string{"", "visits", "overdue"} {
		var got struct {
			Pairings []struct {
				Pairing struct {
					ID string `json:"id"`
				} `json:"pairing"`
				Figures json.RawMessage `json:"figures"`
			} `json:"pairings"`
			Total int `json:"total"`
		}
		r := e.call("GET", "/v1/reports/pairings?"+q+"&sort="+sort, fx.viewer, nil)
		if r.status != 200 {
			t.Fatalf("sort %q: got %d %s", sort, r.status, r.body)
		}
		r.json(t, &got)
		var ids []string
		distinct := map[string]bool{}
		for _, row := range got.Pairings {
			ids = append(ids, row.Pairing.ID)
			want, err := marshalJSON(e.s.ledger.Figures([]string{row.Pairing.ID}, from, to+1, e.s.now()))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(row.Figures, want) {
				t.Errorf("sort %q, pairing %s:\ngot  %s\nwant %s", sort, row.Pairing.ID, row.Figures, want)
			}
			distinct[string(row.Figures)] = true
		}
		slices.Sort(ids)
		if want := []string{fx.p1, fx.p2}; !slices.Equal(ids, slices.Sorted(slices.Values(want))) || got.Total != 2 {
			t.Errorf("sort %q: got pairings %v (total %d), want %v", sort, ids, got.Total, want)
		}
		if len(distinct) != 2 {
			t.Errorf("sort %q: the pairings' figures are alike: a swap would pass unseen", sort)
		}
	}
}
