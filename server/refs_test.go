package server

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/syncproto"
)

// fixtureB creates, as adminB, a community counterparty of unit B and an
// active pairing of unit B with officerB and contactB, and an issue raised
// in it by officerB; it returns the pairing, the counterparty and the issue.
func fixtureB(t *testing.T, e *idEnv) (pid, cp, issue string) {
	t.Helper()
	admin := e.login("adminB").AccessToken
	cp = e.create(t, "/v1/counterparties", admin, map[string]any{"kind": "community", "name": "某某社区", "org_unit": "unitB"})
	pid = e.create(t, "/v1/pairings", admin, map[string]any{"name": "B 支部 ↔ 某某社区", "status": "active", "branches": []string{"unitB"},
		"counterparties": []string{cp}, "officers": []map[string]any{{"user_id": "u-officerB", "primary": true}}, "contacts": []string{"u-contactB"}})
	off := e.device(t, "officerB")
	off.pull()
	_, ans := off.push(off.set("issues", "iB", pid, map[string]any{"title": "B 的诉求", "category": "other",
		"raised_by": "u-officerB", "raised_at": e.now().UTC().Format(time.RFC3339)}))
	wantResults(t, "B's issue", ans, "applied")
	return pid, cp, "iB"
}

// refusal is an error answer with the id it names blanked out, so that the
// answers for two different ids compare.
func refusal(t *testing.T, r result, id string) string {
	t.Helper()
	var e syncproto.Error
	if err := json.Unmarshal(r.body, &e); err != nil || e.Code == "" {
		t.Fatalf("want an error body, got %d %s", r.status, r.body)
	}
	e.Message = strings.ReplaceAll(e.Message, id, "<id>")
	return strings.Join([]string{string(rune('0' + r.status/100)), string(e.Code), e.Reason, e.Field, e.Message}, "|")
}

func pushRefusal(ans syncproto.PushAnswer, id string) string {
	if len(ans.Results) != 1 || ans.Results[0].Error == nil {
		return "not refused"
	}
	e := *ans.Results[0].Error
	return strings.Join([]string{string(e.Code), e.Reason, e.Field, strings.ReplaceAll(e.Message, id, "<id>")}, "|")
}

