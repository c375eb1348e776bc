package server

import (
	"net/http"
	"slices"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/server/readmodel"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/syncproto"
)

// issueItem is an issue (诉求) in a list, with the state derived from its
// events.
type issueItem struct {
	ID           string              `json:"id"`
	Pairing      string              `json:"pairing"`
	Counterparty string              `json:"counterparty,omitempty"`
	Title        string              `json:"title"`
	Category     string              `json:"category"`
	Priority     string              `json:"priority,omitempty"`
	RaisedBy     string              `json:"raised_by"`
	RaisedAt     time.Time           `json:"raised_at"`
	Status       pairing.IssueStatus `json:"status"`
	Handler      string              `json:"handler,omitempty"`
	HandlerName  string              `json:"handler_name,omitempty"`
	Due          time.Time           `json:"due,omitzero"`
	Overdue      bool                `json:"overdue"`
	Bounces      int                 `json:"bounces"`
	Reopens      int                 `json:"reopens"`
	Resolution   string              `json:"resolution,omitempty"`
	Seq          uint64              `json:"seq"`
}

type issueList struct {
	Issues []issueItem `json:"issues"`
	Total  int         `json:"total"`
}

func (s *Server) viewIssue(is readmodel.IssueSummary) issueItem {
	now := s.now()
	return issueItem{ID: is.ID, Pairing: is.Pairing, Counterparty: is.Counterparty, Title: is.Title, Category: is.Category,
		Priority: is.Priority, RaisedBy: is.RaisedBy, RaisedAt: is.RaisedAt, Status: is.State.Status, Handler: is.State.Handler,
		HandlerName: is.State.HandlerName, Due: is.State.Due, Overdue: is.State.OverdueAt(now),
		Bounces: is.State.Bounces, Reopens: is.State.Reopens, Resolution: is.State.Resolution, Seq: is.Seq}
}

// listIssues: GET /v1/issues — overdue first, then by due date (the
// 督办 workbench's order).
func (s *Server) listIssues(c *fiber.Ctx) error {
	items, total, err := listedPage(s, c, s.ledger.Issues, s.viewIssue)
	if err != nil {
		return err
	}
	return c.JSON(issueList{Issues: items, Total: total})
}

// issueDetail is an issue with its whole event history and derived state.
type issueDetail struct {
	Record recordView       `json:"record"`
	State  issueStateView   `json:"state"`
	Events []issueEventView `json:"events"`
}

// issueStateView is an issue's derived state (pairing.IssueState) as the
// API shows it: snake_case like every other answer, a time not reached
// (not yet dispatched…) null rather than 0001-01-01T00:00:00Z.
type issueStateView struct {
	Issue           string              `json:"issue"`
	Status          pairing.IssueStatus `json:"status"`
	RaisedAt        *time.Time          `json:"raised_at"`
	AcceptedAt      *time.Time          `json:"accepted_at"`
	DispatchedAt    *time.Time          `json:"dispatched_at"` // first dispatch
	SignedAt        *time.Time          `json:"signed_at"`     // first signing (or first response, when it came unsigned)
	RespondedAt     *time.Time          `json:"responded_at"`  // first response
	ClosedAt        *time.Time          `json:"closed_at"`     // latest closing; null again after a reopening
	ConfirmedAt     *time.Time          `json:"confirmed_at"`  // the confirmation that closed it
	Due             *time.Time          `json:"due"`           // of the current dispatch
	Handler         string              `json:"handler"`       // user id of the current dispatch's handler
	HandlerName     string              `json:"handler_name"`
	Resolution      string              `json:"resolution"` // of the latest response
	Response        string              `json:"response"`   // id of the latest response event
	Dispatches      int                 `json:"dispatches"`
	Bounces         int                 `json:"bounces"`
	Reopens         int                 `json:"reopens"`
	Disputes        int                 `json:"disputes"`
	SignedInTime    bool                `json:"signed_in_time"`
	RespondedOnTime bool                `json:"responded_on_time"`
	Overdue         bool                `json:"overdue"`
	ConfirmedSolved bool                `json:"confirmed_solved"`
	Applied         []string            `json:"applied"` // ids of the events that took effect, in order
	Ignored         []ignoredEventView  `json:"ignored"` // events that did not apply, and why
}

// ignoredEventView is an event that did not apply in the state it met.
type ignoredEventView struct {
	ID   string            `json:"id"`
	Type pairing.EventType `json:"type"`
	Why  string            `json:"why"`
}

