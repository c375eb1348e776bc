package server

import (
	"fmt"
	"strings"
	"testing"
)

// TestForeignAnswersAsUnknown (no existence oracles): a route given
// an id in its body or query (org units, users, pairings, devices, issues,
// projects, counterparties) answers for an id outside the caller's scope
// exactly as for an id that does not exist — same status, same body once
// the id itself is blanked — so no answer tells a caller what exists
// elsewhere. (Ids in the path: TestAuthorizationMatrix; references in
// writes: TestReferencesInScope.)
func TestForeignAnswersAsUnknown(t *testing.T) {
	e := newDomainEnv(t)
	pidA, _ := domainFixture(t, e)
	pidB, cpB, _ := fixtureB(t, e)
	var proj recordView
	if r := e.call("POST", "/v1/projects", e.login("adminA").AccessToken, map[string]any{"pairing": pidA, "fields": map[string]any{"title": "A 的项目", "category": "other", "status": "proposed"}}); r.status != 201 {
		t.Fatalf("A's project: got %d %s", r.status, r.body)
	} else {
		r.json(t, &proj)
	}
	all := []string{"adminA", "viewerA", "officerA", "contactA"}
	tokens := map[string]string{}
	for _, u := range []string{"adminA", "viewerA", "officerA", "contactA"} {
		tokens[u] = e.login(u).AccessToken
	}
	n := 0
	uniq := func() string { n++; return fmt.Sprintf("%03d", n) }
	type tc struct {
		name             string
		users            []string
		foreign, unknown string
		call             func(tok, id string) result
	}
	get := func(path string) func(tok, id string) result {
		return func(tok, id string) result { return e.call("GET", strings.ReplaceAll(path, "{id}", id), tok, nil) }
	}
	cases := []tc{
		{"create an org unit under B's unit", all, "unitB", "unit-none", func(tok, id string) result {
			return e.call("POST", "/v1/org-units", tok, map[string]any{"parent_id": id, "name": "新支部" + uniq(), "kind": "branch"})
		}},
		{"move a user to B's unit", all, "unitB", "unit-none", func(tok, id string) result {
			return e.call("PATCH", "/v1/users/u-officerA", tok, map[string]any{"org_unit": id})
		}},
		{"create a project in B's pairing", all, pidB, "p-none", func(tok, id string) result {
			return e.call("POST", "/v1/projects", tok, map[string]any{"pairing": id, "fields": map[string]any{"title": "项目" + uniq(), "category": "other", "status": "proposed"}})
		}},
		{"B's officer as a project's owner", all, "u-officerB", "u-nobody", func(tok, id string) result {
			return e.call("PATCH", "/v1/projects/"+proj.ID, tok, map[string]any{"fields": map[string]any{"owner": id}})
		}},
		{"devices of B's officer", all, "u-officerB", "u-nobody", get("/v1/devices?user={id}")},
		{"users in B's unit", all, "unitB", "unit-none", get("/v1/users?org_unit={id}")},
		{"counterparties of B's unit", all, "unitB", "unit-none", get("/v1/counterparties?org_unit={id}")},
		{"pairings of B's unit", all, "unitB", "unit-none", get("/v1/pairings?org_unit={id}")},
		{"pairings of B's counterparty", all, cpB, "cp-none", get("/v1/pairings?counterparty={id}")},
		{"pairings of B's officer", all, "u-officerB", "u-nobody", get("/v1/pairings?officer={id}")},
		{"visits of B's pairing", all, pidB, "p-none", get("/v1/visits?pairing={id}")},
		{"visits of B's unit", all, "unitB", "unit-none", get("/v1/visits?org_unit={id}")},
		{"visits of B's officer", all, "u-officerB", "u-nobody", get("/v1/visits?officer={id}")},
		{"visits of B's counterparty", all, cpB, "cp-none", get("/v1/visits?counterparty={id}")},
		{"issues of B's pairing", all, pidB, "p-none", get("/v1/issues?pairing={id}")},
		{"issues of B's unit", all, "unitB", "unit-none", get("/v1/issues?org_unit={id}")},
		{"issues of B's officer", all, "u-officerB", "u-nobody", get("/v1/issues?officer={id}")},
		{"projects of B's pairing", all, pidB, "p-none", get("/v1/projects?pairing={id}")},
		{"projects of B's unit", all, "unitB", "unit-none", get("/v1/projects?org_unit={id}")},
		{"overview of B's unit", all, "unitB", "unit-none", get("/v1/reports/overview?org_unit={id}")},
		{"pairings report of B's unit", all, "unitB", "unit-none", get("/v1/reports/pairings?org_unit={id}")},
		{"ratings of B's pairing", all, pidB, "p-none", get("/v1/reports/ratings?pairing={id}")},
		{"ratings of B's unit", all, "unitB", "unit-none", get("/v1/reports/ratings?org_unit={id}")},
		{"figure issues of B's unit", all, "unitB", "unit-none", get("/v1/reports/issues?figure=raised&org_unit={id}")},
		{"export pairings of B's unit", all, "unitB", "unit-none", get("/v1/exports/pairings?format=csv&org_unit={id}")},
		{"export visits of B's pairing", all, pidB, "p-none", get("/v1/exports/visits?format=csv&pairing={id}")},
		{"export issues of B's pairing", all, pidB, "p-none", get("/v1/exports/issues?format=csv&pairing={id}")},
		{"export projects of B's pairing", all, pidB, "p-none", get("/v1/exports/projects?format=csv&pairing={id}")},
		{"export counterparties of B's unit", all, "unitB", "unit-none", get("/v1/exports/counterparties?format=csv&org_unit={id}")},
	}
	for _, c := range cases {
		for _, u := range c.users {
			rf, ru := c.call(tokens[u], c.foreign), c.call(tokens[u], c.unknown)
			got := fmt.Sprintf("%d %s", rf.status, strings.ReplaceAll(string(rf.body), c.foreign, "<id>"))
			want := fmt.Sprintf("%d %s", ru.status, strings.ReplaceAll(string(ru.body), c.unknown, "<id>"))
			if got != want {
				t.Errorf("%s, as %s: B's %s answers %.300s; an unknown id answers %.300s: want the same", c.name, u, c.foreign, got, want)
			}
		}
	}
}

