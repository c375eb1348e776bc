package server

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/syncproto"
)

// domainFixture creates, through the REST routes as adminA, a counterparty
// and an active pairing of unit A with officerA (primary) and contactA; it
// returns the pairing's id and the counterparty's.
func domainFixture(t *testing.T, e *idEnv) (pid, cp string) {
	t.Helper()
	return elevatorPairing(t, e, map[string]any{"industry": "制造业"}, map[string]any{"user_id": "u-officerA", "primary": true})
}

// fieldWork is the start of the tests of field work: the identity world,
// domainFixture's pairing in it, and officerA's phone synced into it.
func fieldWork(t *testing.T) (e *idEnv, pid string, off *device) {
	t.Helper()
	e = newDomainEnv(t)
	pid, _ = domainFixture(t, e)
	off = e.device(t, "officerA")
	off.pull()
	return e, pid, off
}

// elevatorPairing creates, through the REST routes as adminA, the
// enterprise counterparty 南京某某电梯有限公司 of unit A (with cpFields
// besides) and an active pairing of unit A with it, the officers given and
// contactA; it returns the pairing's id and the counterparty's.
func elevatorPairing(t testing.TB, e *idEnv, cpFields map[string]any, officers ...map[string]any) (pid, cp string) {
	t.Helper()
	admin := e.login("adminA").AccessToken
	fields := map[string]any{"kind": "enterprise", "name": "南京某某电梯有限公司", "credit_code": pairing.CompleteCreditCode("91320100MA1" + "ABCDE1"),
		"org_unit": "unitA"}
	maps.Copy(fields, cpFields)
	cp = e.create(t, "/v1/counterparties", admin, fields)
	// contactA belongs to counterparty "cp-A" in the identity fixture; the
	// pairing lists them as a contact user explicitly.
	pid = e.create(t, "/v1/pairings", admin, map[string]any{"name": "税务局一支部 ↔ 某某电梯", "status": "active", "branches": []string{"unitA"},
		"counterparties": []string{cp}, "officers": officers, "contacts": []string{"u-contactA"}, "starts_on": "2026-01-01"})
	return pid, cp
}

func wantResults(t *testing.T, what string, ans syncproto.PushAnswer, want ...string) {
	t.Helper()
	var got []string
	for _, r := range ans.Results {
		s := string(r.Status)
		if r.Error != nil {
			s += " " + string(r.Error.Code) + " " + r.Error.Field
		}
		got = append(got, s)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s: got %q, want %q (answers %+v)", what, got, want, ans.Results)
	}
}