// nullTime is t, or nil (JSON null) when t is zero.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func viewIssueState(st pairing.IssueState) issueStateView {
	v := issueStateView{Issue: st.Issue, Status: st.Status, RaisedAt: nullTime(st.RaisedAt), AcceptedAt: nullTime(st.AcceptedAt),
		DispatchedAt: nullTime(st.DispatchedAt), SignedAt: nullTime(st.SignedAt), RespondedAt: nullTime(st.RespondedAt),
		ClosedAt: nullTime(st.ClosedAt), ConfirmedAt: nullTime(st.ConfirmedAt), Due: nullTime(st.Due), Handler: st.Handler,
		HandlerName: st.HandlerName, Resolution: st.Resolution, Response: st.Response, Dispatches: st.Dispatches, Bounces: st.Bounces,
		Reopens: st.Reopens, Disputes: st.Disputes, SignedInTime: st.SignedInTime, RespondedOnTime: st.RespondedOnTime,
		Overdue: st.Overdue, ConfirmedSolved: st.ConfirmedSolved, Applied: st.Applied, Ignored: []ignoredEventView{}}
	if v.Applied == nil {
		v.Applied = []string{}
	}
	for _, ig := range st.Ignored {
		v.Ignored = append(v.Ignored, ignoredEventView{ID: ig.ID, Type: ig.Type, Why: ig.Why})
	}
	return v
}

// issueEventView is one event of an issue's log (pairing.IssueEvent) as
// the API shows it. The contact's one-time code an officer recorded an
// answer with and the internal order key are not shown.
type issueEventView struct {
	ID          string            `json:"id"`
	Issue       string            `json:"issue"`
	Type        pairing.EventType `json:"type"`
	At          time.Time         `json:"at"`          // by the writer's device clock
	ReceivedAt  *time.Time        `json:"received_at"` // when the server first stored it
	By          string            `json:"by"`
	Role        pairing.Role      `json:"role"`
	Reason      string            `json:"reason,omitempty"`
	Handler     string            `json:"handler,omitempty"`
	HandlerName string            `json:"handler_name,omitempty"`
	Resolution  string            `json:"resolution,omitempty"`
	Note        string            `json:"note,omitempty"`
	Response    string            `json:"response,omitempty"`
	Due         *time.Time        `json:"due"`
	Evidence    []string          `json:"evidence,omitempty"`
}

func viewIssueEvent(e pairing.IssueEvent) issueEventView {
	return issueEventView{ID: e.ID, Issue: e.Issue, Type: e.Type, At: e.At, ReceivedAt: nullTime(e.ReceivedAt), By: e.By, Role: e.Role,
		Reason: e.Reason, Handler: e.Handler, HandlerName: e.HandlerName, Resolution: e.Resolution, Note: e.Note, Response: e.Response,
		Due: nullTime(e.Due), Evidence: e.Evidence}
}

// getIssue: GET /v1/issues/:id.
func (s *Server) getIssue(c *fiber.Ctx) error {
	lr := loaded[loadedRecord](c)
	if err := s.ledger.Refresh(c.UserContext()); err != nil {
		return err
	}
	is, _, err := s.ledger.Issue(c.UserContext(), lr.rec.ID)
	if err != nil {
		return err
	}
	events := make([]issueEventView, 0, len(is.Events))
	for _, e := range is.Events {
		events = append(events, viewIssueEvent(e))
	}
	return c.JSON(issueDetail{Record: viewRecord(lr.rec, lr.seq), State: viewIssueState(is.State), Events: events})
}

// issueEventRequest appends one event to an issue's log from the web
// console: the fields of an issue_events record (GET /v1/schema), without
// issue, by, role and at, which the server fills in.
type issueEventRequest struct {
	Type        pairing.EventType `json:"type"`
	Reason      string            `json:"reason,omitempty"`
	Handler     string            `json:"handler,omitempty"`
	HandlerName string            `json:"handler_name,omitempty"`
	// Due defaults, for a dispatch, to the category's days from the org
	// tree's SLA settings.
	Due        *time.Time `json:"due,omitempty"`
	Resolution string     `json:"resolution,omitempty"`
	Evidence   []string   `json:"evidence,omitempty"`
	Note       string     `json:"note,omitempty"`
	Response   string     `json:"response,omitempty"`
	Code       string     `json:"code,omitempty"`
}

type issueEventAnswer struct {
	Event recordView     `json:"event"`
	State issueStateView `json:"state"`
}

