package web_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/pairsync/pairsync/mobile"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/syncproto"
)

// The administrators' console's data: a second branch and its own
// officers, so the field journeys (officerA, officerB, contactA in p1) see
// nothing new. Two branches under the root, six pairings:
//
//	p1       unitA  officerA, officerB  cp-A  (the field journeys')
//	p2, p3   unitA  officerC            cp-B, cp-C
//	p4…p6    unitB  officerD            cp-D, cp-E, cp-F
//
// with visits over the last three months (one with photos), issues in
// most states (overdue ones, one raised for the console to dispatch, one in
// arbitration after two bounces, one confirmed solved), projects in most
// states (one completed and accepted by its contact, for the console to
// verify) and ratings. Everything is committed through the store as phones'
// and the server's writes are (records of a pairing scope, syncproto
// versions), except the photos, uploaded over HTTP.
type consoleSeed struct {
	admin          string // the root unit's administrator
	dispatchIssue  string // raised: the console dispatches it to officerC
	dispatchTo     string
	verifyProject  string // completed and accepted: the console verifies it
	returnVisit    string // the console returns it
	pairing        string // the pairing page the journey opens
	staleDevice    string // officerD's phone, last synced 3 days ago
	officerDB      string // officerC's mobile engine (its bolt file)
	officerPairing string // the pairing of dispatchIssue
	importFile     string // an .xlsx of counterparties: one row imports, one is refused
}

