package server

import (
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pairsync/pairsync/server/pairing"
)

// jsonKeys collects every object key of a JSON document.
func jsonKeys(b []byte) map[string]bool {
	keys := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, vv := range x {
				keys[k] = true
				walk(vv)
			}
		case []any:
			for _, vv := range x {
				walk(vv)
			}
		}
	}
	var v any
	if json.Unmarshal(b, &v) == nil {
		walk(v)
	}
	return keys
}

// TestReadsPerRole (SECURITY.md 4): every list and report route,
// read by every role: secrets never appear, phone numbers only to those
// who manage the account; a contact sees its own counterparty's pairing
// and nothing of another's, in lists and in pulls.
func TestReadsPerRole(t *testing.T) {
	e := newDomainEnv(t)
	pid, _ := domainFixture(t, e)
	admin := e.login("adminA").AccessToken
	// A second pairing of the same branch and officer, with another
	// counterparty, whose contact contactA is not.
	r := e.call("POST", "/v1/counterparties", admin, map[string]any{"fields": map[string]any{"kind": "community", "name": "某社区", "org_unit": "unitA"}})
	var other writeAnswer
	r.json(t, &other)
	r = e.call("POST", "/v1/pairings", admin, map[string]any{"fields": map[string]any{"name": "一支部 ↔ 某社区", "status": "active",
		"branches": []string{"unitA"}, "counterparties": []string{other.Record.ID}, "officers": []map[string]any{{"user_id": "u-officerA", "primary": true}}}})
	var p2 writeAnswer
	r.json(t, &p2)
	off := e.device(t, "officerA")
	off.pull()
	at := time.Now().UTC().Format(time.RFC3339)
	for _, p := range []string{pid, p2.Record.ID} {
		_, ans := off.push(off.set("issues", "i-"+p, p, map[string]any{"title": "诉求 " + p, "category": "policy", "raised_by": "u-officerA", "raised_at": at}),
			off.set("visits", "v-"+p, p, map[string]any{"mode": "onsite", "visited_at": at, "officers": []string{"u-officerA"}}))
		wantResults(t, "seed "+p, ans, "applied", "applied")
	}

	forbiddenKeys := []string{"password", "password_hash", "token", "token_hash", "refresh_token_hash", "secret", "private"}
	var table []string
	for _, who := range []string{"adminA", "viewerA", "officerA", "contactA", "adminB"} {
		tok := e.login(who).AccessToken
		role := strings.TrimSuffix(strings.TrimSuffix(who, "A"), "B")
		for _, rt := range e.s.routes {
			if rt.Method != "GET" || !rt.Auth || strings.Contains(rt.Path, ":") || strings.HasPrefix(rt.Path, "/v1/exports") ||
				strings.HasPrefix(rt.Path, "/v1/sync") || strings.Contains(rt.Path, "template") {
				continue
			}
			r := e.call("GET", rt.Path, tok, nil)
			keys := jsonKeys(r.body)
			for _, k := range forbiddenKeys {
				if keys[k] {
					t.Errorf("%s %s as %s: the answer holds %q: %.300s", rt.Method, rt.Path, who, k, r.body)
				}
			}
			if keys["phone"] && role != "admin" && rt.Path != "/v1/me" {
				t.Errorf("%s as %s: a phone number in %.300s", rt.Path, who, r.body)
			}
			body := string(r.body)
			if role == "contact" && (strings.Contains(body, p2.Record.ID) || strings.Contains(body, other.Record.ID)) {
				t.Errorf("%s as the contact of another counterparty: mentions the other pairing: %.300s", rt.Path, r.body)
			}
			if who == "adminB" && strings.Contains(body, pid) {
				t.Errorf("%s as another subtree's admin: mentions pairing %s", rt.Path, pid)
			}
			table = append(table, rt.Path+" "+who+" "+statusText(r.status))
		}
	}
	sort.Strings(table)
	t.Logf("reads checked:\n%s", strings.Join(table, "\n"))

	// The contact's pull holds its pairing and nothing of the other.
	con := e.device(t, "contactA")
	keys, _ := con.pull()
	for _, k := range keys {
		if rec, ok := con.view[k]; ok && rec.Pairing == p2.Record.ID || strings.HasSuffix(k, "/"+other.Record.ID) || strings.HasSuffix(k, "/"+p2.Record.ID) {
			t.Fatalf("the contact pulled %s of another counterparty's pairing", k)
		}
	}
	if !slices.Contains(keys, "issues/i-"+pid) {
		t.Fatalf("the contact's pull: %v, want its pairing's issue", keys)
	}
	// Phone numbers: officerA has one; only its administrators and itself see it.
	for who, want := range map[string]bool{"adminA": true, "officerA": true, "viewerA": false, "contactA": false, "adminB": false} {
		r := e.call("GET", "/v1/users/u-officerA", e.login(who).AccessToken, nil)
		if got := strings.Contains(string(r.body), "13800000000"); got != want {
			t.Errorf("officerA's phone to %s: shown %v (status %d), want %v", who, got, r.status, want)
		}
	}
	_ = pairing.Admin
}

func statusText(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