// appendIssueEvent: POST /v1/issues/:id/events — dispatch (交办), accept,
// close, arbitrate a bounce, or any event the caller's role may append,
// through the commit path: the officer's phone receives it on its next
// sync. An event that does not apply in the issue's current state is
// refused here (409) rather than appended and ignored.
func (s *Server) appendIssueEvent(c *fiber.Ctx) error {
	var req issueEventRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	ctx, p := c.UserContext(), principal(c)
	lr := loaded[loadedRecord](c)
	if !req.Type.Valid() {
		return validation("type", "unknown event type %q", req.Type)
	}
	if err := s.ledger.Refresh(ctx); err != nil {
		return err
	}
	before, _, err := s.ledger.Issue(ctx, lr.rec.ID)
	if err != nil {
		return err
	}
	if !s.applies(before, req.Type, p) {
		return errorf(http.StatusConflict, syncproto.CodeConflict, "a %s event does not apply to an issue that is %s", req.Type, before.State.Status)
	}
	now := s.now().UTC()
	fields := map[string]any{"issue": lr.rec.ID, "type": string(req.Type), "at": now.Format(time.RFC3339),
		"by": p.UserID, "role": string(p.Role)}
	set := func(k, v string) {
		if v != "" {
			fields[k] = v
		}
	}
	set("reason", req.Reason)
	set("handler", req.Handler)
	set("handler_name", req.HandlerName)
	set("resolution", req.Resolution)
	set("note", req.Note)
	set("response", req.Response)
	set("code", req.Code)
	if len(req.Evidence) > 0 {
		fields["evidence"] = req.Evidence
	}
	switch {
	case req.Due != nil:
		fields["due"] = req.Due.UTC().Format(time.RFC3339)
	case req.Type == pairing.EventDispatched:
		rules := s.sla.IssueRules(lr.pairing, pairing.Str(lr.rec, "category"))
		fields["due"] = now.Add(rules.DueAfter).Format(time.RFC3339)
	}
	values, err := jsonValues(fields)
	if err != nil {
		return err
	}
	id := newID()
	r, seq, err := s.writeAs(ctx, p, pairing.CollIssueEvents, id, lr.rec.Pairing, values, writeOptions{create: true,
		check: func(_, next syncproto.Record) error {
			// Never appended and silently ignored: an event
			// the issue's order would not apply is refused with the reason.
			if ev, err := pairing.IssueEventFromRecord(next); err == nil {
				st, _, err := s.ledger.IssueWith(ctx, lr.rec.ID, []pairing.IssueEvent{ev})
				if err != nil {
					return err
				}
				for _, ig := range st.Ignored {
					if ig.ID == ev.ID {
						e := errorf(http.StatusConflict, syncproto.CodeConflict, "this %s would not take effect: %s", req.Type, ig.Why)
						e.Wire.Reason = pairing.ReasonNotApplied
						return e
					}
				}
			}
			return nil // an officer's confirmation carries the contact's code: pairing.Admit
		}})
	if err != nil {
		return err
	}
	if err := s.ledger.Refresh(ctx); err != nil {
		return err
	}
	after, _, err := s.ledger.Issue(ctx, lr.rec.ID)
	if err != nil {
		return err
	}
	s.audit(c, storage.AuditEvent{Action: "issue." + string(req.Type), Object: "issue:" + lr.rec.ID, Result: "ok", OrgPath: p.OrgPath})
	return c.Status(http.StatusCreated).JSON(issueEventAnswer{Event: viewRecord(r, seq), State: viewIssueState(after.State)})
}

// applies reports whether an event of type t by p would take effect on the
// issue as it stands (DeriveIssue over its events plus this one).
func (s *Server) applies(is readmodel.IssueSummary, t pairing.EventType, p pairing.Principal) bool {
	for _, tr := range pairing.IssueTransitions() {
		if tr.Event == t && (len(tr.From) == 0 || slices.Contains(tr.From, is.State.Status)) {
			return true
		}
	}
	return false
}

// confirmationCode answers a contact's request for the code they read out
// to an officer whose phone records their confirmation or rating.
type confirmationCodeAnswer struct {
	// Code confirms or disputes the response named by Response.
	Code     string `json:"code,omitempty"`
	Response string `json:"response,omitempty"`
	// RateCode lets the officer's phone record the contact's rating.
	RateCode string `json:"rate_code"`
	// AcceptCode (projects) lets it record the contact's acceptance.
	AcceptCode string `json:"accept_code,omitempty"`
}

// issueCode: GET /v1/issues/:id/confirmation-code — contacts only.
func (s *Server) issueCode(c *fiber.Ctx) error {
	ctx, p := c.UserContext(), principal(c)
	if p.Role != pairing.Contact {
		return errorf(http.StatusForbidden, syncproto.CodeForbidden, "confirmation codes are the contact's own")
	}
	lr := loaded[loadedRecord](c)
	if err := s.ledger.Refresh(ctx); err != nil {
		return err
	}
	is, _, err := s.ledger.Issue(ctx, lr.rec.ID)
	if err != nil {
		return err
	}
	var ans confirmationCodeAnswer
	if is.State.Status == pairing.IssueResponded && is.State.Response != "" {
		ans.Response = is.State.Response
		if ans.Code, err = s.confirmationCode(ctx, "confirm", lr.rec.ID+"/"+is.State.Response); err != nil {
			return err
		}
	}
	if ans.RateCode, err = s.confirmationCode(ctx, "rate", pairing.RateSubject(s.resolver(), lr.rec.Pairing, "issue", lr.rec.ID)); err != nil {
		return err
	}
	return c.JSON(ans)
}