func TestDirectoryRoutes(t *testing.T) {
	e := newDomainEnv(t)
	admin := e.login("adminA").AccessToken
	pid, cp := domainFixture(t, e)
	if cp != pairing.CompleteCreditCode("91320100MA1ABCDE1") {
		t.Fatalf("an enterprise's id: got %s, want its credit code", cp)
	}

	t.Run("credit codes", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			fields map[string]any
			status int
			want   string
		}{
			{"same code again", map[string]any{"kind": "enterprise", "name": "另一个名字", "credit_code": cp, "org_unit": "unitA"}, 409, "already registered"},
			{"mistyped check character", map[string]any{"kind": "enterprise", "name": "某公司", "credit_code": cp[:17] + "0", "org_unit": "unitA"}, 400, "check character"},
			{"enterprise without code", map[string]any{"kind": "enterprise", "name": "某公司", "org_unit": "unitA"}, 400, "credit_code"},
			{"unit outside the subtree", map[string]any{"kind": "community", "name": "某社区", "org_unit": "unitB"}, 403, "subtree"},
			{"unknown field", map[string]any{"kind": "community", "name": "某社区", "org_unit": "unitA", "phone": "138"}, 400, "no field"},
		} {
			r := e.call("POST", "/v1/counterparties", admin, map[string]any{"fields": tc.fields})
			if r.status != tc.status || !strings.Contains(string(r.body), tc.want) {
				t.Errorf("%s: got %d %s, want %d mentioning %q", tc.name, r.status, r.body, tc.status, tc.want)
			}
		}
		// A likely duplicate by name is created, with a warning.
		r := e.call("POST", "/v1/counterparties", admin, map[string]any{"fields": map[string]any{
			"kind": "enterprise", "name": "南京某某电梯（有限公司）", "credit_code": pairing.CompleteCreditCode("91320100MA1ABCDE2"), "org_unit": "unitA"}})
		var ans writeAnswer
		r.json(t, &ans)
		if r.status != 201 || len(ans.Warnings) != 1 || ans.Warnings[0].ID != cp {
			t.Fatalf("similar name: got %d %s, want 201 with a likely_duplicate warning naming %s", r.status, r.body, cp)
		}
	})

	t.Run("lists", func(t *testing.T) {
		var cps counterpartyList
		e.call("GET", "/v1/counterparties?search=电梯", admin, nil).json(t, &cps)
		if len(cps.Counterparties) != 2 {
			t.Fatalf("search 电梯: got %d counterparties, want 2", len(cps.Counterparties))
		}
		var page1 counterpartyList
		e.call("GET", "/v1/counterparties?search=电梯&limit=1", admin, nil).json(t, &page1)
		if len(page1.Counterparties) != 1 || !page1.More || page1.Next == "" {
			t.Fatalf("paging: got %+v, want one and more", page1)
		}
		var prs pairingList
		e.call("GET", "/v1/pairings?search=电梯&status=active", admin, nil).json(t, &prs)
		if len(prs.Pairings) != 1 || prs.Pairings[0].ID != pid || prs.Pairings[0].Officers[0] != "u-officerA" {
			t.Fatalf("pairings: got %+v", prs)
		}
		if r := e.call("GET", "/v1/pairings/"+pid, e.login("adminB").AccessToken, nil); r.status != 404 {
			t.Fatalf("another subtree's admin reads the pairing: got %d, want 404", r.status)
		}
	})

	t.Run("phones receive the directory by sync; removal keeps a grace", func(t *testing.T) {
		off := e.device(t, "officerA")
		keys, _ := off.pull()
		if !slices.Contains(keys, "pairings/"+pid) || !slices.Contains(keys, "counterparties/"+cp) {
			t.Fatalf("officer's pull: got %v, want the pairing and its counterparty", keys)
		}
		r := e.call("PATCH", "/v1/pairings/"+pid, admin, map[string]any{"fields": map[string]any{"officers": []map[string]any{}}})
		if r.status != 200 {
			t.Fatalf("remove the officer: got %d %s", r.status, r.body)
		}
		var rv writeAnswer
		r.json(t, &rv)
		if !strings.Contains(string(rv.Record.Fields["former_officers"]), "u-officerA") {
			t.Fatalf("former_officers: got %s, want u-officerA with its removal time", rv.Record.Fields["former_officers"])
		}
		if _, purge := off.pull(); !slices.Contains(purge, pid) {
			t.Fatalf("removed officer's pull: purge %v, want %s", purge, pid)
		}
		e.call("PATCH", "/v1/pairings/"+pid, admin, map[string]any{"fields": map[string]any{"officers": []map[string]any{{"user_id": "u-officerA", "primary": true}}}})
	})

	t.Run("people of the right role", func(t *testing.T) {
		for _, tc := range []struct {
			fields map[string]any
			want   string
		}{
			{map[string]any{"officers": []map[string]any{{"user_id": "u-contactA", "primary": true}}}, "not a officer"},
			{map[string]any{"contacts": []string{"u-nobody"}}, "no user"},
			{map[string]any{"branches": []string{"unitB"}}, "subtree"},
			{map[string]any{"counterparties": []string{"cp-none"}}, "no counterparty"},
			{map[string]any{"status": "paused"}, "not one of"},
		} {
			r := e.call("PATCH", "/v1/pairings/"+pid, admin, map[string]any{"fields": tc.fields})
			if r.status < 400 || r.status >= 500 || !strings.Contains(string(r.body), tc.want) {
				t.Errorf("patch %v: got %d %s, want a 4xx mentioning %q", tc.fields, r.status, r.body, tc.want)
			}
		}
	})

	t.Run("end", func(t *testing.T) {
		if r := e.call("POST", "/v1/pairings/"+pid+"/end", e.login("officerA").AccessToken, nil); r.status != 403 {
			t.Fatalf("officer ends a pairing: got %d, want 403", r.status)
		}
		if r := e.call("POST", "/v1/pairings/"+pid+"/end", admin, map[string]any{"reason": "共建期满"}); r.status != 200 {
			t.Fatalf("end: got %d %s", r.status, r.body)
		}
		off := e.device(t, "officerA")
		off.pull()
		_, ans := off.push(off.set("visits", "v-after-end", pid, map[string]any{"mode": "phone", "visited_at": time.Now().Format(time.RFC3339), "officers": []string{"u-officerA"}}))
		wantResults(t, "visit in an ended pairing", ans, "rejected forbidden collection")
	})
}

