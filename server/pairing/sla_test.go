package pairing

import (
	"context"
	"testing"
	"time"

	"github.com/pairsync/pairsync/storage"
)

// TestOneDefaultDuePeriod (issue 21): a dispatch that names no due date in
// an issue whose category is unknown gets the same due date on the phone
// (DeriveIssue with no rules, DefaultIssueRules) as on the server (SLA with
// no org unit setting it): the "other" category's days. Before, DeriveIssue
// fell back to 5 days and the server to "other"'s 10.
func TestOneDefaultDuePeriod(t *testing.T) {
	l := &issueLog{at: time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)}
	l.add("e1", EventRaised, Officer)
	d := l.add("e2", EventDispatched, Admin, withNeeds)
	want := d.At.Add(time.Duration(DefaultDueDays[OtherCategory]) * 24 * time.Hour)
	server := &SLA{Units: func(context.Context) ([]storage.OrgUnit, error) { return nil, nil }}
	pr := Pairing{ID: "p1", BranchPaths: []string{"/c1/d1/b1/"}}
	for name, rules := range map[string]IssueRules{
		"no rules (the phone, no category)": {},
		"DefaultIssueRules(\"\")":           DefaultIssueRules(""),
		"DefaultIssueRules(unknown)":        DefaultIssueRules("no-such-category"),
		"the server's SLA, no category":     server.IssueRules(pr, ""),
		"the server's SLA, other":           server.IssueRules(pr, OtherCategory),
	} {
		if got := DeriveIssue(l.events, rules).Due; !got.Equal(want) {
			t.Errorf("%s: got due %v, want %v", name, got, want)
		}
	}
}

// TestSLANearestUnit: the SLA days come from the pairing's first branch,
// then its ancestors, else the defaults; Invalidate reads the tree again.
func TestSLANearestUnit(t *testing.T) {
	units := []storage.OrgUnit{
		{ID: "c1", SLADays: map[string]int{"tax": 4, ConfirmDaysKey: 2}},
		{ID: "d1", SLADays: map[string]int{"tax": 3}},
		{ID: "b1"},
	}
	reads := 0
	sla := &SLA{Units: func(context.Context) ([]storage.OrgUnit, error) { reads++; return units, nil }}
	pr := Pairing{ID: "p1", BranchPaths: []string{"/c1/d1/b1/"}}
	const day = 24 * time.Hour
	for _, tc := range []struct {
		name      string
		got, want time.Duration
	}{
		{"tax: the department's, nearer than the committee's", sla.IssueRules(pr, "tax").DueAfter, 3 * day},
		{"policy: the default", sla.IssueRules(pr, "policy").DueAfter, time.Duration(DefaultDueDays["policy"]) * day},
		{"sign: the default", sla.IssueRules(pr, "tax").SignWithin, DefaultSignDays * day},
		{"confirm: the committee's", sla.ConfirmAfter(pr), 2 * day},
		{"no branch: the default", sla.ConfirmAfter(Pairing{ID: "p2"}), DefaultConfirmDays * day},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	if reads != 1 {
		t.Errorf("tree read %d times, want once (cached)", reads)
	}
	units[1].SLADays = map[string]int{"tax": 6}
	sla.Invalidate()
	if got := sla.IssueRules(pr, "tax").DueAfter; got != 6*day {
		t.Errorf("after Invalidate: got %v, want %v", got, 6*day)
	}
}

// TestSLAVersion: with Version set, the tree is read once and kept while
// the count is not due for a check; Invalidate reads it again.
func TestSLAVersion(t *testing.T) {
	reads, checks := 0, 0
	units := []storage.OrgUnit{{ID: "b1", SLADays: map[string]int{"tax": 2}}}
	sla := &SLA{
		Units:   func(context.Context) ([]storage.OrgUnit, error) { reads++; return units, nil },
		Version: func(context.Context) (uint64, error) { checks++; return 7, nil },
	}
	pr := Pairing{ID: "p1", BranchPaths: []string{"/b1/"}}
	for range 3 {
		if got := sla.IssueRules(pr, "tax").DueAfter; got != 2*24*time.Hour {
			t.Fatalf("due after: got %v, want 48h", got)
		}
	}
	if reads != 1 || checks != 1 {
		t.Errorf("tree read %d times, count %d times; want once each (checked at most every %v)", reads, checks, unitCheckEvery)
	}
	sla.Invalidate()
	sla.IssueRules(pr, "tax")
	if reads != 2 {
		t.Errorf("after Invalidate: tree read %d times, want 2", reads)
	}
}