// TestImportForeignCounterpartyAsUnknown: a 结对 row of an import naming,
// by credit code, a counterparty outside the administrator's scope is
// reported exactly as a code nobody registered, in a dry run and a real
// one.
func TestImportForeignCounterpartyAsUnknown(t *testing.T) {
	e := newImportExportEnv(t)
	codeA, unknown := creditCode(9), creditCode(8)
	if r := e.call("POST", "/v1/counterparties", e.login("adminA").AccessToken, map[string]any{"fields": map[string]any{
		"kind": "enterprise", "name": "已有科技有限公司", "credit_code": codeA, "org_unit": "unitA"}}); r.status != 201 {
		t.Fatalf("A registers it: got %d %s", r.status, r.body)
	}
	adminB := e.login("adminB").AccessToken
	answer := func(code, query string) string {
		book := workbook(t, "结对", [][]string{
			{"结对名称*", "机关支部*", "共建单位*", "主联络员", "副联络员", "联系人账号", "开始日期", "结束日期", "状态", "说明"},
			{"结对 " + code, "unitB", code, "", "", "", "", "", "", ""},
		})
		r := e.upload(adminB, query, book)
		return fmt.Sprintf("%d %s", r.status, strings.ReplaceAll(string(r.body), code, "<code>"))
	}
	for _, q := range []string{"?dry_run=true", ""} {
		if got, want := answer(codeA, q), answer(unknown, q); got != want {
			t.Errorf("import%s naming A's counterparty by code: got %.400s; an unregistered code: %.400s; want the same", q, got, want)
		}
	}
	// People of A (by user name, also disabled or of another role) answer
	// as user names nobody has.
	if r := e.call("PATCH", "/v1/users/u-viewerA", e.login("adminA").AccessToken, map[string]any{"disabled": true}); r.status != 200 {
		t.Fatalf("disable viewerA: got %d %s", r.status, r.body)
	}
	if r := e.call("POST", "/v1/counterparties", adminB, map[string]any{"fields": map[string]any{"kind": "community", "name": "B 区社区", "org_unit": "unitB"}}); r.status != 201 {
		t.Fatalf("B's counterparty: got %d %s", r.status, r.body)
	}
	person := func(column int, who, query string) string {
		row := []string{"结对 " + who, "unitB", "B 区社区", "", "", "", "", "", "", ""}
		row[column] = who
		book := workbook(t, "结对", [][]string{
			{"结对名称*", "机关支部*", "共建单位*", "主联络员", "副联络员", "联系人账号", "开始日期", "结束日期", "状态", "说明"}, row})
		r := e.upload(adminB, query, book)
		return fmt.Sprintf("%d %s", r.status, strings.ReplaceAll(string(r.body), who, "<who>"))
	}
	for _, c := range []struct {
		column  int
		foreign string
	}{{3, "officerA"}, {3, "contactA"}, {3, "viewerA"}, {5, "contactA"}, {5, "officerA"}, {4, "officerA"}} {
		for _, q := range []string{"?dry_run=true", ""} {
			if got, want := person(c.column, c.foreign, q), person(c.column, "nobody"+c.foreign, q); got != want {
				t.Errorf("import%s naming A's %s in column %d: got %.400s; a user name nobody has: %.400s; want the same", q, c.foreign, c.column, got, want)
			}
		}
	}
}