// TestFieldWorkThroughSync walks a visit, an issue's whole life and a
// practical project through the phones and the console, with the domain
// rules on.
func TestFieldWorkThroughSync(t *testing.T) {
	e := newDomainEnv(t)
	pid, cp := domainFixture(t, e)
	admin := e.login("adminA").AccessToken
	off, con := e.device(t, "officerA"), e.device(t, "contactA")
	off.pull()
	con.pull()
	now := time.Now().UTC()
	at := now.Format(time.RFC3339)

	// A visit with an issue raised in the same form, and a visit that
	// breaks the rules.
	visit := off.set("visits", "v1", pid, map[string]any{"mode": "onsite", "visited_at": at, "officers": []string{"u-officerA"},
		"counterparty": cp, "notes": "了解企业融资需求", "location": map[string]any{"lat": 32.06, "lng": 118.79, "accuracy_m": 12},
		"issues": []string{"i1"}})
	issue := off.set("issues", "i1", pid, map[string]any{"title": "融资难", "category": "financing", "raised_by": "u-officerA", "raised_at": at, "visit": "v1"})
	bad := off.set("visits", "v2", pid, map[string]any{"visited_at": at, "officers": []string{"u-officerA"}})
	future := off.set("visits", "v3", pid, map[string]any{"mode": "phone", "visited_at": now.Add(72 * time.Hour).Format(time.RFC3339), "officers": []string{"u-officerA"}})
	forged := off.set("issues", "i2", pid, map[string]any{"title": "x", "category": "other", "raised_by": "u-contactA", "raised_at": at})
	_, ans := off.push(visit, issue, bad, future, forged)
	wantResults(t, "first push", ans, "applied", "applied", "rejected validation_failed mode", "rejected validation_failed visited_at", "rejected forbidden raised_by")
	v1, _, err := e.s.getRecord(t.Context(), "visits", "v1")
	if err != nil || v1.Value("received_at") == nil {
		t.Fatalf("visit v1: got %v (err %v), want received_at stamped by the server", v1.Fields, err)
	}

	// The administrator dispatches the issue to the officer; the officer
	// receives it on the next sync, signs and responds.
	r := e.call("POST", "/v1/issues/i1/events", admin, map[string]any{"type": "dispatched", "handler": "u-officerA", "handler_name": "张三"})
	if r.status != 201 {
		t.Fatalf("dispatch: got %d %s", r.status, r.body)
	}
	var dispatched issueEventAnswer
	r.json(t, &dispatched)
	if dispatched.State.Status != pairing.IssueDispatched || dispatched.State.Due == nil {
		t.Fatalf("after dispatch: got %+v, want dispatched with a due date", dispatched.State)
	}
	keys, _ := off.pull()
	if !slices.Contains(keys, "issue_events/"+dispatched.Event.ID) {
		t.Fatalf("officer's pull after dispatch: got %v, want the dispatch event", keys)
	}
	ev := func(d *device, id, typ string, extra map[string]any) syncproto.Change {
		return d.event(id, pid, "i1", typ, extra)
	}
	_, ans = off.push(ev(off, "e-sign", "signed", nil), ev(off, "e-resp", "responded", map[string]any{"resolution": "solved", "note": "已协调银行授信"}))
	wantResults(t, "sign and respond", ans, "applied", "applied")

	// Who may append what: a contact may not dispatch; an officer may not
	// confirm without the contact's code; an edited event is refused.
	con.pull()
	_, ans = con.push(ev(con, "e-bad", "dispatched", map[string]any{"handler": "u-officerA"}))
	wantResults(t, "contact dispatches", ans, "rejected forbidden type")
	_, ans = off.push(ev(off, "e-conf-nocode", "confirmed", map[string]any{"response": "e-resp"}))
	wantResults(t, "officer confirms without code", ans, "rejected forbidden code")
	_, ans = off.push(ev(off, "e-conf-badcode", "confirmed", map[string]any{"response": "e-resp", "code": "000000"}))
	wantResults(t, "officer confirms with a wrong code", ans, "rejected forbidden code")
	_, ans = off.push(off.set("issue_events", "e-sign", pid, map[string]any{"note": "改一下"}))
	wantResults(t, "edit an event", ans, "rejected forbidden record")

	// The contact's code lets the officer's phone record the confirmation.
	var codes confirmationCodeAnswer
	e.call("GET", "/v1/issues/i1/confirmation-code", e.login("contactA").AccessToken, nil).json(t, &codes)
	if codes.Response != "e-resp" || len(codes.Code) != 6 {
		t.Fatalf("contact's code: got %+v, want a 6-digit code for e-resp", codes)
	}
	if r := e.call("GET", "/v1/issues/i1/confirmation-code", admin, nil); r.status != 403 {
		t.Fatalf("an admin asks for the contact's code: got %d, want 403", r.status)
	}
	_, ans = off.push(ev(off, "e-conf", "confirmed", map[string]any{"response": "e-resp", "code": codes.Code}))
	wantResults(t, "officer confirms with the contact's code", ans, "applied")

	if r := e.call("GET", "/v1/audit?action=issue.confirmed", admin, nil); !strings.Contains(string(r.body), `"object":"issue:i1"`) ||
		!strings.Contains(string(r.body), "contact's code") {
		t.Fatalf("audit of the confirmation: got %d %s, want issue:i1 recorded with the contact's code", r.status, r.body)
	}
	var detail issueDetail
	e.call("GET", "/v1/issues/i1", admin, nil).json(t, &detail)
	if detail.State.Status != pairing.IssueClosed || !detail.State.ConfirmedSolved || len(detail.Events) != 4 {
		t.Fatalf("issue after confirmation: got %+v with %d events, want closed, confirmed solved, 4 events", detail.State, len(detail.Events))
	}

	// The contact rates the resolution (5 levels).
	_, ans = con.push(con.set("ratings", "rt1", pid, map[string]any{"target_kind": "issue", "target": "i1", "level": 5, "comment": "很满意", "by": "u-contactA", "at": time.Now().UTC().Format(time.RFC3339)}))
	wantResults(t, "contact rates", ans, "applied")
	_, ans = con.push(con.set("ratings", "rt2", pid, map[string]any{"target_kind": "issue", "target": "i1", "level": 6, "by": "u-contactA", "at": at}))
	wantResults(t, "rating level 6", ans, "rejected validation_failed level")

	// Return a visit; the officer resubmits. An officer may not return a
	// visit themselves (a value equal to the current one is no write, so
	// this is tried while the visit is still submitted).
	_, ans = off.push(off.set("visits", "v1", pid, map[string]any{"status": "returned"}))
	wantResults(t, "officer sets returned", ans, "rejected forbidden status")
	off.pull()
	if r := e.call("POST", "/v1/visits/v1/return", admin, map[string]any{"comment": "请补充照片"}); r.status != 200 {
		t.Fatalf("return visit: got %d %s", r.status, r.body)
	}
	off.pull()
	if got := string(off.view["visits/v1"].Value("status")); got != `"returned"` {
		t.Fatalf("officer's view of the returned visit: status %s, want returned", got)
	}
	_, ans = off.push(off.set("visits", "v1", pid, map[string]any{"status": "submitted", "notes": "已补充"}))
	wantResults(t, "officer resubmits", ans, "applied")

	// A practical project through its life.
	_, ans = off.push(off.set("projects", "pj1", pid, map[string]any{"title": "助企融资对接会", "category": "industry", "status": "proposed"}))
	wantResults(t, "propose", ans, "applied")
	_, ans = off.push(off.set("projects", "pj1", pid, map[string]any{"status": "approved"}))
	wantResults(t, "officer approves", ans, "rejected forbidden status")
	off.pull()
	if r := e.call("PATCH", "/v1/projects/pj1", admin, map[string]any{"fields": map[string]any{"status": "approved"}}); r.status != 200 {
		t.Fatalf("admin approves: got %d %s", r.status, r.body)
	}
	off.pull()
	_, ans = off.push(off.set("projects", "pj1", pid, map[string]any{"status": "in_progress"}),
		off.set("milestones", "m1", pid, map[string]any{"project": "pj1", "title": "召开对接会", "done_at": time.Now().UTC().Format(time.RFC3339)}),
		off.set("milestones", "m2", pid, map[string]any{"project": "pj-none", "title": "x"}))
	wantResults(t, "start + milestones", ans, "applied", "applied", "rejected validation_failed project")
	_, ans = off.push(off.set("projects", "pj1", pid, map[string]any{"status": "completed", "completed_at": time.Now().UTC().Format(time.RFC3339)}))
	wantResults(t, "complete", ans, "applied")
	if r := e.call("POST", "/v1/projects/pj1/verify", admin, nil); r.status != 409 {
		t.Fatalf("verify before the contact accepted: got %d %s, want 409", r.status, r.body)
	}
	con.pull()
	_, ans = con.push(con.set("projects", "pj1", pid, map[string]any{"contact_accepted_at": time.Now().UTC().Format(time.RFC3339), "contact_accepted_by": "u-contactA"}))
	wantResults(t, "contact accepts", ans, "applied")
	_, ans = con.push(con.set("projects", "pj1", pid, map[string]any{"title": "改名"}))
	wantResults(t, "contact edits the plan", ans, "rejected forbidden title")
	if r := e.call("POST", "/v1/projects/pj1/verify", admin, nil); r.status != 200 {
		t.Fatalf("verify: got %d %s", r.status, r.body)
	}
	// The verification is the project's last decision: who and when.
	var pd projectDetail
	e.call("GET", "/v1/projects/pj1", admin, nil).json(t, &pd)
	if by, at := pd.Record.Fields["status_by"], pd.Record.Fields["status_at"]; string(by) != `"u-adminA"` || at == nil || pd.Record.Fields["status_by_name"] == nil {
		t.Fatalf("verified project: status_by %s, status_at %s, status_by_name %s; want the administrator, the time and their name", by, at, pd.Record.Fields["status_by_name"])
	}
	var board projectList
	e.call("GET", "/v1/projects?status=verified", admin, nil).json(t, &board)
	if len(board.Projects) != 1 || board.Projects[0].MilestonesDone != 1 {
		t.Fatalf("projects board, verified: got %+v, want pj1 with 1 milestone done", board)
	}

	// The dashboard figures follow.
	var ov overviewReport
	r = e.call("GET", "/v1/reports/overview?org_unit=unitA", admin, nil)
	r.json(t, &ov)
	f := ov.Figures
	if f.Visits != 1 || f.IssuesRaised != 1 || f.IssuesClosed != 1 || f.ResolutionRate.Value != 1 || f.SatisfactionRate.Num != 1 ||
		f.Coverage.Num != 1 || f.Coverage.Den != 1 || f.ProjectsVerified != 1 || f.ResponseRate.Den != 1 {
		t.Fatalf("overview figures: got %s", r.body)
	}
	// The root's overview ranks unit A with the figures of unit A's own
	// overview (one ledger call places each pairing in its units).
	var top overviewReport
	e.call("GET", "/v1/reports/overview", e.login("root").AccessToken, nil).json(t, &top)
	i := slices.IndexFunc(top.Units, func(u unitFigures) bool { return u.ID == "unitA" })
	if i < 0 {
		t.Fatalf("the root's overview: got units %+v, want unit A among them", top.Units)
	}
	got := top.Units[i].Figures
	got.At = f.At // the clock may move between the two requests
	if !reflect.DeepEqual(got, f) {
		t.Fatalf("the root's overview, unit A: got %+v, want unit A's own figures %+v", got, f)
	}
	if top.Figures.Visits != 1 || top.Figures.Pairings != f.Pairings {
		t.Fatalf("the root's overview: got %d visits over %d pairings, want 1 over %d", top.Figures.Visits, top.Figures.Pairings, f.Pairings)
	}
	if r := e.call("GET", "/v1/reports/overview", e.login("viewerB").AccessToken, nil); r.status != 200 || !strings.Contains(string(r.body), `"visits":0`) {
		t.Fatalf("another subtree's viewer: got %d %s, want zero figures", r.status, r.body)
	}
	var sch schemaAnswer
	e.call("GET", "/v1/schema", e.login("officerA").AccessToken, nil).json(t, &sch)
	if len(sch.Collections) != len(pairing.Schema) || len(sch.IssueTransitions) == 0 || sch.Photos.MaxBytes == 0 {
		t.Fatalf("schema: got %d collections, %d transitions", len(sch.Collections), len(sch.IssueTransitions))
	}
}

