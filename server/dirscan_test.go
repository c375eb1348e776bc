package server

import (
	"fmt"
	"testing"

	"github.com/pairsync/pairsync/server/pairing"
)

// dirScanFixture adds n pairings of unit A (each with cps counterparties),
// the first with officerA in it, through the server's commit path.
func dirScanFixture(t *testing.T, e *idEnv, n, cps int) {
	t.Helper()
	for i := range n {
		pid := fmt.Sprintf("p-%03d", i)
		var ids []string
		for j := range cps {
			id := fmt.Sprintf("cp-%03d-%d", i, j)
			ids = append(ids, id)
			vals, _ := jsonValues(map[string]any{"name": "企业 " + id, "kind": "enterprise", "org_unit": "unitA"})
			if _, _, err := e.s.writeRecord(t.Context(), pairing.CollCounterparties, id, pairing.DirectoryScope, vals); err != nil {
				t.Fatal(err)
			}
		}
		officer := "u-officerB"
		if i == 0 {
			officer = "u-officerA"
		}
		vals, _ := jsonValues(map[string]any{"name": "结对 " + pid, "status": pairing.StatusActive, "branches": []string{"unitA"},
			"counterparties": ids, "officers": []map[string]any{{"user_id": officer, "primary": true}}})
		if _, _, err := e.s.writeRecord(t.Context(), pairing.CollPairings, pid, pairing.DirectoryScope, vals); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDirectoryPullScansOnce: one pull page of the directory scope works
// out who the user sees once, not once per counterparty record in the page
// (issue 19: at 7,000 pairings × 60,000 counterparties an officer's first
// sync cost tens of seconds of server CPU). The count is of the
// directory's passes over all its pairings (Directory.Scans), not time.
func TestDirectoryPullScansOnce(t *testing.T) {
	e := newIDEnv(t)
	dirScanFixture(t, e, 40, 5)
	for _, tc := range []struct {
		user string
		want int // counterparty records the user receives
	}{{"officerA", 5}, {"adminA", 200}, {"officerB", 195}} {
		t.Run(tc.user, func(t *testing.T) {
			d := e.device(t, tc.user)
			before := e.s.dir.Scans()
			keys, _ := d.pull() // one page: 240 directory records < pullPageRecords
			scans := e.s.dir.Scans() - before
			n := 0
			for _, k := range keys {
				if len(k) > len("counterparties/") && k[:len("counterparties/")] == "counterparties/" {
					n++
				}
			}
			if n != tc.want {
				t.Errorf("counterparty records pulled: got %d, want %d", n, tc.want)
			}
			if scans > 2 {
				t.Errorf("passes over every pairing for one pull page of 240 directory records: got %d, want at most 2 (not one per record)", scans)
			}
		})
	}
}

// TestCounterpartyListScansOnce: GET /v1/counterparties works out the
// caller's visibility once for the whole list, not once per counterparty.
func TestCounterpartyListScansOnce(t *testing.T) {
	e := newIDEnv(t)
	dirScanFixture(t, e, 40, 5)
	for _, tc := range []struct {
		user string
		want int
	}{{"officerA", 5}, {"adminA", 200}} {
		t.Run(tc.user, func(t *testing.T) {
			tok := e.login(tc.user).AccessToken
			before := e.s.dir.Scans()
			r := e.call("GET", "/v1/counterparties?limit=1000", tok, nil)
			scans := e.s.dir.Scans() - before
			var list counterpartyList
			r.json(t, &list)
			if r.status != 200 || len(list.Counterparties) != tc.want {
				t.Errorf("list: got %d with %d counterparties, want 200 with %d", r.status, len(list.Counterparties), tc.want)
			}
			if scans > 2 {
				t.Errorf("passes over every pairing for one list of 200 counterparties: got %d, want at most 2 (not one per counterparty)", scans)
			}
		})
	}
}
