package server

import (
	"strings"
	"testing"
	"time"

	"github.com/pairsync/pairsync/server/pairing"
)

// TestDuplicateKeysRefused: a REST body holding a key twice, two keys that
// differ only in case, or a key naming a field in another case is refused
// as the push decoder refuses duplicate keys: a body must mean one thing
// to every reader of it.
func TestDuplicateKeysRefused(t *testing.T) {
	e := newDomainEnv(t)
	admin := e.login("adminA").AccessToken
	for _, body := range []string{
		`{"fields":{"kind":"community","name":"甲社区","org_unit":"unitA"},"fields":{"kind":"community","name":"乙社区","org_unit":"unitA"}}`,
		`{"fields":{"kind":"community","name":"甲社区","name":"乙社区","org_unit":"unitA"}}`,
		`{"fields":{"kind":"community","name":"甲社区","Name":"乙社区","org_unit":"unitA"}}`,
		`{"Fields":{"kind":"community","name":"甲社区","org_unit":"unitA"}}`,
	} {
		r := e.call("POST", "/v1/counterparties", admin, []byte(body))
		if r.status != 400 || !strings.Contains(string(r.body), "invalid_json") {
			t.Errorf("%s: got %d %s, want 400 invalid_json", body, r.status, r.body)
		}
	}
	if r := e.call("POST", "/v1/counterparties", admin, []byte(`{"fields":{"kind":"community","name":"甲社区","org_unit":"unitA"}}`)); r.status != 201 {
		t.Fatalf("control: got %d %s, want 201", r.status, r.body)
	}
	// Pushed records: the same rule in syncproto's decoder.
	off := e.device(t, "officerA")
	body := `{"v":1,"device":"` + off.id + `","changes":[{"dot":"` + off.id + `:1","hlc":[1,0],"record":{"id":"x","collection":"visits","collection":"issues","pairing":"p","vv":{},"fields":{}}}]}`
	if r := e.call("POST", "/v1/sync/push", off.token, []byte(body)); r.status != 400 {
		t.Fatalf("push with a duplicate key: got %d %s, want 400", r.status, r.body)
	}
}

// TestBidiControlsRefused: text fields refuse bidirectional control
// characters, in pushed records and in REST bodies, with a reason.
func TestBidiControlsRefused(t *testing.T) {
	e, pid, off := fieldWork(t)
	admin := e.login("adminA").AccessToken
	_, ans := off.push(off.set("issues", "i1", pid, map[string]any{"title": "发票\u202Efdp.exe", "category": "other",
		"raised_by": "u-officerA", "raised_at": e.now().UTC().Format(time.RFC3339)}))
	wantResults(t, "a title with U+202E", ans, "rejected validation_failed title")
	if ans.Results[0].Error.Reason != pairing.ReasonBidi {
		t.Fatalf("reason: got %q, want %q", ans.Results[0].Error.Reason, pairing.ReasonBidi)
	}
	for _, tc := range []struct {
		method, path string
		body         map[string]any
	}{
		{"POST", "/v1/users", map[string]any{"username": "bidi1", "name": "张\u2067三", "role": "officer", "org_unit": "unitA"}},
		{"POST", "/v1/counterparties", map[string]any{"fields": map[string]any{"kind": "community", "name": "社区\u200F", "org_unit": "unitA"}}},
		{"POST", "/v1/org-units", map[string]any{"parent_id": "unitA", "name": "支部\u202A", "kind": "branch"}},
		// A device's name is shown to administrators (设备) and in the audit log.
		{"POST", "/v1/devices", map[string]any{"name": "张三的\u202E机手"}},
	} {
		r := e.call(tc.method, tc.path, admin, tc.body)
		if r.status != 400 || !strings.Contains(string(r.body), pairing.ReasonBidi) {
			t.Errorf("%s %s: got %d %s, want 400 %s", tc.method, tc.path, r.status, r.body, pairing.ReasonBidi)
		}
	}
}