// TestReferencesInScope is SECURITY.md 11: every reference in
// a write, by REST or by push, is refused when it names something outside
// the writer's scope, with exactly the answer of a reference to nothing.
func TestReferencesInScope(t *testing.T) {
	e := newDomainEnv(t)
	pidA, cpA := domainFixture(t, e)
	pidB, cpB, issueB := fixtureB(t, e)
	adminA := e.login("adminA").AccessToken

	same := func(t *testing.T, what, foreign, unknown string, call func(id string) result) {
		t.Helper()
		rf, ru := call(foreign), call(unknown)
		if rf.status < 400 || rf.status >= 500 {
			t.Fatalf("%s naming B's %s: got %d %s, want a refusal", what, foreign, rf.status, rf.body)
		}
		if got, want := refusal(t, rf, foreign), refusal(t, ru, unknown); got != want {
			t.Fatalf("%s: B's %s answers %q, an unknown id %q: want the same answer", what, foreign, got, want)
		}
	}

	t.Run("contact bound to another subtree's counterparty", func(t *testing.T) {
		n := 0
		same(t, "create a contact", cpB, "cp-none", func(cp string) result {
			n++
			return e.call("POST", "/v1/users", adminA, map[string]any{"username": "c" + string(rune('a'+n)) + "x", "name": "联系人",
				"role": "contact", "org_unit": "unitA", "counterparty": cp})
		})
		if r := e.call("POST", "/v1/users", adminA, map[string]any{"username": "cgood", "name": "联系人", "role": "contact",
			"org_unit": "unitA", "counterparty": cpA}); r.status != 201 {
			t.Fatalf("a contact of A's own counterparty: got %d %s, want 201", r.status, r.body)
		}
	})

	t.Run("users in another subtree's unit", func(t *testing.T) {
		n := 0
		same(t, "create an officer", "unitB", "unit-none", func(unit string) result {
			n++
			return e.call("POST", "/v1/users", adminA, map[string]any{"username": "o" + string(rune('a'+n)) + "x", "name": "联络员",
				"role": "officer", "org_unit": unit})
		})
		same(t, "a counterparty's managing unit", "unitB", "unit-none", func(unit string) result {
			return e.call("POST", "/v1/counterparties", adminA, map[string]any{"fields": map[string]any{"kind": "community", "name": "社区 " + unit, "org_unit": unit}})
		})
	})

	t.Run("pairing naming another subtree's people and counterparties", func(t *testing.T) {
		same(t, "PATCH contacts", "u-contactB", "u-nobody", func(uid string) result {
			return e.call("PATCH", "/v1/pairings/"+pidA, adminA, map[string]any{"fields": map[string]any{"contacts": []string{"u-contactA", uid}}})
		})
		same(t, "PATCH officers", "u-officerB", "u-nobody", func(uid string) result {
			return e.call("PATCH", "/v1/pairings/"+pidA, adminA, map[string]any{"fields": map[string]any{
				"officers": []map[string]any{{"user_id": "u-officerA", "primary": true}, {"user_id": uid, "primary": false}}}})
		})
		same(t, "PATCH counterparties", cpB, "cp-none", func(cp string) result {
			return e.call("PATCH", "/v1/pairings/"+pidA, adminA, map[string]any{"fields": map[string]any{"counterparties": []string{cpA, cp}}})
		})
		same(t, "create with B's branch", "unitB", "unit-none", func(unit string) result {
			return e.call("POST", "/v1/pairings", adminA, map[string]any{"fields": map[string]any{"name": "x", "status": "active",
				"branches": []string{unit}, "counterparties": []string{cpA}}})
		})
		// Officers of the right role: a contact of A is no officer.
		r := e.call("PATCH", "/v1/pairings/"+pidA, adminA, map[string]any{"fields": map[string]any{"officers": []map[string]any{{"user_id": "u-contactA", "primary": true}}}})
		if r.status != 400 || !strings.Contains(string(r.body), `"reason":"wrong_role"`) {
			t.Fatalf("a contact as officer: got %d %s, want 400 wrong_role", r.status, r.body)
		}
		// Former officers' removal bounded by now.
		r = e.call("PATCH", "/v1/pairings/"+pidA, adminA, map[string]any{"fields": map[string]any{"former_officers": []map[string]any{
			{"user_id": "u-officerB", "removed_at": e.now().Add(365 * 24 * time.Hour).UTC().Format(time.RFC3339)}}}})
		if r.status != 400 || !strings.Contains(string(r.body), "former_officers") {
			t.Fatalf("former_officers removed in a year: got %d %s, want 400", r.status, r.body)
		}
		var v recordView
		e.call("GET", "/v1/pairings/"+pidA, adminA, nil).json(t, &v)
		if strings.Contains(string(v.Fields["contacts"]), "contactB") || strings.Contains(string(v.Fields["officers"]), "officerB") ||
			strings.Contains(string(v.Fields["counterparties"]), cpB) {
			t.Fatalf("A's pairing after the refusals: %s", v.Fields)
		}
	})

	t.Run("handler of a dispatch", func(t *testing.T) {
		off := e.device(t, "officerA")
		off.pull()
		_, ans := off.push(off.set("issues", "iA", pidA, map[string]any{"title": "A 的诉求", "category": "other",
			"raised_by": "u-officerA", "raised_at": e.now().UTC().Format(time.RFC3339)}))
		wantResults(t, "raise iA", ans, "applied")
		same(t, "dispatch", "u-officerB", "u-nobody", func(uid string) result {
			return e.call("POST", "/v1/issues/iA/events", adminA, map[string]any{"type": "dispatched", "handler": uid})
		})
		r := e.call("POST", "/v1/issues/iA/events", adminA, map[string]any{"type": "dispatched", "handler": "u-contactA"})
		if r.status != 400 || !strings.Contains(string(r.body), "wrong_role") {
			t.Fatalf("dispatch to a contact: got %d %s, want 400 wrong_role", r.status, r.body)
		}
	})

	t.Run("pushed records naming another pairing's records", func(t *testing.T) {
		con := e.device(t, "contactA")
		con.pull()
		at := e.now().UTC().Format(time.RFC3339)
		n := 0
		pushed := func(coll string, fields func(id string) map[string]any) func(id string) string {
			return func(id string) string {
				n++
				_, ans := con.push(con.set(coll, "r"+string(rune('a'+n)), pidA, fields(id)))
				return pushRefusal(ans, id)
			}
		}
		for _, tc := range []struct {
			name string
			f    func(id string) string
		}{
			{"rating of B's issue", pushed("ratings", func(id string) map[string]any {
				return map[string]any{"target_kind": "issue", "target": id, "level": 5, "by": "u-contactA", "at": at}
			})},
			{"comment on B's issue", pushed("comments", func(id string) map[string]any {
				return map[string]any{"target_kind": "issue", "target": id, "text": "看看", "by": "u-contactA", "at": at}
			})},
			{"event of B's issue", pushed("issue_events", func(id string) map[string]any {
				return map[string]any{"issue": id, "type": "raised", "by": "u-contactA", "role": "contact", "at": at}
			})},
		} {
			got, want := tc.f(issueB), tc.f("i-none")
			if got == "not refused" || got != want {
				t.Errorf("%s: got %q, want the answer for an unknown issue %q", tc.name, got, want)
			}
		}
	})

	t.Run("a contact of A reads nothing of B", func(t *testing.T) {
		con := e.device(t, "contactA")
		keys, _ := con.pull()
		for _, k := range keys {
			if strings.Contains(k, pidB) || strings.Contains(k, cpB) || strings.Contains(k, issueB) {
				t.Fatalf("contactA pulled %s of B", k)
			}
		}
		if r := e.call("GET", "/v1/issues/"+issueB, e.login("contactA").AccessToken, nil); r.status != 404 {
			t.Fatalf("contactA reads B's issue: got %d, want 404", r.status)
		}
	})
	_ = pairing.Admin
}

