package server

import (
	"fmt"
	"testing"

	"github.com/pairsync/pairsync/syncproto"
)

// TestVisitListCallsDoNotGrowWithPage: the visit list reads what the
// ledger does not keep of the visits it shows (titles, photos, …) in one
// storage call, not one per visit: a list of 40 makes as many calls as a
// list of 4 (issue 19: constant round trips per report; it was one Get per
// visit shown, 101 calls for the pairing page at province scale).
func TestVisitListCallsDoNotGrowWithPage(t *testing.T) {
	w := newPushCallsWorld(t)
	admin := w.login("adminA").AccessToken
	list := func(n int) map[string]int {
		t.Helper()
		w.counted.Reset()
		r := w.call("GET", "/v1/visits?pairing="+w.pid+"&limit=100", admin, nil)
		total, by := w.counted.Calls()
		if r.status != 200 {
			t.Fatalf("GET /v1/visits: %d %s", r.status, r.body)
		}
		var ans struct {
			Visits []struct {
				ID    string `json:"id"`
				Title string `json:"title"`
			} `json:"visits"`
		}
		r.json(t, &ans)
		if len(ans.Visits) < n {
			t.Fatalf("listed %d visits, want at least %d", len(ans.Visits), n)
		}
		for _, v := range ans.Visits {
			if v.Title == "" {
				t.Fatalf("visit %s listed without its title (not filled from storage)", v.ID)
			}
		}
		t.Logf("%d visits listed: %d storage calls %v", len(ans.Visits), total, by)
		return by
	}
	push := func(prefix string, n int) {
		t.Helper()
		var chs []syncproto.Change
		for i := range n {
			chs = append(chs, w.off.set("visits", fmt.Sprintf("%s-%03d", prefix, i), w.pid,
				map[string]any{"mode": "onsite", "visited_at": "2026-12-01T09:00:00Z", "officers": []string{"u-officerA"},
					"title": fmt.Sprintf("走访 %s %d", prefix, i), "notes": "走访"}))
		}
		w.pushOnce(t, syncproto.StatusApplied, chs)
	}
	push("few", 4)
	small := list(4)
	push("many", 36)
	large := list(40)
	for _, op := range []string{"Get", "GetMany"} {
		if small[op] != large[op] {
			t.Errorf("%s calls: %d listing 4 visits, %d listing 40: the list reads per visit", op, small[op], large[op])
		}
	}
}
