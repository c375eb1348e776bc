package server

import (
	"slices"
	"testing"
)

// TestPairingPeopleAndConflicts: the people of a pairing name every writer
// (officers, contacts, the administrators above it, with their devices), and
// a same-field conflict made by two devices is listed for administrators
// with each value's writer and time until someone settles it.
func TestPairingPeopleAndConflicts(t *testing.T) {
	e := newDomainEnv(t)
	pid, _ := domainFixture(t, e)
	admin := e.login("adminA").AccessToken
	a1, a2 := e.device(t, "officerA"), e.device(t, "officerA")

	var people peopleView
	r := e.call("GET", "/v1/pairings/"+pid+"/people", a1.token, nil)
	r.json(t, &people)
	names := map[string]personView{}
	for _, p := range people.People {
		names[p.Name] = p
	}
	if r.status != 200 || names["officerA"].Role != "officer" || names["contactA"].Role != "contact" || names["adminA"].Role != "admin" ||
		names["root"].Role != "admin" || !slices.Contains(names["officerA"].Devices, a1.id) || !slices.Contains(names["officerA"].Devices, a2.id) {
		t.Fatalf("people: got %d %+v, want officerA (both devices), contactA, adminA and root", r.status, people.People)
	}
	if _, ok := names["adminB"]; ok {
		t.Errorf("people: adminB of another subtree is listed")
	}
	if r := e.call("GET", "/v1/pairings/"+pid+"/people", e.login("officerB").AccessToken, nil); r.status != 404 {
		t.Errorf("people, officer of another pairing: got %d, want 404", r.status)
	}

	_, ans := a1.push(a1.set("visits", "v1", pid, map[string]any{"officers": []string{"u-officerA"}, "mode": "onsite",
		"visited_at": "2026-03-01T09:00:00Z", "notes": "初稿", "participants": []map[string]string{{"name": "王经理", "title": "总经理"}}}))
	wantResults(t, "record", ans, "applied")
	a2.pull()
	a1.pull()
	_, ans = a1.push(a1.set("visits", "v1", pid, map[string]any{"notes": "甲的记录"}))
	wantResults(t, "edit 1", ans, "applied")
	_, ans = a2.push(a2.set("visits", "v1", pid, map[string]any{"notes": "乙的记录"}))
	wantResults(t, "edit 2", ans, "merged")

	var list conflictList
	r = e.call("GET", "/v1/pairings/"+pid+"/conflicts", admin, nil)
	r.json(t, &list)
	if r.status != 200 || len(list.Conflicts) != 1 {
		t.Fatalf("conflicts: got %d %s, want one", r.status, r.body)
	}
	c := list.Conflicts[0]
	if c.Collection != "visits" || c.ID != "v1" || c.Field != "notes" || c.Label.ZH != "走访记录" || len(c.Values) != 2 || !c.Values[0].Current {
		t.Fatalf("conflict: got %+v, want notes of v1 with two values, the current first", c)
	}
	for _, v := range c.Values {
		if v.By == nil || v.By.Name != "officerA" || v.At.IsZero() {
			t.Errorf("value %s: by %+v at %v, want officerA and a time", v.Value, v.By, v.At)
		}
	}
	if r := e.call("GET", "/v1/pairings/"+pid+"/conflicts", e.login("adminB").AccessToken, nil); r.status != 404 {
		t.Errorf("conflicts, admin of another subtree: got %d, want 404", r.status)
	}

	// Settled: a write that has seen both values.
	a2.pull()
	_, ans = a2.push(a2.set("visits", "v1", pid, map[string]any{"notes": "甲的记录"}))
	wantResults(t, "settle", ans, "applied")
	e.call("GET", "/v1/pairings/"+pid+"/conflicts", admin, nil).json(t, &list)
	if len(list.Conflicts) != 0 {
		t.Errorf("after settling: got %+v, want no conflict", list.Conflicts)
	}
}