// communityA creates, as adminA, a community counterparty managed by unit
// A (a contact's counterparty must exist and be adminA's to name) and
// returns its id.
func communityA(t *testing.T, e *idEnv) string {
	t.Helper()
	return e.create(t, "/v1/counterparties", e.login("adminA").AccessToken, map[string]any{"kind": "community", "name": "A 区某社区", "org_unit": "unitA"})
}

// TestOverviewOrgTreeInScope: the overview's org_unit= does
// not read the org tree outside the caller's subtree, for any role, and a
// unit outside it answers exactly as an unknown one.
func TestOverviewOrgTreeInScope(t *testing.T) {
	e := newDomainEnv(t)
	domainFixture(t, e)
	for _, who := range []string{"contactA", "officerA", "viewerA", "adminA"} {
		tok := e.login(who).AccessToken
		for _, unit := range []string{"unitB", "root"} {
			rf := e.call("GET", "/v1/reports/overview?org_unit="+unit, tok, nil)
			ru := e.call("GET", "/v1/reports/overview?org_unit=unit-none", tok, nil)
			if rf.status != 404 || refusal(t, rf, unit) != refusal(t, ru, "unit-none") {
				t.Errorf("%s reads the overview of %s: got %d %s, want the answer of an unknown unit (%d %s)", who, unit, rf.status, rf.body, ru.status, ru.body)
			}
		}
		var ov overviewReport
		r := e.call("GET", "/v1/reports/overview", tok, nil)
		r.json(t, &ov)
		for _, u := range ov.Units {
			if u.ID == "unitB" || u.ID == "unitA" && who != "root" {
				t.Errorf("%s's overview lists unit %s", who, u.ID)
			}
		}
	}
	var ov overviewReport
	e.call("GET", "/v1/reports/overview?org_unit=root", e.login("root").AccessToken, nil).json(t, &ov)
	if len(ov.Units) != 2 {
		t.Fatalf("the root administrator's overview of root: got units %+v, want A and B", ov.Units)
	}
}

// TestRemovedOfficerOnlyEarlierChanges: an officer in their removal grace
// pushes what they recorded before the removal, not what they record after
// it; and a pushed record whose id is taken in another pairing is refused
// without naming that pairing (an answer must not tell what exists elsewhere).
func TestRemovedOfficerOnlyEarlierChanges(t *testing.T) {
	e := newIDEnv(t)
	pairingsFixture(t, e)
	offA := e.device(t, "officerA")
	offA.pull()
	before := offA.setAt(e.now().Add(-time.Hour), "visits", "v-before", "p1", map[string]any{"notes": "移除前"})
	vals, _ := jsonValues(map[string]any{"officers": []map[string]any{},
		"former_officers": []map[string]any{{"user_id": "u-officerA", "removed_at": e.now()}}})
	if _, _, err := e.s.writeRecord(t.Context(), pairing.CollPairings, "p1", pairing.DirectoryScope, vals); err != nil {
		t.Fatal(err)
	}
	after := offA.setAt(e.now().Add(time.Hour), "visits", "v-after", "p1", map[string]any{"notes": "移除后"})
	_, ans := offA.push(before, after)
	if ans.Results[0].Status != syncproto.StatusApplied || ans.Results[1].Status != syncproto.StatusRejected {
		t.Fatalf("recorded before and after the removal: got %+v, want applied then rejected", ans.Results)
	}

	offB := e.device(t, "officerB")
	offB.pull()
	_, ans = offB.push(offB.set("visits", "v-before", "p2", map[string]any{"notes": "B 用了 A 的编号"}))
	if len(ans.Results) != 1 || ans.Results[0].Error == nil || strings.Contains(ans.Results[0].Error.Message, "p1") {
		t.Fatalf("an id taken in another pairing: got %+v, want rejected without naming that pairing", ans.Results)
	}
}
