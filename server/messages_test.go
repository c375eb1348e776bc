package server

import (
	"strings"
	"testing"
	"time"

	"github.com/pairsync/pairsync/syncproto"
)

func TestLanguage(t *testing.T) {
	for _, tc := range []struct {
		header string
		want   int
	}{
		{"", langZH},
		{"zh-CN,zh;q=0.9,en;q=0.8", langZH},
		{"en", langEN},
		{"en-US,en;q=0.9", langEN},
		{"en;q=0.5, zh;q=0.8", langZH},
		{"zh;q=0.3, en-GB;q=0.7", langEN},
		{"fr-FR", langZH},
		{"de, en;q=0.2", langEN},
		{"zh;q=0", langZH},
	} {
		if got := language(tc.header); got != tc.want {
			t.Errorf("language(%q) = %d, want %d", tc.header, got, tc.want)
		}
	}
}

// TestServerWordsFollowAcceptLanguage: the server's text —
// the credit-code check, a project move, a validation refusal in a push, a
// plain wire error — is Chinese when the request prefers zh or says
// nothing, English when it prefers en, and the refusal carries its reason
// code for the apps' own table.
func TestServerWordsFollowAcceptLanguage(t *testing.T) {
	e := newDomainEnv(t)
	pid, _ := domainFixture(t, e)
	admin := e.login("adminA").AccessToken

	badCode := map[string]any{"fields": map[string]any{"kind": "enterprise", "name": "某公司", "credit_code": "91320100MA1ABCDE1X", "org_unit": "unitA"}}
	for _, tc := range []struct{ lang, want string }{{"", "校验位"}, {"zh-CN", "校验位"}, {"en-US", "check character"}} {
		r := e.call("POST", "/v1/counterparties", admin, badCode, "Accept-Language", tc.lang)
		var w syncproto.Error
		r.json(t, &w)
		if r.status != 400 || w.Reason != "credit_code_check" || !strings.Contains(w.Message, tc.want) {
			t.Errorf("credit code, Accept-Language %q: got %d %+v, want 400 credit_code_check saying %q", tc.lang, r.status, w, tc.want)
		}
	}

	// A cancelled project moved back: refused with the move in words.
	r := e.call("POST", "/v1/projects", admin, map[string]any{"pairing": pid, "fields": map[string]any{"title": "助企纾困", "category": "industry", "status": "proposed"}})
	if r.status != 201 {
		t.Fatalf("create project: %d %s", r.status, r.body)
	}
	var made recordView
	r.json(t, &made)
	id := made.ID
	if r := e.call("PATCH", "/v1/projects/"+id, admin, map[string]any{"fields": map[string]any{"status": "cancelled", "status_reason": "企业已搬迁"}}); r.status != 200 {
		t.Fatalf("cancel: %d %s", r.status, r.body)
	}
	for _, tc := range []struct{ lang, want string }{{"zh-CN,zh;q=0.9", "不能从“已取消”改为“已立项”"}, {"en", "cannot move from cancelled to approved"}} {
		r := e.call("PATCH", "/v1/projects/"+id, admin, map[string]any{"fields": map[string]any{"status": "approved"}}, "Accept-Language", tc.lang)
		var w syncproto.Error
		r.json(t, &w)
		if r.status != 400 || w.Reason != "project_move" || w.Args["from"] != "cancelled" || !strings.Contains(w.Message, tc.want) {
			t.Errorf("move back, %q: got %d %+v, want project_move saying %q", tc.lang, r.status, w, tc.want)
		}
	}

	// A push refusal (a field too long) and a plain wire error.
	off := e.device(t, "officerA")
	ch := off.set("visits", "v-long", pid, map[string]any{"officers": []string{"u-officerA"}, "mode": "onsite",
		"visited_at": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), "title": strings.Repeat("长", 500)})
	body, _ := syncproto.Encode(&syncproto.PushRequest{V: 1, Device: syncproto.ReplicaID(off.id), Changes: []syncproto.Change{ch}})
	for _, tc := range []struct{ lang, want string }{{"", "“主题”最多"}, {"en", "at most"}} {
		r := e.call("POST", "/v1/sync/push", off.token, body, "Accept-Language", tc.lang)
		ans, err := syncproto.DecodePushAnswer(r.body, syncproto.Limits{})
		if err != nil || len(ans.Results) != 1 || ans.Results[0].Error == nil {
			t.Fatalf("push: %v %s", err, r.body)
		}
		if got := ans.Results[0].Error; got.Reason != "too_long" || !strings.Contains(got.Message, tc.want) {
			t.Errorf("push refusal, %q: got %+v, want too_long saying %q", tc.lang, got, tc.want)
		}
	}
	for _, tc := range []struct{ lang, want string }{{"", "找不到"}, {"en", "not found"}} {
		r := e.call("GET", "/v1/projects/none", admin, nil, "Accept-Language", tc.lang)
		var w syncproto.Error
		r.json(t, &w)
		if r.status != 404 || !strings.Contains(strings.ToLower(w.Message), tc.want) {
			t.Errorf("not found, %q: got %d %+v, want %q", tc.lang, r.status, w, tc.want)
		}
	}
}
