package server

import (
	"context"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/pairsync/pairsync/storage"
)

// TestFigureRecords: the issues and ratings behind each figure of the
// overview are as many as the figure says (the routes the console's
// drill-downs use), for the same org unit and months.
func TestFigureRecords(t *testing.T) {
	e := newDomainEnv(t)
	pid, _ := domainFixture(t, e)
	admin := e.login("adminA").AccessToken
	off, con := e.device(t, "officerA"), e.device(t, "contactA")
	off.pull()
	at := time.Now().UTC().Format(time.RFC3339)
	for _, id := range []string{"i1", "i2", "i3", "i4", "i5"} {
		_, ans := off.push(off.set("issues", id, pid, map[string]any{"title": "诉求 " + id, "category": "financing", "raised_by": "u-officerA", "raised_at": at}))
		wantResults(t, "raise "+id, ans, "applied")
	}
	dispatch := func(id string, due *time.Time) {
		t.Helper()
		body := map[string]any{"type": "dispatched", "handler": "u-officerA", "handler_name": "张三"}
		if due != nil {
			body["due"] = due
		}
		if r := e.call("POST", "/v1/issues/"+id+"/events", admin, body); r.status != 201 {
			t.Fatalf("dispatch %s: got %d %s", id, r.status, r.body)
		}
	}
	// i1 is due in a minute, then the clock passes it: overdue (a dispatch
	// cannot set a due date in the past: TestEventTimes).
	soon := e.now().Add(time.Minute)
	dispatch("i1", &soon)
	dispatch("i2", nil)
	dispatch("i3", nil)
	dispatch("i4", nil)
	e.advance(2 * time.Minute)
	off.pull()
	ev := func(d *device, id, issue, typ string, extra map[string]any) {
		t.Helper()
		_, ans := d.push(d.event(id, pid, issue, typ, extra))
		wantResults(t, typ+" "+issue, ans, "applied")
	}
	ev(off, "e2s", "i2", "signed", nil)
	ev(off, "e2r", "i2", "responded", map[string]any{"resolution": "solved"})
	ev(off, "e3r", "i3", "responded", map[string]any{"resolution": "explained"})
	ev(off, "e4b", "i4", "bounced", map[string]any{"reason": "不属于本单位职责"})
	con.pull()
	ev(con, "e2c", "i2", "confirmed", map[string]any{"response": "e2r"})
	if r := e.call("POST", "/v1/issues/i3/events", admin, map[string]any{"type": "closed"}); r.status != 201 {
		t.Fatalf("close i3: got %d %s", r.status, r.body)
	}
	// Three ratings that each count (one per target and rater:
	// TestRatingsCannotBeStuffed): the contact rates i2 and i3, and an officer's phone records a
	// second rater's view of i2 with the contact's rate code.
	var codes confirmationCodeAnswer
	e.call("GET", "/v1/issues/i2/confirmation-code", e.login("contactA").AccessToken, nil).json(t, &codes)
	off.pull()
	for i, rt := range []struct {
		d      *device
		target string
		level  int
	}{{con, "i2", 5}, {con, "i3", 4}, {off, "i2", 2}} {
		f := map[string]any{"target_kind": "issue", "target": rt.target, "level": rt.level, "by": "u-" + rt.d.user(), "at": at}
		if rt.d == off {
			f["code"] = codes.RateCode
		}
		_, ans := rt.d.push(rt.d.set("ratings", "rt"+string(rune('1'+i)), pid, f))
		wantResults(t, "rate", ans, "applied")
	}

	var ov overviewReport
	e.call("GET", "/v1/reports/overview?org_unit=unitA", admin, nil).json(t, &ov)
	f := ov.Figures
	for _, tc := range []struct {
		figure string
		want   int
	}{
		{"raised", f.IssuesRaised},
		{"dispatched", f.IssuesDispatched},
		{"signed_in_time", f.ResponseRate.Num},
		{"bounced", f.BounceRate.Num},
		{"responded", f.IssuesResponded},
		{"responded_on_time", f.OnTimeRate.Num},
		{"reopened", f.ReopenRate.Num},
		{"closed", f.IssuesClosed},
		{"confirmed_solved", f.IssuesConfirmedSolved},
		{"closed_unconfirmed", f.IssuesClosedUnconfirmed},
	} {
		var list figureIssueList
		r := e.call("GET", "/v1/reports/issues?org_unit=unitA&figure="+tc.figure, admin, nil)
		r.json(t, &list)
		if r.status != 200 || list.Total != tc.want || len(list.Issues) != tc.want {
			t.Errorf("figure %s: got %d (%d listed, status %d), want %d as the overview says", tc.figure, list.Total, len(list.Issues), r.status, tc.want)
		}
	}
	// The scenario gives every figure something to count (or the test
	// would compare zeros).
	if f.IssuesRaised != 5 || f.IssuesDispatched != 4 || f.IssuesResponded != 2 || f.IssuesClosed != 2 || f.IssuesConfirmedSolved != 1 || f.BounceRate.Num != 1 {
		t.Fatalf("overview: got %+v, want 5 raised, 4 dispatched, 2 responded, 2 closed, 1 confirmed solved, 1 bounced", f.PeriodFigures)
	}
	var closed figureIssueList
	e.call("GET", "/v1/reports/issues?org_unit=unitA&figure=closed", admin, nil).json(t, &closed)
	if closed.Counts["confirmed_solved"] != f.ResolutionRate.Num {
		t.Errorf("closed issues confirmed solved: got %d, want %d (解决率's numerator)", closed.Counts["confirmed_solved"], f.ResolutionRate.Num)
	}
	var ratings ratingList
	e.call("GET", "/v1/reports/ratings?org_unit=unitA", admin, nil).json(t, &ratings)
	if ratings.Total != f.SatisfactionRate.Den || ratings.Satisfied != f.SatisfactionRate.Num || f.SatisfactionRate.Den != 3 ||
		ratings.Ratings[0].Title != "诉求 i2" {
		t.Errorf("ratings: got %d (%d satisfied, first %+v), want %d (%d) as the satisfaction rate", ratings.Total, ratings.Satisfied,
			ratings.Ratings[0], f.SatisfactionRate.Den, f.SatisfactionRate.Num)
	}
	var one ratingList
	e.call("GET", "/v1/reports/ratings?pairing=none", admin, nil).json(t, &one)
	if one.Total != 0 {
		t.Errorf("ratings of an unknown pairing: got %d, want 0", one.Total)
	}
	if r := e.call("GET", "/v1/reports/issues?figure=everything", admin, nil); r.status != 400 || !strings.Contains(string(r.body), "confirmed_solved") {
		t.Errorf("unknown figure: got %d %s, want 400 listing the figures", r.status, r.body)
	}
	var other figureIssueList
	e.call("GET", "/v1/reports/issues?figure=raised", e.login("adminB").AccessToken, nil).json(t, &other)
	if other.Total != 0 {
		t.Errorf("another subtree's admin: got %d issues, want 0", other.Total)
	}
}