// TestSLAJob: overdue and closed-unconfirmed events are appended once,
// however many times and processes run the job.
func TestSLAJob(t *testing.T) {
	e, pid, off := fieldWork(t)
	admin := e.login("adminA").AccessToken
	at := e.now().UTC().Format(time.RFC3339)
	_, ans := off.push(off.set("issues", "i1", pid, map[string]any{"title": "用地审批慢", "category": "approval", "raised_by": "u-officerA", "raised_at": at}))
	wantResults(t, "raise", ans, "applied")
	due := e.now().Add(48 * time.Hour).UTC()
	if r := e.call("POST", "/v1/issues/i1/events", admin, map[string]any{"type": "dispatched", "handler": "u-officerA", "due": due}); r.status != 201 {
		t.Fatalf("dispatch: %d %s", r.status, r.body)
	}
	run := func(want int) {
		t.Helper()
		n, err := e.s.RunSLA(t.Context())
		if err != nil || n != want {
			t.Fatalf("RunSLA: got %d events (err %v), want %d", n, err, want)
		}
	}
	run(0)
	e.advance(72 * time.Hour)
	run(1)
	run(0)
	var list issueList
	admin = e.login("adminA").AccessToken // the clock moved past the token's life
	e.call("GET", "/v1/issues?overdue=true", admin, nil).json(t, &list)
	if len(list.Issues) != 1 || !list.Issues[0].Overdue {
		t.Fatalf("overdue list: got %+v", list)
	}
	// A second server process over the same store appends nothing more.
	other, err := New(Config{}, Deps{Store: e.db, Photos: e.s.photos, Now: e.now, PasswordParams: fastPasswords})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := other.RunSLA(t.Context()); err != nil || n != 0 {
		t.Fatalf("second process: got %d (err %v), want 0", n, err)
	}
	// The response clears it; no confirmation in 7 days closes it unconfirmed.
	off = e.device(t, "officerA")
	off.pull()
	_, ans = off.push(off.set("issue_events", "e-resp", pid, map[string]any{"issue": "i1", "type": "responded", "resolution": "explained",
		"at": e.now().UTC().Format(time.RFC3339), "by": "u-officerA", "role": "officer"}))
	wantResults(t, "respond", ans, "applied")
	e.advance(6 * 24 * time.Hour)
	run(0)
	e.advance(2 * 24 * time.Hour)
	run(1)
	var detail issueDetail
	e.call("GET", "/v1/issues/i1", e.login("adminA").AccessToken, nil).json(t, &detail)
	if detail.State.Status != pairing.IssueClosedUnconfirmed {
		t.Fatalf("after the confirmation window: got %s, want closed_unconfirmed", detail.State.Status)
	}
	if n, err := other.RunSLA(t.Context()); err != nil || n != 0 {
		t.Fatalf("second process after close: got %d (err %v), want 0", n, err)
	}
}

