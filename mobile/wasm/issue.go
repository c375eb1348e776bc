package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/syncproto"
)

// The issue rule on the phone: the server's own code (server/pairing's
// DeriveIssue, IssueEventFromRecord, IssueRaise, OverdueAt), so the phone
// and the server show the same status, due date and overdue flag. The web
// app keeps no copy of the rule (mobile/web/src/domain.js calls this).

// issueOptions is the third argument of deriveIssue.
type issueOptions struct {
	// Category picks the default time to resolve a dispatch that names no
	// due date (pairing.DefaultIssueRules: an unknown or missing category
	// counts as "other", as on the server); DueAfterHours and
	// SignWithinHours override it (the scenario files' rules line).
	Category        string  `json:"category"`
	DueAfterHours   float64 `json:"due_after_hours"`
	SignWithinHours float64 `json:"sign_within_hours"`
	// Now (ms since the epoch) is the time overdue and open are judged at;
	// 0: overdue only by the server's overdue event.
	Now int64 `json:"now"`
}

// issueEventInfo is one event as the issue's history shows it, in the
// rule's order.
type issueEventInfo struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Applied bool   `json:"applied"`
	Why     string `json:"why,omitempty"` // why it did not apply (English, for the log)
}

// issueInfo is pairing.IssueState in snake_case, times RFC 3339 or null.
type issueInfo struct {
	Issue           string     `json:"issue"`
	Status          string     `json:"status"`
	RaisedAt        *time.Time `json:"raised_at"`
	AcceptedAt      *time.Time `json:"accepted_at"`
	DispatchedAt    *time.Time `json:"dispatched_at"`
	SignedAt        *time.Time `json:"signed_at"`
	RespondedAt     *time.Time `json:"responded_at"`
	ClosedAt        *time.Time `json:"closed_at"`
	ConfirmedAt     *time.Time `json:"confirmed_at"`
	Due             *time.Time `json:"due"`
	Handler         string     `json:"handler"`
	HandlerName     string     `json:"handler_name"`
	Resolution      string     `json:"resolution"`
	Response        string     `json:"response"`
	Dispatches      int        `json:"dispatches"`
	Bounces         int        `json:"bounces"`
	Reopens         int        `json:"reopens"`
	Disputes        int        `json:"disputes"`
	SignedInTime    bool       `json:"signed_in_time"`
	RespondedOnTime bool       `json:"responded_on_time"`
	OverdueEvent    bool       `json:"overdue_event"` // the server's overdue event applies
	Overdue         bool       `json:"overdue"`       // OverdueAt(now), or the event
	ConfirmedSolved bool       `json:"confirmed_solved"`
	// DueRunning: the 办理期限 is in force (the issue waits for its
	// handler), so the app shows the time left or past.
	DueRunning bool             `json:"due_running"`
	Applied    []string         `json:"applied"`
	Ignored    []issueEventInfo `json:"ignored"`
	Events     []issueEventInfo `json:"events"` // every event of the issue, in the rule's order
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// issueTransitions(): the issue lifecycle table (pairing.IssueTransitions),
// the one GET /v1/schema publishes as issue_transitions, for what the app
// may show before it has the schema (and for its tests).
func issueTransitionsFn(args []string) (any, error) {
	if err := argN(args, 0); err != nil {
		return nil, err
	}
	return pairing.IssueTransitions(), nil
}

// deriveIssue(issue, events, options): the issue's state by
// pairing.DeriveIssue from the issue record (its raise; "" or null when it
// has not arrived) and its events' records (a JSON array). An event record
// that is not a valid event is listed as not applied, with why.
func deriveIssueFn(args []string) (any, error) {
	if err := argN(args, 3); err != nil {
		return nil, err
	}
	var opt issueOptions
	if args[2] != "" && args[2] != "null" {
		if err := json.Unmarshal([]byte(args[2]), &opt); err != nil {
			return nil, syncproto.Errorf(syncproto.CodeInvalidJSON, "options: %v", err)
		}
	}
	rules := pairing.DefaultIssueRules(opt.Category)
	if opt.DueAfterHours > 0 {
		rules.DueAfter = time.Duration(opt.DueAfterHours * float64(time.Hour))
	}
	if opt.SignWithinHours > 0 {
		rules.SignWithin = time.Duration(opt.SignWithinHours * float64(time.Hour))
	}
	var evs []pairing.IssueEvent
	issue, err := record(args[0])
	if err != nil {
		return nil, fmt.Errorf("issue: %w", err)
	}
	if !issue.IsZero() {
		evs = append(evs, pairing.IssueRaise(issue))
	}
	var raws []json.RawMessage
	if args[1] != "" && args[1] != "null" {
		if err := json.Unmarshal([]byte(args[1]), &raws); err != nil {
			return nil, syncproto.Errorf(syncproto.CodeInvalidJSON, "events: %v", err)
		}
	}
	var bad []issueEventInfo
	for i, raw := range raws {
		r, err := record(string(raw))
		if err != nil {
			return nil, fmt.Errorf("event %d: %w", i, err)
		}
		e, err := pairing.IssueEventFromRecord(r)
		if err != nil {
			typ := ""
			_ = json.Unmarshal(r.Value("type"), &typ)
			bad = append(bad, issueEventInfo{ID: r.ID, Type: typ, Why: err.Error()})
			continue
		}
		evs = append(evs, e)
	}
	st := pairing.DeriveIssue(evs, rules)
	out := issueInfo{
		Issue: st.Issue, Status: string(st.Status),
		RaisedAt: timePtr(st.RaisedAt), AcceptedAt: timePtr(st.AcceptedAt), DispatchedAt: timePtr(st.DispatchedAt),
		SignedAt: timePtr(st.SignedAt), RespondedAt: timePtr(st.RespondedAt), ClosedAt: timePtr(st.ClosedAt),
		ConfirmedAt: timePtr(st.ConfirmedAt), Due: timePtr(st.Due),
		Handler: st.Handler, HandlerName: st.HandlerName, Resolution: st.Resolution, Response: st.Response,
		Dispatches: st.Dispatches, Bounces: st.Bounces, Reopens: st.Reopens, Disputes: st.Disputes,
		SignedInTime: st.SignedInTime, RespondedOnTime: st.RespondedOnTime, OverdueEvent: st.Overdue,
		Overdue: st.Overdue, ConfirmedSolved: st.ConfirmedSolved,
		Applied: append([]string{}, st.Applied...), Ignored: []issueEventInfo{}, Events: []issueEventInfo{},
	}
	// The due date runs when the issue would count as overdue just after
	// it: the one rule (OverdueAt) says which statuses wait for the handler.
	out.DueRunning = !st.Due.IsZero() && st.OverdueAt(st.Due.Add(time.Nanosecond))
	if opt.Now != 0 {
		out.Overdue = st.OverdueAt(time.UnixMilli(opt.Now))
	}
	why := map[string]string{}
	for _, ig := range st.Ignored {
		out.Ignored = append(out.Ignored, issueEventInfo{ID: ig.ID, Type: string(ig.Type), Why: ig.Why})
		why[ig.ID] = ig.Why
	}
	applied := map[string]bool{}
	for _, id := range st.Applied {
		applied[id] = true
	}
	// The history: every event of the issue in DeriveIssue's order (Order,
	// then id), one entry per id, then those that could not be read.
	slices.SortFunc(evs, func(a, b pairing.IssueEvent) int {
		if c := a.Order.Compare(b.Order); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	seen := map[string]bool{}
	for _, e := range evs {
		if seen[e.ID] || !applied[e.ID] && why[e.ID] == "" {
			continue // another issue's, or a duplicate
		}
		seen[e.ID] = true
		out.Events = append(out.Events, issueEventInfo{ID: e.ID, Type: string(e.Type), Applied: applied[e.ID], Why: why[e.ID]})
	}
	out.Events = append(out.Events, bad...)
	return out, nil
}