// TestAttentionDevices: devices of the subtree not synced for a day,
// revoked ones left out, for the administrators of that subtree.
func TestAttentionDevices(t *testing.T) {
	e := newDomainEnv(t)
	ctx := t.Context()
	now := e.now().UTC()
	mk := func(id, user string, created, seen time.Time, revoked bool) {
		t.Helper()
		d, err := e.db.CreateDevice(ctx, storage.Device{ID: id, UserID: user, Name: id, CreatedAt: created})
		if err != nil {
			t.Fatal(err)
		}
		d.LastSeen = seen
		if revoked {
			d.RevokedAt = now
		}
		if _, err := e.db.UpdateDevice(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	mk("d-idle", "u-officerA", now.Add(-30*24*time.Hour), now.Add(-50*time.Hour), false)
	mk("d-never", "u-officerA", now.Add(-30*time.Hour), time.Time{}, false)
	mk("d-fresh", "u-officerA", now.Add(-30*24*time.Hour), now.Add(-time.Hour), false)
	mk("d-revoked", "u-officerA", now.Add(-30*24*time.Hour), now.Add(-50*time.Hour), true)
	mk("d-new", "u-contactA", now.Add(-time.Hour), time.Time{}, false)
	mk("d-b", "u-officerB", now.Add(-30*24*time.Hour), now.Add(-72*time.Hour), false)

	ids := func(user string, query string) []string {
		t.Helper()
		var list idleDeviceList
		r := e.call("GET", "/v1/devices/attention"+query, e.login(user).AccessToken, nil)
		if r.status != 200 {
			t.Fatalf("%s: got %d %s, want 200", user, r.status, r.body)
		}
		r.json(t, &list)
		var out []string
		for _, d := range list.Devices {
			out = append(out, d.ID)
		}
		return out
	}
	for _, tc := range []struct {
		user, query string
		want        []string
	}{
		{"adminA", "", []string{"d-idle", "d-never"}},
		{"adminA", "?hours=49", []string{"d-idle"}},
		{"adminB", "", []string{"d-b"}},
		{"root", "", []string{"d-b", "d-idle", "d-never"}},
	} {
		if got := ids(tc.user, tc.query); !slices.Equal(got, tc.want) {
			t.Errorf("%s%s: got %v, want %v (longest idle first)", tc.user, tc.query, got, tc.want)
		}
	}
	for _, user := range []string{"officerA", "viewerA"} { // viewers see figures, not people's devices
		if r := e.call("GET", "/v1/devices/attention", e.login(user).AccessToken, nil); r.status != 403 && r.status != 404 {
			t.Errorf("%s: got %d %s, want 403 or 404", user, r.status, r.body)
		}
	}
	if r := e.call("GET", "/v1/devices/attention?hours=0", e.login("adminA").AccessToken, nil); r.status != 400 {
		t.Errorf("hours=0: got %d, want 400", r.status)
	}
}

// TestConsolePaths: the console's screens open the app (SPA fallback).
func TestConsolePaths(t *testing.T) {
	db, photos := openStores(t)
	app := fstest.MapFS{"index.html": {Data: []byte("<!doctype html><title>app</title>")}}
	s, err := New(Config{}, Deps{Store: db, Photos: photos, Web: app})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/console", "/console/", "/console/overview", "/console/issues?overdue=true", "/console/pairings/p-1"} {
		resp, body := do(t, s, httptest.NewRequest("GET", path, nil))
		if resp.StatusCode != 200 || !strings.Contains(string(body), "<title>app</title>") {
			t.Errorf("GET %s: got %d %q, want the app's index.html", path, resp.StatusCode, body)
		}
	}
	if resp, _ := do(t, s, httptest.NewRequest("GET", "/console/x.js", nil)); resp.StatusCode != 404 {
		t.Errorf("GET /console/x.js: got %d, want 404 (not a screen)", resp.StatusCode)
	}
}

// deviceReads is a store that counts the calls that read users and devices
// (one each is one round trip to MongoDB).
type deviceReads struct {
	storage.Store
	mu sync.Mutex
	n  map[string]int
}

func (c *deviceReads) count(name string) {
	c.mu.Lock()
	c.n[name]++
	c.mu.Unlock()
}

func (c *deviceReads) reset() {
	c.mu.Lock()
	c.n = map[string]int{}
	c.mu.Unlock()
}

func (c *deviceReads) OrgUnits(ctx context.Context, path string) ([]storage.OrgUnit, error) {
	c.count("OrgUnits")
	return c.Store.OrgUnits(ctx, path)
}

func (c *deviceReads) ListUsers(ctx context.Context, q storage.UserQuery) ([]storage.User, bool, error) {
	c.count("ListUsers")
	return c.Store.ListUsers(ctx, q)
}

func (c *deviceReads) DevicesOf(ctx context.Context, userID string) ([]storage.Device, error) {
	c.count("DevicesOf")
	return c.Store.DevicesOf(ctx, userID)
}

func (c *deviceReads) IdleDevices(ctx context.Context, units []string, before time.Time) ([]storage.IdleDevice, error) {
	c.count("IdleDevices")
	return c.Store.IdleDevices(ctx, units, before)
}

// TestAttentionDevicesRoundTrips: the devices needing attention cost the
// same number of store reads for a subtree of 3 users as for one of 63
// (before: one read of devices per user).
func TestAttentionDevicesRoundTrips(t *testing.T) {
	e := newDomainEnv(t)
	counted := &deviceReads{Store: e.db, n: map[string]int{}}
	s2, err := New(Config{}, Deps{Store: counted, Photos: e.s.photos, Now: e.now, PasswordParams: fastPasswords})
	if err != nil {
		t.Fatal(err)
	}
	other := &idEnv{t: t, s: s2, db: e.db, base: serve(t, s2), clock: e.clock, units: e.units, users: e.users}
	ctx := t.Context()
	old := e.now().Add(-72 * time.Hour)
	addUsers := func(from, to int) {
		for i := from; i < to; i++ {
			id := fmt.Sprintf("u-extra%02d", i)
			if _, err := e.db.CreateUser(ctx, storage.User{ID: id, Username: fmt.Sprintf("extra%02d", i), Role: "officer", OrgUnit: "unitA", Name: "外勤"}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.db.CreateDevice(ctx, storage.Device{ID: "d-" + id, UserID: id, CreatedAt: old}); err != nil {
				t.Fatal(err)
			}
		}
	}
	reads := func(want int) int {
		t.Helper()
		tok := other.login("adminA").AccessToken
		counted.reset()
		var list idleDeviceList
		r := other.call("GET", "/v1/devices/attention", tok, nil)
		if r.status != 200 {
			t.Fatalf("attention: got %d %s, want 200", r.status, r.body)
		}
		r.json(t, &list)
		if len(list.Devices) != want {
			t.Fatalf("attention: got %d devices, want %d", len(list.Devices), want)
		}
		counted.mu.Lock()
		defer counted.mu.Unlock()
		t.Logf("store reads for %d idle devices: %v", want, counted.n)
		n := 0
		for _, v := range counted.n {
			n += v
		}
		return n
	}
	addUsers(0, 3)
	small := reads(3)
	addUsers(3, 63)
	large := reads(63)
	if large != small || small > 2 {
		t.Fatalf("store reads of users and devices: %d for 3 users, %d for 63; want the same, at most 2", small, large)
	}
}