func seedConsole(t *testing.T, w *world) consoleSeed {
	t.Helper()
	ctx := t.Context()
	now := time.Now().UTC()
	seed := consoleSeed{admin: "adminRoot", dispatchIssue: "i-p3-raised", dispatchTo: "u-officerC", verifyProject: "pj-p2-done",
		returnVisit: "v-p2-2", pairing: "p2", staleDevice: "d-officerD-old", officerPairing: "p3"}

	if _, err := w.db.CreateOrgUnit(ctx, storage.OrgUnit{ID: "unitB", ParentID: "root", Name: "市发展改革委机关第二党支部", Kind: "branch"}); err != nil {
		t.Fatal(err)
	}
	phc := mustUser(t, w, "adminA").PasswordHash
	for _, u := range []storage.User{
		{ID: "u-adminRoot", Username: "adminRoot", Name: "刘书记", Role: "admin", OrgUnit: "root"},
		{ID: "u-viewerRoot", Username: "viewerRoot", Name: "陈部长", Role: "viewer", OrgUnit: "root"},
		{ID: "u-officerC", Username: "officerC", Name: "赵敏", Role: "officer", OrgUnit: "unitA"},
		{ID: "u-officerD", Username: "officerD", Name: "孙磊", Role: "officer", OrgUnit: "unitB"},
		{ID: "u-contactB", Username: "contactB", Name: "周总", Role: "contact", OrgUnit: "unitA", Counterparty: "cp-B"},
		{ID: "u-contactD", Username: "contactD", Name: "吴主任", Role: "contact", OrgUnit: "unitB", Counterparty: "cp-D"},
	} {
		u.PasswordHash = phc
		u.CreatedAt, u.UpdatedAt = now, now
		if _, err := w.db.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	d, err := w.db.CreateDevice(ctx, storage.Device{ID: seed.staleDevice, UserID: "u-officerD", Name: "孙磊的手机", CreatedAt: now.Add(-30 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	d.LastSeen = now.Add(-74 * time.Hour)
	if _, err := w.db.UpdateDevice(ctx, d); err != nil {
		t.Fatal(err)
	}

	dw := &syncproto.Writer{Replica: "srv-consoletest"}
	for _, cp := range []struct{ id, name, kind, unit string }{
		{"cp-B", "南京江宁智能装备有限公司", "enterprise", "unitA"},
		{"cp-C", "鼓楼区湖南路社区", "community", "unitA"},
		{"cp-D", "苏州工业园区新材料有限公司", "enterprise", "unitB"},
		{"cp-E", "无锡锡山物流有限公司", "enterprise", "unitB"},
		{"cp-F", "秦淮区夫子庙社区", "community", "unitB"},
	} {
		w.dirSet(t, dw, "counterparties", cp.id, map[string]any{"name": cp.name, "kind": cp.kind, "org_unit": cp.unit})
	}
	pairings := []struct{ id, name, unit, cp, officer, contact string }{
		{"p2", "税务局一支部 ↔ 江宁智能装备", "unitA", "cp-B", "u-officerC", "u-contactB"},
		{"p3", "税务局一支部 ↔ 湖南路社区", "unitA", "cp-C", "u-officerC", ""},
		{"p4", "发改委二支部 ↔ 园区新材料", "unitB", "cp-D", "u-officerD", "u-contactD"},
		{"p5", "发改委二支部 ↔ 锡山物流", "unitB", "cp-E", "u-officerD", ""},
		{"p6", "发改委二支部 ↔ 夫子庙社区", "unitB", "cp-F", "u-officerD", ""},
	}
	for _, p := range pairings {
		f := map[string]any{"name": p.name, "status": "active", "branches": []string{p.unit}, "counterparties": []string{p.cp},
			"officers": []map[string]any{{"user_id": p.officer, "primary": true}}, "starts_on": now.AddDate(0, -6, 0).Format(time.DateOnly)}
		if p.contact != "" {
			f["contacts"] = []string{p.contact}
		}
		w.dirSet(t, dw, "pairings", p.id, f)
	}

	photoA, photoB := testPNG(1), testPNG(2)
	// Records of a pairing, committed in order: each one's HLC follows the
	// one before (issue events are ordered by them).
	rw := &syncproto.Writer{Replica: "phone-consoletest"}
	batch := map[string][]storage.Put{}
	var order []string
	put := func(coll, id, pid string, fields map[string]any) {
		t.Helper()
		values := map[string]json.RawMessage{}
		for k, v := range fields {
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			values[k] = b
		}
		next, _, err := rw.Set(syncproto.NewRecord(coll, id, pid), values, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		data, err := syncproto.Encode(next)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := batch[pid]; !ok {
			order = append(order, pid)
		}
		batch[pid] = append(batch[pid], storage.Put{Key: storage.Key{Collection: coll, ID: id}, Data: data})
	}
	ts := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339) }
	day := 24 * time.Hour
	loc := map[string]any{"lat": 32.0603, "lng": 118.7969, "accuracy_m": 12}
	visit := func(id, pid, officer, title string, ago time.Duration, photos ...photoFile) {
		f := map[string]any{"mode": "onsite", "visited_at": ts(-ago), "officers": []string{officer}, "title": title,
			"notes": "走访了解企业生产经营情况，收集融资、用工和政策诉求。", "location": loc, "recorded_at": ts(-ago), "received_at": ts(-ago + time.Hour)}
		if len(photos) > 0 {
			var m []map[string]any
			for _, p := range photos {
				m = append(m, map[string]any{"sha256": p.sha, "size": len(p.data), "type": "image/png", "width": p.w, "height": p.h, "taken_at": ts(-ago)})
			}
			f["photos"] = m
		}
		put("visits", id, pid, f)
	}
	issue := func(id, pid, officer, title, category string, ago time.Duration) {
		put("issues", id, pid, map[string]any{"title": title, "category": category, "raised_by": officer, "raised_at": ts(-ago),
			"description": "企业反映：" + title})
	}
	event := func(id, pid, issueID, typ, by, role string, at time.Duration, extra map[string]any) {
		f := map[string]any{"issue": issueID, "type": typ, "at": ts(at), "by": by, "role": role}
		for k, v := range extra {
			f[k] = v
		}
		put("issue_events", id, pid, f)
	}
	dispatch := func(id, pid, issueID, handler string, at, due time.Duration) {
		event(id, pid, issueID, "dispatched", "u-adminRoot", "admin", at, map[string]any{"handler": handler, "handler_name": map[string]string{
			"u-officerC": "赵敏", "u-officerD": "孙磊"}[handler], "due": ts(due)})
	}

	// p2: three visits (one with two photos, one the console returns), an
	// overdue issue, a solved one confirmed and rated, a project completed
	// and accepted (to verify), one in progress with a milestone and its
	// evidence.
	visit("v-p2-1", "p2", "u-officerC", "了解智能装备出口情况", 62*day, photoA, photoB)
	visit(seed.returnVisit, "p2", "u-officerC", "走访研发中心", 31*day)
	visit("v-p2-3", "p2", "u-officerC", "回访融资对接进展", 2*day)
	issue("i-p2-overdue", "p2", "u-officerC", "出口退税审核周期长", "tax", 20*day)
	dispatch("e-p2-o-d", "p2", "i-p2-overdue", "u-officerC", -20*day+time.Hour, -5*day)
	issue("i-p2-solved", "p2", "u-officerC", "希望对接银行授信", "financing", 30*day)
	dispatch("e-p2-s-d", "p2", "i-p2-solved", "u-officerC", -30*day+time.Hour, -15*day)
	event("e-p2-s-s", "p2", "i-p2-solved", "signed", "u-officerC", "officer", -30*day+2*time.Hour, nil)
	event("e-p2-s-r", "p2", "i-p2-solved", "responded", "u-officerC", "officer", -25*day, map[string]any{"resolution": "solved", "note": "已协调两家银行授信"})
	event("e-p2-s-c", "p2", "i-p2-solved", "confirmed", "u-contactB", "contact", -24*day, map[string]any{"response": "e-p2-s-r"})
	put("ratings", "r-p2-1", "p2", map[string]any{"target_kind": "issue", "target": "i-p2-solved", "level": 5, "comment": "办理及时，非常满意", "by": "u-contactB", "at": ts(-24 * day)})
	put("projects", seed.verifyProject, "p2", map[string]any{"title": "智能装备产业链对接会", "category": "industry", "status": "completed", "owner": "u-officerC",
		"completed_at": ts(-10 * day), "contact_accepted_at": ts(-9 * day), "contact_accepted_by": "u-contactB", "planned_end": now.Add(-10 * day).Format(time.DateOnly)})
	put("projects", "pj-p2-run", "p2", map[string]any{"title": "青年人才公寓申报辅导", "category": "talent_tech", "status": "in_progress", "owner": "u-officerC"})
	put("milestones", "m-p2-1", "p2", map[string]any{"project": "pj-p2-run", "title": "摸排人才需求", "order": 1, "done_at": ts(-8 * day),
		"evidence": []map[string]any{{"sha256": photoB.sha, "size": len(photoB.data), "type": "image/png", "width": photoB.w, "height": photoB.h}}})
	put("milestones", "m-p2-2", "p2", map[string]any{"project": "pj-p2-run", "title": "提交申报材料", "order": 2, "due": now.Add(20 * day).Format(time.DateOnly)})

	// p3: a visit, an issue just raised (the console dispatches it), one
	// bounced twice (arbitration), a project proposed, one verified and rated.
	visit("v-p3-1", "p3", "u-officerC", "社区党建共建座谈", 5*day)
	issue(seed.dispatchIssue, "p3", "u-officerC", "社区养老服务站场地不足", "livelihood", 3*day)
	issue("i-p3-arb", "p3", "u-officerC", "老旧小区加装电梯审批", "approval", 12*day)
	dispatch("e-p3-a-d1", "p3", "i-p3-arb", "u-officerC", -12*day+time.Hour, 5*day)
	event("e-p3-a-b1", "p3", "i-p3-arb", "bounced", "u-officerC", "officer", -11*day, map[string]any{"reason": "不属于本单位职责"})
	dispatch("e-p3-a-d2", "p3", "i-p3-arb", "u-officerC", -10*day, 5*day)
	event("e-p3-a-b2", "p3", "i-p3-arb", "bounced", "u-officerC", "officer", -9*day, map[string]any{"reason": "需住建部门牵头"})
	put("projects", "pj-p3-new", "p3", map[string]any{"title": "社区党群服务中心共建", "category": "party_building", "status": "proposed"})
	put("projects", "pj-p3-ver", "p3", map[string]any{"title": "老年助餐点共建", "category": "livelihood", "status": "verified", "owner": "u-officerC",
		"completed_at": ts(-40 * day), "contact_accepted_at": ts(-39 * day), "verified_at": ts(-35 * day), "verified_by": "u-adminRoot"})
	put("ratings", "r-p3-1", "p3", map[string]any{"target_kind": "project", "target": "pj-p3-ver", "level": 3, "comment": "基本满意", "by": "u-officerC", "at": ts(-34 * day)})

	// p4: two visits, an issue signed and not yet due, one responded (awaiting
	// the contact), a project approved and one completed but not accepted.
	visit("v-p4-1", "p4", "u-officerD", "新材料项目用地协调", 45*day)
	visit("v-p4-2", "p4", "u-officerD", "回访企业用工需求", 6*day)
	issue("i-p4-signed", "p4", "u-officerD", "高新技术企业认定辅导", "technology", 4*day)
	dispatch("e-p4-s-d", "p4", "i-p4-signed", "u-officerD", -4*day+time.Hour, 16*day)
	event("e-p4-s-s", "p4", "i-p4-signed", "signed", "u-officerD", "officer", -4*day+3*time.Hour, nil)
	issue("i-p4-resp", "p4", "u-officerD", "招工难，希望举办专场招聘会", "talent", 15*day)
	dispatch("e-p4-r-d", "p4", "i-p4-resp", "u-officerD", -15*day+time.Hour, -5*day)
	event("e-p4-r-r", "p4", "i-p4-resp", "responded", "u-officerD", "officer", -6*day, map[string]any{"resolution": "partly", "note": "已联系人社部门"})
	put("ratings", "r-p4-1", "p4", map[string]any{"target_kind": "issue", "target": "i-p4-resp", "level": 4, "by": "u-contactD", "at": ts(-5 * day)})
	put("projects", "pj-p4-app", "p4", map[string]any{"title": "新材料中试平台共建", "category": "industry", "status": "approved"})
	put("projects", "pj-p4-claim", "p4", map[string]any{"title": "企业党建指导员进驻", "category": "party_building", "status": "completed", "completed_at": ts(-3 * day)})

	// p5: a visit and an issue long overdue; a project deferred.
	visit("v-p5-1", "p5", "u-officerD", "物流园区走访", 20*day)
	issue("i-p5-late", "p5", "u-officerD", "物流车辆通行证办理", "approval", 50*day)
	dispatch("e-p5-l-d", "p5", "i-p5-late", "u-officerD", -50*day+time.Hour, -40*day)
	put("projects", "pj-p5-def", "p5", map[string]any{"title": "冷链物流标准化改造", "category": "industry", "status": "deferred", "status_reason": "企业资金未到位"})

	// p6: no visit (coverage), a project cancelled, a poor rating.
	put("projects", "pj-p6-can", "p6", map[string]any{"title": "社区文化长廊", "category": "governance", "status": "cancelled", "status_reason": "场地调整"})
	put("ratings", "r-p6-1", "p6", map[string]any{"target_kind": "project", "target": "pj-p6-can", "level": 2, "comment": "沟通不够", "by": "u-officerD", "at": ts(-7 * day)})

	for _, pid := range order {
		if _, err := w.db.Commit(ctx, storage.Batch{Pairing: pid, Puts: batch[pid]}); err != nil {
			t.Fatal(err)
		}
	}
	// The photos' bytes, as a phone uploads them after the records.
	tok := login(t, w.url, seed.admin)
	for _, p := range []photoFile{photoA, photoB} {
		req, _ := http.NewRequestWithContext(ctx, "PUT", w.url+"/v1/photos/"+p.sha, bytes.NewReader(p.data))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "image/png")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Fatalf("upload photo: %d %s", resp.StatusCode, body)
		}
	}
	seed.officerDB = filepath.Join(t.TempDir(), "officerC.db")
	seed.importFile = importWorkbook(t)
	return seed
}

// importWorkbook writes the 共建单位 sheet of the import template with two
// rows: a community that imports, and an enterprise whose 统一社会信用代码
// has a wrong check character (refused, with its row and column).
func importWorkbook(t *testing.T) string {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetSheetName("Sheet1", "共建单位"); err != nil {
		t.Fatal(err)
	}
	for r, row := range [][]any{
		{"类型", "名称", "统一社会信用代码", "管理单位", "地址", "行业"},
		{"社区", "玄武区梅园新村社区", "", "unitA", "南京市玄武区长江路", ""},
		{"企业", "南京某某机电有限公司", "91320100MA1ABCDE10", "unitA", "", "制造业"},
	} {
		if err := f.SetSheetRow("共建单位", fmt.Sprintf("A%d", r+1), &row); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "共建单位导入.xlsx")
	if err := f.SaveAs(path); err != nil {
		t.Fatal(err)
	}
	return path
}

type photoFile struct {
	sha  string
	data []byte
	w, h int
}

// testPNG is a 640×480 picture, coloured by seed.
func testPNG(seed int) photoFile {
	const w, h = 640, 480
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x*255/w + seed*70), uint8(y * 255 / h), uint8(seed*90 + (x ^ y)), 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic(err)
	}
	sum := sha256.Sum256(b.Bytes())
	return photoFile{sha: hex.EncodeToString(sum[:]), data: b.Bytes(), w: w, h: h}
}

