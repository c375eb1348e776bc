package server

import (
	"strings"
	"testing"

	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/syncproto"
)

// TestCounterpartyDuplicateOutsideScope: a credit code already
// registered by a counterparty outside the caller's scope is refused
// without naming or identifying that counterparty — on create, in an
// import, and in the likely-duplicate warnings of both; inside the
// caller's scope the answer names it (helpful: use that one). Chinese by
// default, saying what to do next.
func TestCounterpartyDuplicateOutsideScope(t *testing.T) {
	e := newImportExportEnv(t)
	const name = "已有科技有限公司"
	code := creditCode(9)
	r := e.call("POST", "/v1/counterparties", e.login("adminA").AccessToken, map[string]any{"fields": map[string]any{
		"kind": "enterprise", "name": name, "credit_code": code, "org_unit": "unitA"}})
	if r.status != 201 {
		t.Fatalf("A registers it: got %d %s", r.status, r.body)
	}
	create := func(who, unit, lang string) (result, syncproto.Error) {
		t.Helper()
		r := e.call("POST", "/v1/counterparties", e.login(who).AccessToken, map[string]any{"fields": map[string]any{
			"kind": "enterprise", "name": "另一个名字", "credit_code": code, "org_unit": unit}}, "Accept-Language", lang)
		var we syncproto.Error
		r.json(t, &we)
		return r, we
	}
	for _, lang := range []string{"zh", "en"} {
		r, we := create("adminB", "unitB", lang)
		if r.status != 409 || we.Code != syncproto.CodeConflict || we.Reason != pairing.ReasonCreditCodeTakenElsewhere {
			t.Errorf("B, same code (%s): got %d %s, want 409 conflict, reason %s", lang, r.status, r.body, pairing.ReasonCreditCodeTakenElsewhere)
		}
		if strings.Contains(string(r.body), name) || strings.Contains(string(r.body), "unitA") {
			t.Errorf("B, same code (%s): the answer names the counterparty outside B's scope: %s", lang, r.body)
		}
		if lang == "zh" && (!hasHan(we.Message) || !strings.Contains(we.Message, "上级管理员")) {
			t.Errorf("B, same code (zh): got message %q, want Chinese saying to ask an administrator above", we.Message)
		}
		if lang == "en" && hasHan(we.Message) {
			t.Errorf("B, same code (en): got message %q, want English", we.Message)
		}
	}
	for _, who := range []string{"adminA", "root"} {
		for _, lang := range []string{"zh", "en"} {
			unit := map[string]string{"adminA": "unitA", "root": "unitB"}[who]
			r, we := create(who, unit, lang)
			if r.status != 409 || we.Reason != pairing.ReasonCreditCodeTaken || !strings.Contains(we.Message, name) {
				t.Errorf("%s, same code (%s): got %d %s, want 409, reason %s, naming %s", who, lang, r.status, r.body, pairing.ReasonCreditCodeTaken, name)
			}
		}
	}
	// A similar name in B: no warning about A's counterparty.
	r = e.call("POST", "/v1/counterparties", e.login("adminB").AccessToken, map[string]any{"fields": map[string]any{
		"kind": "enterprise", "name": "已有科技（有限公司）", "credit_code": creditCode(5), "org_unit": "unitB"}})
	if r.status != 201 || strings.Contains(string(r.body), name) || strings.Contains(string(r.body), code) {
		t.Errorf("B, a similar name: got %d %s, want 201 without naming A's counterparty", r.status, r.body)
	}

	// The import says the same.
	book := workbook(t, "共建单位", [][]string{
		{"类型*", "名称*", "统一社会信用代码", "管理单位*", "地址", "行业", "联系人", "备注"},
		{"企业", "丙有限公司", code, "unitB", "", "", "", ""},
		{"企业", "已有科技（有限公司）", creditCode(6), "unitB", "", "", "", ""},
	})
	r = e.upload(e.login("adminB").AccessToken, "?dry_run=true", book)
	if r.status != 200 || strings.Contains(string(r.body), name) || strings.Contains(string(r.body), "unitA") || !strings.Contains(string(r.body), "上级管理员") {
		t.Errorf("B imports the same code: got %d %s, want 200 refusing row 2 without naming A's counterparty", r.status, r.body)
	}
	r = e.upload(e.login("adminA").AccessToken, "?dry_run=true", book)
	if r.status != 200 || !strings.Contains(string(r.body), name) {
		t.Errorf("A imports the same code: got %d %s, want it named", r.status, r.body)
	}
}