// user returns the username of the device's user ("officerA").
func (d *device) user() string { return d.owner }

// event writes, as the device's user in their role and now, the event id of
// type typ on issue in pairing pid (with extra fields); it returns the
// change to push.
func (d *device) event(id, pid, issue, typ string, extra map[string]any) syncproto.Change {
	d.t.Helper()
	f := map[string]any{"issue": issue, "type": typ, "at": time.Now().UTC().Format(time.RFC3339), "by": "u-" + d.user(), "role": roleOf(d.user())}
	maps.Copy(f, extra)
	return d.set("issue_events", id, pid, f)
}

func roleOf(user string) string {
	for _, r := range []string{"officer", "contact", "admin", "viewer"} {
		if strings.HasPrefix(user, r) {
			return r
		}
	}
	return fmt.Sprint("unknown:", user)
}

// TestDueDaysPerOrgUnit: a dispatch without a due date takes the category's
// days from the nearest org unit that sets them, else the default.
func TestDueDaysPerOrgUnit(t *testing.T) {
	e := newDomainEnv(t)
	pid, _ := domainFixture(t, e)
	admin := e.login("adminA").AccessToken
	root := e.login("root").AccessToken
	off := e.device(t, "officerA")
	off.pull()
	at := e.now().UTC().Format(time.RFC3339)
	for _, id := range []string{"i1", "i2", "i3"} {
		_, ans := off.push(off.set("issues", id, pid, map[string]any{"title": "审批", "category": "approval", "raised_by": "u-officerA", "raised_at": at}))
		wantResults(t, "raise "+id, ans, "applied")
	}
	dueAfter := func(id string) time.Duration {
		t.Helper()
		r := e.call("POST", "/v1/issues/"+id+"/events", admin, map[string]any{"type": "dispatched", "handler": "u-officerA"})
		var ans issueEventAnswer
		r.json(t, &ans)
		if r.status != 201 {
			t.Fatalf("dispatch %s: %d %s", id, r.status, r.body)
		}
		return ans.State.Due.Sub(e.now()).Round(time.Hour)
	}
	if got, want := dueAfter("i1"), time.Duration(pairing.DefaultDueDays["approval"])*24*time.Hour; got != want {
		t.Fatalf("default: due after %s, want %s", got, want)
	}
	patch := func(unit, tok string, days map[string]int) {
		t.Helper()
		var u orgUnitView
		e.call("GET", "/v1/org-units/"+unit, tok, nil).json(t, &u)
		if r := e.call("PATCH", "/v1/org-units/"+unit, tok, map[string]any{"sla_days": days, "rev": u.Rev}); r.status != 200 {
			t.Fatalf("patch %s: %d %s", unit, r.status, r.body)
		}
	}
	patch("root", root, map[string]int{"approval": 3})
	if got := dueAfter("i2"); got != 72*time.Hour {
		t.Fatalf("root sets 3 days: due after %s, want 72h", got)
	}
	patch("unitA", admin, map[string]int{"approval": 2})
	if got := dueAfter("i3"); got != 48*time.Hour {
		t.Fatalf("unit A sets 2 days (nearer than root's 3): due after %s, want 48h", got)
	}
	var u orgUnitView
	e.call("GET", "/v1/org-units/unitA", admin, nil).json(t, &u)
	if r := e.call("PATCH", "/v1/org-units/unitA", admin, map[string]any{"sla_days": map[string]int{"$where": 2}, "rev": u.Rev}); r.status != 400 {
		t.Fatalf("unknown category key: got %d %s, want 400", r.status, r.body)
	}
}

