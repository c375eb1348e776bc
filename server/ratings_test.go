package server

import (
	"fmt"
	"testing"
	"time"

	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/syncproto"
)

// TestRatingsCannotBeStuffed (SECURITY.md 13): one rating
// per (target, rater) counts, the latest written; a rating's target exists
// in the same pairing in a ratable state; a rate code records one rating;
// a back-dated rating counts in the month the server received it.
func TestRatingsCannotBeStuffed(t *testing.T) {
	e := newDomainEnv(t)
	pid, _ := domainFixture(t, e)
	off, con := e.device(t, "officerA"), e.device(t, "contactA")
	off.pull()
	raiseAndDispatch(t, e, off, pid, "i1")
	at := e.now().UTC().Format(time.RFC3339)
	rate := func(d *device, id, target string, level int, extra map[string]any) syncproto.Change {
		f := map[string]any{"target_kind": "issue", "target": target, "level": level, "by": "u-" + d.user(), "at": at}
		for k, v := range extra {
			f[k] = v
		}
		return d.set("ratings", id, pid, f)
	}
	con.pull()
	_, ans := con.push(rate(con, "r-early", "i1", 5, nil))
	wantResults(t, "rating an issue not yet answered", ans, "rejected validation_failed target")
	if ans.Results[0].Error.Reason != pairing.ReasonNotRatable {
		t.Fatalf("reason: got %q, want %q", ans.Results[0].Error.Reason, pairing.ReasonNotRatable)
	}
	_, ans = con.push(rate(con, "r-none", "i-none", 5, nil))
	wantResults(t, "rating an issue that does not exist", ans, "rejected validation_failed target")

	_, ans = off.push(off.set("issue_events", "e-resp", pid, map[string]any{"issue": "i1", "type": "responded", "resolution": "solved",
		"by": "u-officerA", "role": "officer", "at": at}))
	wantResults(t, "respond", ans, "applied")

	// Ten ratings from the contact: the last counts, once.
	var many []syncproto.Change
	var want []string
	for n := range 10 {
		level := 5
		if n == 9 {
			level = 2
		}
		many = append(many, rate(con, fmt.Sprintf("r%d", n), "i1", level, nil))
		want = append(want, "applied")
	}
	_, ans = con.push(many...)
	wantResults(t, "ten ratings of one issue", ans, want...)
	admin := e.login("adminA").AccessToken
	figures := func() overviewReport {
		t.Helper()
		var ov overviewReport
		e.call("GET", "/v1/reports/overview?org_unit=unitA", admin, nil).json(t, &ov)
		return ov
	}
	if f := figures().Figures.SatisfactionRate; f.Den != 1 || f.Num != 0 {
		t.Fatalf("satisfaction after ten ratings by one contact: got %d/%d, want 0/1 (the latest, level 2, counts once)", f.Num, f.Den)
	}
	var list ratingList
	e.call("GET", "/v1/reports/ratings?org_unit=unitA", admin, nil).json(t, &list)
	if len(list.Ratings) != 1 || list.Ratings[0].ID != "r9" {
		t.Fatalf("ratings behind the figure: got %+v, want r9 alone", list.Ratings)
	}

	// The rate code records one rating on an officer's phone.
	var codes confirmationCodeAnswer
	e.call("GET", "/v1/issues/i1/confirmation-code", e.login("contactA").AccessToken, nil).json(t, &codes)
	off.pull()
	_, ans = off.push(rate(off, "r-code1", "i1", 5, map[string]any{"code": codes.RateCode}))
	wantResults(t, "the officer records the rating with the code", ans, "applied")
	_, ans = off.push(rate(off, "r-code2", "i1", 5, map[string]any{"code": codes.RateCode}))
	wantResults(t, "the same code again", ans, "rejected forbidden code")
	var next confirmationCodeAnswer
	e.call("GET", "/v1/issues/i1/confirmation-code", e.login("contactA").AccessToken, nil).json(t, &next)
	if next.RateCode == codes.RateCode {
		t.Fatalf("the contact's rate code after its use: still %s, want a new one", next.RateCode)
	}
	if f := figures().Figures.SatisfactionRate; f.Den != 2 || f.Num != 1 {
		t.Fatalf("satisfaction: got %d/%d, want 1/2 (the contact's own and the coded one)", f.Num, f.Den)
	}

	// Back-dated into last month: counts this month, when it was received.
	lastMonth := e.now().AddDate(0, -1, 0).UTC()
	_, ans = con.push(con.set("ratings", "r-back", pid, map[string]any{"target_kind": "issue", "target": "i1", "level": 5, "by": "u-contactA",
		"at": lastMonth.Format(time.RFC3339)}))
	wantResults(t, "a back-dated rating", ans, "applied")
	m := lastMonth.Format("2006-01")
	var ov overviewReport
	e.call("GET", "/v1/reports/overview?org_unit=unitA&from="+m+"&to="+m, admin, nil).json(t, &ov)
	if ov.Figures.SatisfactionRate.Den != 0 {
		t.Fatalf("last month's satisfaction after a back-dated rating: got %d/%d, want nothing rated", ov.Figures.SatisfactionRate.Num, ov.Figures.SatisfactionRate.Den)
	}
}