// login signs in over REST and returns the access token.
func login(t testing.TB, url, user string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": user, "password": password})
	resp, err := http.Post(url+"/v1/auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil || tr.AccessToken == "" {
		t.Fatalf("login %s: %d %v", user, resp.StatusCode, err)
	}
	return tr.AccessToken
}

// consoleJourneys runs e2e/console.test.mjs at 1440×900 as the root unit's
// administrator; officerC's phone (package mobile's engine) syncs before
// and after, and must hold the dispatch the console made.
func consoleJourneys(t *testing.T, w *world, seed consoleSeed, env []string) {
	ctx := t.Context()
	phone, err := mobile.Open(seed.officerDB, mobile.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer phone.Close()
	if err := phone.SignIn(ctx, w.url, "officerC", password, "赵敏的手机"); err != nil {
		t.Fatal(err)
	}
	if _, err := phone.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := dispatchesOf(t, phone, seed); len(got) != 0 {
		t.Fatalf("before the console: officerC's phone holds dispatches %v of %s, want none", got, seed.dispatchIssue)
	}
	node(t, append(env,
		"PAIRSYNC_CONSOLE_ADMIN="+seed.admin,
		"PAIRSYNC_DISPATCH_ISSUE="+seed.dispatchIssue,
		"PAIRSYNC_DISPATCH_TO="+seed.dispatchTo,
		"PAIRSYNC_VERIFY_PROJECT="+seed.verifyProject,
		"PAIRSYNC_RETURN_VISIT="+seed.returnVisit,
		"PAIRSYNC_CONSOLE_PAIRING="+seed.pairing,
		"PAIRSYNC_STALE_DEVICE="+seed.staleDevice,
		"PAIRSYNC_FRESH_DEVICE="+phone.DeviceID(),
		"PAIRSYNC_IMPORT_XLSX="+seed.importFile,
	), "--test", "--test-concurrency=1", "e2e/console.test.mjs")

	// The officer's phone receives the console's dispatch on its next sync.
	if _, err := phone.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	got := dispatchesOf(t, phone, seed)
	if len(got) != 1 || got[0] != seed.dispatchTo {
		t.Fatalf("after the console dispatched %s: officerC's phone holds dispatches to %v, want one to %s", seed.dispatchIssue, got, seed.dispatchTo)
	}
	t.Logf("officerC's phone received the console's dispatch of %s to %s on its next sync", seed.dispatchIssue, got[0])
}

// dispatchesOf lists the handlers of the dispatched events of the seed's
// issue that the phone holds.
func dispatchesOf(t *testing.T, phone *mobile.Engine, seed consoleSeed) []string {
	t.Helper()
	evs, err := phone.List(seed.officerPairing, "issue_events")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range evs {
		var issue, typ, handler string
		_ = json.Unmarshal(r.Value("issue"), &issue)
		_ = json.Unmarshal(r.Value("type"), &typ)
		_ = json.Unmarshal(r.Value("handler"), &handler)
		if issue == seed.dispatchIssue && typ == "dispatched" {
			out = append(out, handler)
		}
	}
	return out
}

// TestConsoleOverviewLoad measures, in Chromium, the console's overview
// with 100,000 visits in 2,000 pairings stored: from navigation to the
// figures on screen. Opt-in (PAIRSYNC_CONSOLE_BIG=1): seeding takes a
// while; make test does not run it.
func TestConsoleOverviewLoad(t *testing.T) {
	if os.Getenv("PAIRSYNC_CONSOLE_BIG") == "" {
		t.Skip("skipping: set PAIRSYNC_CONSOLE_BIG=1 to measure the overview with 100,000 visits and 2,000 pairings")
	}
	if raceDetector {
		t.Skip("skipping under the race detector: it would measure the detector")
	}
	need(t, exists(chromium), "Chromium is not installed at "+chromium)
	need(t, exists("node_modules/playwright-core"), "mobile/web's npm packages are not installed (npm ci)")
	need(t, exists("dist/index.html"), "the web app is not built (make web)")
	w := newWorld(t)
	ctx := t.Context()
	const pairings, visitsPer, issuesPer = 2000, 50, 5
	now := time.Now().UTC()
	start := time.Now()
	if _, err := w.db.CreateUser(ctx, storage.User{ID: "u-adminRoot", Username: "adminRoot", Name: "刘书记", Role: "admin", OrgUnit: "root",
		PasswordHash: mustUser(t, w, "adminA").PasswordHash}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.db.CreateOrgUnit(ctx, storage.OrgUnit{ID: "unitB", ParentID: "root", Name: "市发展改革委机关第二党支部", Kind: "branch"}); err != nil {
		t.Fatal(err)
	}
	dw := &syncproto.Writer{Replica: "srv-big"}
	rw := syncproto.Writer{Replica: "phone-big"}
	enc := func(coll, id, pid string, f map[string]any) storage.Put {
		values := map[string]json.RawMessage{}
		for k, v := range f {
			b, _ := json.Marshal(v)
			values[k] = b
		}
		next, _, err := rw.Set(syncproto.NewRecord(coll, id, pid), values, now)
		if err != nil {
			t.Fatal(err)
		}
		data, err := syncproto.Encode(next)
		if err != nil {
			t.Fatal(err)
		}
		return storage.Put{Key: storage.Key{Collection: coll, ID: id}, Data: data}
	}
	notes := strings.Repeat("走访企业，了解生产经营情况和融资、用工诉求。", 4)
	var dirPuts []storage.Put
	flushDir := func() {
		if len(dirPuts) == 0 {
			return
		}
		if _, err := w.db.Commit(ctx, storage.Batch{Pairing: "_directory", Puts: dirPuts}); err != nil {
			t.Fatal(err)
		}
		dirPuts = nil
	}
	for p := range pairings {
		pid, cp := fmt.Sprintf("bp%04d", p), fmt.Sprintf("cp-%04d", p)
		unit := []string{"unitA", "unitB"}[p%2]
		for _, r := range []struct {
			coll, id string
			f        map[string]any
		}{
			{"counterparties", cp, map[string]any{"name": "企业 " + cp, "kind": "community", "org_unit": unit}},
			{"pairings", pid, map[string]any{"name": "结对 " + pid, "status": "active", "branches": []string{unit}, "counterparties": []string{cp},
				"officers": []map[string]any{{"user_id": "u-officerA", "primary": true}}}},
		} {
			values := map[string]json.RawMessage{}
			for k, v := range r.f {
				b, _ := json.Marshal(v)
				values[k] = b
			}
			next, _, err := dw.Set(syncproto.NewRecord(r.coll, r.id, "_directory"), values, now)
			if err != nil {
				t.Fatal(err)
			}
			data, _ := syncproto.Encode(next)
			dirPuts = append(dirPuts, storage.Put{Key: storage.Key{Collection: r.coll, ID: r.id}, Data: data})
		}
		if len(dirPuts) >= 1000 {
			flushDir()
		}
	}
	flushDir()
	for p := range pairings {
		pid := fmt.Sprintf("bp%04d", p)
		var puts []storage.Put
		for v := range visitsPer {
			at := now.Add(-time.Duration((v*7+p)%300) * 24 * time.Hour)
			puts = append(puts, enc("visits", fmt.Sprintf("%s-v%02d", pid, v), pid, map[string]any{"mode": "onsite", "visited_at": at.Format(time.RFC3339),
				"officers": []string{"u-officerA"}, "notes": notes, "location": map[string]any{"lat": 32.06, "lng": 118.79, "accuracy_m": 10}}))
		}
		for i := range issuesPer {
			at := now.Add(-time.Duration((i*40+p)%300) * 24 * time.Hour)
			id := fmt.Sprintf("%s-i%d", pid, i)
			puts = append(puts, enc("issues", id, pid, map[string]any{"title": "融资难", "category": "financing", "raised_by": "u-officerA", "raised_at": at.Format(time.RFC3339)}),
				enc("issue_events", id+"-d", pid, map[string]any{"issue": id, "type": "dispatched", "at": at.Add(time.Hour).Format(time.RFC3339), "by": "u-adminA", "role": "admin",
					"handler": "u-officerA", "due": at.Add(10 * 24 * time.Hour).Format(time.RFC3339)}))
		}
		if _, err := w.db.Commit(ctx, storage.Batch{Pairing: pid, Puts: puts}); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("seeded %d pairings, %d visits, %d issues in %s", pairings, pairings*visitsPer, pairings*issuesPer, time.Since(start).Round(time.Millisecond))
	node(t, []string{"PAIRSYNC_URL=" + w.url, "PAIRSYNC_PASSWORD=" + password, "PAIRSYNC_CONSOLE_ADMIN=adminRoot", "CHROMIUM=" + chromium,
		"PAIRSYNC_BIG_VISITS=" + strconv.Itoa(pairings*visitsPer), "PAIRSYNC_SCREENSHOTS=" + filepath.Join("e2e", "screenshots")}, "e2e/bigload.mjs")
}

func mustUser(t *testing.T, w *world, username string) storage.User {
	t.Helper()
	u, err := w.db.UserByLogin(context.Background(), username)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