// TestConfirmationCodeGuessesThrottled: a contact's code has six digits, so
// an officer's phone guessing it through pushes is stopped after
// maxWrongCodesSubject wrong codes for that response — a right code too —
// until the throttle window has passed.
func TestConfirmationCodeGuessesThrottled(t *testing.T) {
	e, pid, off := fieldWork(t)
	admin := e.login("adminA").AccessToken
	at := time.Now().UTC().Format(time.RFC3339)
	_, ans := off.push(off.set("issues", "i1", pid, map[string]any{"title": "用工难", "category": "talent", "raised_by": "u-officerA", "raised_at": at}))
	wantResults(t, "raise", ans, "applied")
	if r := e.call("POST", "/v1/issues/i1/events", admin, map[string]any{"type": "dispatched", "handler": "u-officerA"}); r.status != 201 {
		t.Fatalf("dispatch: got %d %s", r.status, r.body)
	}
	off.pull()
	_, ans = off.push(off.event("e-resp", pid, "i1", "responded", map[string]any{"resolution": "solved", "note": "已解决"}))
	wantResults(t, "respond", ans, "applied")
	var codes confirmationCodeAnswer
	e.call("GET", "/v1/issues/i1/confirmation-code", e.login("contactA").AccessToken, nil).json(t, &codes)
	if len(codes.Code) != 6 {
		t.Fatalf("contact's code: %+v", codes)
	}

	var guesses []syncproto.Change
	var want []string
	for n := 0; len(guesses) < maxWrongCodesSubject+3; n++ {
		guess := fmt.Sprintf("%06d", n)
		if guess == codes.Code {
			continue
		}
		guesses = append(guesses, off.event(fmt.Sprintf("e-guess-%d", n), pid, "i1", "confirmed", map[string]any{"response": "e-resp", "code": guess}))
		if len(want) < maxWrongCodesSubject {
			want = append(want, "rejected forbidden code")
		} else {
			want = append(want, "rejected rate_limited code")
		}
	}
	_, ans = off.push(guesses...)
	wantResults(t, "guesses", ans, want...)
	_, ans = off.push(off.event("e-conf", pid, "i1", "confirmed", map[string]any{"response": "e-resp", "code": codes.Code}))
	wantResults(t, "the right code while throttled", ans, "rejected rate_limited code")

	e.advance(throttleWindow + time.Minute)
	off = e.device(t, "officerA") // the first phone's access token has expired
	off.pull()
	_, ans = off.push(off.event("e-conf2", pid, "i1", "confirmed", map[string]any{"response": "e-resp", "code": codes.Code}))
	wantResults(t, "the right code after the window", ans, "applied")
}
