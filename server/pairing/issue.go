package pairing

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pairsync/pairsync/syncproto"
)

// An issue (诉求) is raised by an officer or a contact; what happens to it is
// recorded as append-only records in the collection CollIssueEvents, one
// record per event, never edited, written offline on several phones. The
// issue's status is not stored: DeriveIssue computes it from the events, in
// the order of their HLCs, so that the phone and the server, receiving
// concurrent events in any order, show the same status.

// RoleSystem is the role of events the server writes itself (overdue,
// closed_unconfirmed). No user has it: Role.Valid reports false for it.
const RoleSystem Role = "system"

// EventType is the type of an issue event.
type EventType string

// The issue events (DOMAIN.md): raised → accepted or not accepted → dispatched
// (交办) → signed (签收) → responded → confirmed or disputed → reopened → closed.
const (
	EventRaised            EventType = "raised"
	EventAccepted          EventType = "accepted"
	EventNotAccepted       EventType = "not_accepted"
	EventDispatched        EventType = "dispatched" // 交办: starts the SLA clock
	EventSigned            EventType = "signed"     // 签收
	EventBounced           EventType = "bounced"    // 退回
	EventResponded         EventType = "responded"
	EventConfirmed         EventType = "confirmed"
	EventDisputed          EventType = "disputed"
	EventReopened          EventType = "reopened"
	EventClosed            EventType = "closed"
	EventClosedUnconfirmed EventType = "closed_unconfirmed"
	EventOverdue           EventType = "overdue"
)

// Valid reports whether t is a known event type.
func (t EventType) Valid() bool {
	_, ok := transitionOf(t)
	return ok
}

// EventTypes lists every event type, in the order of the lifecycle.
func EventTypes() []EventType {
	out := make([]EventType, len(issueTransitions))
	for i, tr := range issueTransitions {
		out[i] = tr.Event
	}
	return out
}

// IssueStatus is an issue's status, derived from its events.
type IssueStatus string

// The statuses. The zero status ("") is that of an issue whose raised event
// has not arrived.
const (
	IssueRaised            IssueStatus = "raised"
	IssueAccepted          IssueStatus = "accepted"
	IssueNotAccepted       IssueStatus = "not_accepted"
	IssueDispatched        IssueStatus = "dispatched"
	IssueSigned            IssueStatus = "signed"
	IssueBounced           IssueStatus = "bounced"
	IssueArbitration       IssueStatus = "arbitration" // bounced twice: an administrator decides
	IssueResponded         IssueStatus = "responded"
	IssueDisputed          IssueStatus = "disputed"
	IssueReopened          IssueStatus = "reopened"
	IssueClosed            IssueStatus = "closed"
	IssueClosedUnconfirmed IssueStatus = "closed_unconfirmed" // no confirmation in time: counted apart
)

// The resolutions of a response.
const (
	ResolutionSolved    = "solved"
	ResolutionPartly    = "partly"
	ResolutionExplained = "explained"
	ResolutionCannot    = "cannot" // cannot be solved
)

var resolutions = []string{ResolutionSolved, ResolutionPartly, ResolutionExplained, ResolutionCannot}

// IssueTransition is one row of the issue lifecycle: the event, the
// statuses it applies in, the status it leads to, who may append it and the
// fields it needs. The /v1/schema route publishes the table.
type IssueTransition struct {
	From  []IssueStatus `json:"from"` // "" is the issue before its first event
	Event EventType     `json:"event"`
	// To is the status after the event; "" when it is unchanged or
	// computed (see Note).
	To    IssueStatus `json:"to,omitempty"`
	Roles []Role      `json:"roles"`
	// WithCode are the roles that may append the event only with the
	// contact's one-time code (an officer recording the contact's answer on
	// the contact's behalf). The server verifies the code when the event is
	// pushed; DeriveIssue only requires that one is present.
	WithCode []Role   `json:"with_code,omitempty"`
	Needs    []string `json:"needs,omitempty"` // fields that must be non-empty
	Note     string   `json:"note,omitempty"`
}

// issueTransitions is the lifecycle: one row per event type.
var issueTransitions = []IssueTransition{
	{Event: EventRaised, From: []IssueStatus{""}, To: IssueRaised,
		Roles: []Role{Officer, Contact, Admin},
		Note:  "only as the first event"},
	{Event: EventAccepted, From: []IssueStatus{IssueRaised}, To: IssueAccepted,
		Roles: []Role{Officer, Admin}},
	{Event: EventNotAccepted, From: []IssueStatus{IssueRaised}, To: IssueNotAccepted,
		Roles: []Role{Officer, Admin}, Needs: []string{"reason"}},
	{Event: EventDispatched, From: []IssueStatus{IssueRaised, IssueAccepted, IssueBounced, IssueArbitration, IssueReopened}, To: IssueDispatched,
		Roles: []Role{Admin}, Needs: []string{"handler"},
		Note: "sets the handler and the due date (due, else the category's default after the dispatch)"},
	{Event: EventSigned, From: []IssueStatus{IssueDispatched}, To: IssueSigned,
		Roles: []Role{Officer, Admin},
		Note:  "by the handler (checked at push)"},
	{Event: EventBounced, From: []IssueStatus{IssueDispatched, IssueSigned},
		Roles: []Role{Officer, Admin}, Needs: []string{"reason"},
		Note: "to bounced; the second and every later bounce to arbitration"},
	{Event: EventResponded, From: []IssueStatus{IssueDispatched, IssueSigned, IssueReopened}, To: IssueResponded,
		Roles: []Role{Officer, Admin}, Needs: []string{"resolution"},
		Note: "resolution is solved, partly, explained or cannot; counts as signing when not yet signed; clears overdue"},
	{Event: EventConfirmed, From: []IssueStatus{IssueResponded}, To: IssueClosed,
		Roles: []Role{Contact}, WithCode: []Role{Officer},
		Note: "ignored when response names another response than the latest"},
	{Event: EventDisputed, From: []IssueStatus{IssueResponded}, To: IssueDisputed,
		Roles: []Role{Contact}, WithCode: []Role{Officer}, Needs: []string{"reason"},
		Note: "ignored when response names another response than the latest"},
	{Event: EventReopened, From: []IssueStatus{IssueDisputed, IssueClosed, IssueClosedUnconfirmed}, To: IssueReopened,
		Roles: []Role{Admin, Officer}, Needs: []string{"reason"},
		Note: "back to the handler"},
	{Event: EventClosed, From: []IssueStatus{IssueResponded, IssueDisputed, IssueNotAccepted}, To: IssueClosed,
		Roles: []Role{Admin}},
	{Event: EventClosedUnconfirmed, From: []IssueStatus{IssueResponded}, To: IssueClosedUnconfirmed,
		Roles: []Role{RoleSystem},
		Note:  "no confirmation in time"},
	{Event: EventOverdue, From: []IssueStatus{IssueDispatched, IssueSigned, IssueReopened},
		Roles: []Role{RoleSystem},
		Note:  "the due date passed without a response: status unchanged, overdue set"},
}

// IssueTransitions returns the lifecycle table, one row per event type. The
// caller owns the returned slices.
func IssueTransitions() []IssueTransition {
	out := make([]IssueTransition, len(issueTransitions))
	for i, tr := range issueTransitions {
		tr.From = slices.Clone(tr.From)
		tr.Roles = slices.Clone(tr.Roles)
		tr.WithCode = slices.Clone(tr.WithCode)
		tr.Needs = slices.Clone(tr.Needs)
		out[i] = tr
	}
	return out
}

func transitionOf(t EventType) (IssueTransition, bool) {
	for _, tr := range issueTransitions {
		if tr.Event == t {
			return tr, true
		}
	}
	return IssueTransition{}, false
}

// MayAppend reports whether a user of the role may append an event of type
// t; withCode says whether the event carries the contact's one-time code.
// Push validation calls it with the pusher's role (never RoleSystem: only
// the server writes system events).
func MayAppend(role Role, t EventType, withCode bool) bool {
	tr, ok := transitionOf(t)
	return ok && (slices.Contains(tr.Roles, role) || withCode && slices.Contains(tr.WithCode, role))
}

// IssueEvent is one event, read from its record by IssueEventFromRecord.
type IssueEvent struct {
	ID    string // the record's id
	Issue string // the issue record's id
	Type  EventType
	// At is when it happened, by the writer's device clock; ReceivedAt is
	// when the server first stored it (zero until then). Use When.
	At         time.Time
	ReceivedAt time.Time
	By         string // user id; "system" for the server's events
	Role       Role   // the writer's role when writing
	Reason     string
	Handler    string // user id of the person it is dispatched to
	// HandlerName is the handler's name as the dispatcher saw it.
	HandlerName string
	Resolution  string // solved, partly, explained or cannot
	Note        string
	Response    string // the responded event a confirmation or dispute answers
	Code        string // the contact's one-time code, when an officer records their answer
	Due         time.Time
	Evidence    []string // photo SHA-256s, lowercase hex
	// Order is the deterministic order key: the HLC and dot of the
	// record's "type" field entry (the write that created the event). A
	// writer's HLC exceeds every HLC it has seen, so an event written after
	// seeing another sorts after it even when device clocks are wrong.
	Order EventOrder
}

// EventOrder orders events: by HLC, then replica id, then counter.
type EventOrder struct {
	HLC     syncproto.HLC
	Replica syncproto.ReplicaID
	Counter uint64
}

// Compare returns -1, 0 or +1 as a sorts before, with or after b.
func (a EventOrder) Compare(b EventOrder) int {
	if c := a.HLC.Compare(b.HLC); c != 0 {
		return c
	}
	return syncproto.Dot{Replica: a.Replica, Counter: a.Counter}.Compare(syncproto.Dot{Replica: b.Replica, Counter: b.Counter})
}

// clockLead is how far ahead of its receipt by the server an event's device
// time may count.
const clockLead = 5 * time.Minute

// When is the time the event counts at for the metrics: At, but never later
// than ReceivedAt + 5 minutes when ReceivedAt is known (a device clock in
// the future cannot make an answer look early), and never zero: without At,
// ReceivedAt, then the HLC's wall time. It is zero only when all three are.
func (e IssueEvent) When() time.Time {
	t := e.At
	if !e.ReceivedAt.IsZero() {
		if limit := e.ReceivedAt.Add(clockLead); t.After(limit) {
			t = limit
		}
		if t.IsZero() {
			t = e.ReceivedAt
		}
	}
	if t.IsZero() && !e.Order.HLC.IsZero() {
		t = e.Order.HLC.Time()
	}
	return t
}

// field returns the value of one of the event's string fields by its
// record field name, for IssueTransition.Needs.
func (e IssueEvent) field(name string) string {
	switch name {
	case "reason":
		return e.Reason
	case "handler":
		return e.Handler
	case "resolution":
		return e.Resolution
	case "response":
		return e.Response
	case "code":
		return e.Code
	}
	return ""
}

// IssueRaise is the raised event an issue record stands for: the issue
// record is itself the raise (At raised_at, ReceivedAt received_at, By
// raised_by, Role officer, Order the HLC and dot of its raised_at field).
// The server's ledger and the phone (mobile/wasm) both derive an issue from
// it and its events.
func IssueRaise(r syncproto.Record) IssueEvent {
	f, received := r.Fields["raised_at"], TimeField(r, "received_at")
	return IssueEvent{
		ID: r.ID, Issue: r.ID, Type: EventRaised, At: TimeField(r, "raised_at"), ReceivedAt: received,
		By: str(r, "raised_by"), Role: Officer,
		Order: EventOrder{HLC: ClampOrder(f.HLC, received), Replica: f.Dot.Replica, Counter: f.Dot.Counter},
	}
}

// Deadline is what the overdue rule reads of an issue: its status and the
// due date in force.
type Deadline struct {
	Status IssueStatus
	Due    time.Time
}

// OverdueAt is the one overdue rule (the KPIs' snapshot, the SLA job, the
// lists, the exports and the phone through mobile/wasm): the issue waits
// for its handler (dispatched, signed or reopened) and its due date has
// passed. The overdue flag of the SLA job's event says the same once the
// server has run it; OverdueAt needs no event, so a phone offline sees it
// too.
func (d Deadline) OverdueAt(now time.Time) bool {
	switch d.Status {
	case IssueDispatched, IssueSigned, IssueReopened:
		return !d.Due.IsZero() && d.Due.Before(now)
	}
	return false
}

// OverdueAt reports whether the issue counts as overdue at now
// (Deadline.OverdueAt).
func (st IssueState) OverdueAt(now time.Time) bool {
	return Deadline{Status: st.Status, Due: st.Due}.OverdueAt(now)
}

// DueSoonWithin is how close a 办理期限 must be for the issue to count as
// 即将超期 (due soon) in 待办 and in the SLA's reminder.
const DueSoonWithin = 24 * time.Hour

// DueRunning reports whether the issue's 办理期限 is in force (it waits for
// its handler), whatever the time: the rule OverdueAt applies.
func (st IssueState) DueRunning() bool {
	return !st.Due.IsZero() && st.OverdueAt(st.Due.Add(time.Nanosecond))
}

// DueSoonAt reports whether the issue is 即将超期 at now: its 办理期限 in
// force, not yet past, and ending within DueSoonWithin.
func (st IssueState) DueSoonAt(now time.Time) bool {
	return st.DueRunning() && !st.OverdueAt(now) && st.Due.Sub(now) <= DueSoonWithin
}

// IssueEventFromRecord reads an event from its record. A malformed event is
// refused with a *syncproto.Error (CodeValidation) whose Field names the
// record field at fault: a missing issue or type, an unknown type, a time
// that is not RFC 3339, a value of the wrong JSON type. A deleted record is
// refused too: events are append-only, and a deleted one does not count.
func IssueEventFromRecord(r syncproto.Record) (IssueEvent, error) {
	bad := func(field, format string, args ...any) (IssueEvent, error) {
		err := syncproto.Errorf(syncproto.CodeValidation, "issue event %s: "+format, append([]any{r.ID}, args...)...)
		err.Field = field
		why(err, ReasonEventInvalid, "field", field)
		return IssueEvent{}, err
	}
	if r.Collection != CollIssueEvents {
		return bad("", "in collection %q, want %q", r.Collection, CollIssueEvents)
	}
	if r.Deleted() {
		return bad("", "deleted: events are append-only")
	}
	e := IssueEvent{ID: r.ID}
	var typ, role string
	strs := []struct {
		name string
		to   *string
	}{
		{"issue", &e.Issue}, {"type", &typ}, {"role", &role}, {"by", &e.By}, {"reason", &e.Reason}, {"handler", &e.Handler},
		{"handler_name", &e.HandlerName}, {"resolution", &e.Resolution}, {"note", &e.Note},
		{"response", &e.Response}, {"code", &e.Code},
	}
	for _, s := range strs {
		if v := r.Value(s.name); present(v) {
			var ok bool
			if *s.to, ok = jsonString(v); !ok {
				return bad(s.name, "%s is not a string", s.name)
			}
		}
	}
	e.Type, e.Role = EventType(typ), Role(role)
	if e.Issue == "" {
		return bad("issue", "missing issue")
	}
	if typ == "" {
		return bad("type", "missing type")
	}
	if !e.Type.Valid() {
		return bad("type", "unknown type %q", typ)
	}
	times := []struct {
		name string
		to   *time.Time
	}{{"at", &e.At}, {"received_at", &e.ReceivedAt}, {"due", &e.Due}}
	for _, tm := range times {
		v := r.Value(tm.name)
		if !present(v) {
			continue
		}
		s, ok := jsonString(v)
		if !ok {
			return bad(tm.name, "%s is not a string", tm.name)
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return bad(tm.name, "%s %q is not an RFC 3339 time", tm.name, s)
		}
		*tm.to = t.UTC()
	}
	if v := r.Value("evidence"); present(v) {
		var ok bool
		if e.Evidence, ok = stringsOf(v); !ok {
			return bad("evidence", "evidence is not an array of strings")
		}
		for _, h := range e.Evidence {
			if !isSHA256Hex(h) {
				return bad("evidence", "evidence %q is not a lowercase hex SHA-256", h)
			}
		}
	}
	f := r.Fields["type"]
	e.Order = EventOrder{HLC: f.HLC, Replica: f.Dot.Replica, Counter: f.Dot.Counter}
	// A device clock far ahead cannot pin an event last: once
	// the server has received the event, its place in the order is at most
	// syncproto.MaxClockAhead after that receipt, as the server's own clock
	// would have it. Every replica reads the same received_at, so the order
	// stays the same everywhere.
	e.Order.HLC = ClampOrder(e.Order.HLC, e.ReceivedAt)
	return e, nil
}

// ClampOrder bounds an event's place in the order by its receipt: at most
// syncproto.MaxClockAhead after the server received it (no bound before).
func ClampOrder(h syncproto.HLC, received time.Time) syncproto.HLC {
	if received.IsZero() {
		return h
	}
	if limit := received.Add(syncproto.MaxClockAhead).UnixMilli(); h.Wall > limit {
		return syncproto.HLC{Wall: limit, Logical: h.Logical}
	}
	return h
}

// present reports whether a field value is set (absent and null are not).
func present(v json.RawMessage) bool {
	return len(v) > 0 && string(v) != "null"
}

func isSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range []byte(s) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// IssueRules are one issue's parameters. A zero field takes its default.
type IssueRules struct {
	// DueAfter is the time allowed from a dispatch that names no due date
	// to the response (the category's default, configurable per org unit).
	DueAfter time.Duration
	// SignWithin is the time allowed from the first dispatch to the first
	// signing (签收), for the response rate.
	SignWithin time.Duration
}

// The default rules, for an issue whose category is not known (the phone
// derives an issue whose record has not arrived yet): the "other"
// category's days (DefaultDueDays), as the server's SLA (sla.go) counts
// an unknown category, so the phone and the server agree.
const (
	DefaultDueAfter   = otherDueDays * slaDay
	DefaultSignWithin = DefaultSignDays * slaDay
)

// IssueState is everything derived from an issue's events. Times are UTC,
// zero when unset.
type IssueState struct {
	Issue  string // the issue's id
	Status IssueStatus

	RaisedAt     time.Time
	AcceptedAt   time.Time
	DispatchedAt time.Time // first dispatch
	SignedAt     time.Time // first signing (or first response, when it came unsigned)
	RespondedAt  time.Time // first response
	ClosedAt     time.Time // latest closing (closed, confirmed or closed_unconfirmed); cleared by a reopening
	ConfirmedAt  time.Time // the confirmation that closed it; cleared by a reopening

	Due         time.Time // of the current dispatch: its due, else its time + DueAfter
	Handler     string    // of the current (latest) dispatch
	HandlerName string
	Dispatcher  string // who made the current dispatch (its event's By): told when it is due soon or overdue
	Resolution  string // of the latest response
	Response    string // id of the latest response: what a confirmation or dispute answers

	Dispatches, Bounces, Reopens, Disputes int

	SignedInTime    bool // first signing within SignWithin of the first dispatch
	RespondedOnTime bool // first response at or before the due date in force then
	Overdue         bool // an overdue event applies; cleared by a later response or dispatch
	ConfirmedSolved bool // closed by a confirmation of a response whose resolution is solved

	Applied []string       // ids of the events that took effect, in order
	Ignored []IgnoredEvent // events that did not apply in the state they met, in order
}

// IgnoredEvent is an event that did not apply, and why. It stays in the log
// and is shown with the issue: nothing recorded is lost.
type IgnoredEvent struct {
	ID   string
	Type EventType
	Why  string
}

// DeriveIssue computes an issue's state from its events: it sorts them by
// Order (then id, then content: equal ids are versions of one record) and
// applies each in turn, ignoring those the lifecycle table does not allow
// in the status they meet. It is pure and deterministic: any order of the
// same events, with duplicates, gives a deep-equal state.
//
// The issue is the one named by the first raised event (by Order), or by
// the first event when none is raised; events of other issues are left out
// (not listed as ignored). An event id counts once.
func DeriveIssue(events []IssueEvent, rules IssueRules) IssueState {
	if rules.DueAfter <= 0 {
		rules.DueAfter = DefaultDueAfter
	}
	if rules.SignWithin <= 0 {
		rules.SignWithin = DefaultSignWithin
	}
	evs := slices.Clone(events)
	slices.SortFunc(evs, compareEvents)
	f := issueFold{rules: rules, responses: map[string]bool{}}
	if len(evs) > 0 {
		f.st.Issue = evs[0].Issue
		for _, e := range evs {
			if e.Type == EventRaised {
				f.st.Issue = e.Issue
				break
			}
		}
	}
	seen := map[string]bool{}
	for _, e := range evs {
		if e.Issue != f.st.Issue || seen[e.ID] {
			continue
		}
		seen[e.ID] = true
		f.apply(e)
	}
	return f.st
}

// compareEvents is a total order on events: Order, id, then content, so
// that two versions of one record sort the same way in any input order.
func compareEvents(a, b IssueEvent) int {
	if c := a.Order.Compare(b.Order); c != 0 {
		return c
	}
	if c := strings.Compare(a.ID, b.ID); c != 0 {
		return c
	}
	for _, c := range []int{
		strings.Compare(a.Issue, b.Issue), strings.Compare(string(a.Type), string(b.Type)),
		a.At.Compare(b.At), a.ReceivedAt.Compare(b.ReceivedAt), a.Due.Compare(b.Due),
		strings.Compare(a.By, b.By), strings.Compare(string(a.Role), string(b.Role)),
		strings.Compare(a.Reason, b.Reason), strings.Compare(a.Handler, b.Handler),
		strings.Compare(a.HandlerName, b.HandlerName), strings.Compare(a.Resolution, b.Resolution),
		strings.Compare(a.Note, b.Note), strings.Compare(a.Response, b.Response),
		strings.Compare(a.Code, b.Code), slices.Compare(a.Evidence, b.Evidence),
	} {
		if c != 0 {
			return c
		}
	}
	return 0
}

// issueFold applies events one by one.
type issueFold struct {
	rules     IssueRules
	st        IssueState
	responses map[string]bool // ids of the responses applied so far
	last      time.Time       // the time the latest applied event counts at
}

func (f *issueFold) apply(e IssueEvent) {
	if why := f.refuse(e); why != "" {
		f.st.Ignored = append(f.st.Ignored, IgnoredEvent{ID: e.ID, Type: e.Type, Why: why})
		return
	}
	f.st.Applied = append(f.st.Applied, e.ID)
	st := &f.st
	// An event never counts before the events it follows:
	// its device time is clamped to the latest time already applied, so a
	// response dated before its dispatch counts at the dispatch, and the
	// figures never see a step earlier than the one it answers.
	when := e.When().UTC()
	if when.Before(f.last) {
		when = f.last
	}
	f.last = when
	if tr, _ := transitionOf(e.Type); tr.To != "" {
		st.Status = tr.To
	}
	switch e.Type {
	case EventRaised:
		st.RaisedAt = when
	case EventAccepted:
		st.AcceptedAt = when
	case EventDispatched:
		st.Dispatches++
		if st.DispatchedAt.IsZero() {
			st.DispatchedAt = when
		}
		st.Handler, st.HandlerName, st.Dispatcher = e.Handler, e.HandlerName, e.By
		st.Due = e.Due.UTC()
		if e.Due.IsZero() {
			st.Due = when.Add(f.rules.DueAfter)
		}
		st.Overdue = false // a new due date is in force
	case EventSigned:
		f.sign(when)
	case EventBounced:
		st.Bounces++
		st.Status = IssueBounced
		if st.Bounces >= 2 {
			st.Status = IssueArbitration
		}
	case EventResponded:
		if st.SignedAt.IsZero() {
			f.sign(when)
		}
		if st.RespondedAt.IsZero() {
			st.RespondedAt = when
			st.RespondedOnTime = !st.Due.IsZero() && !when.After(st.Due)
		}
		st.Resolution, st.Response = e.Resolution, e.ID
		f.responses[e.ID] = true
		st.Overdue = false
	case EventConfirmed:
		st.ConfirmedAt, st.ClosedAt = when, when
		st.ConfirmedSolved = st.Resolution == ResolutionSolved
	case EventDisputed:
		st.Disputes++
	case EventReopened:
		st.Reopens++
		st.ClosedAt, st.ConfirmedAt, st.ConfirmedSolved = time.Time{}, time.Time{}, false
	case EventClosed, EventClosedUnconfirmed:
		st.ClosedAt = when
	case EventOverdue:
		st.Overdue = true
	}
}

func (f *issueFold) sign(when time.Time) {
	f.st.SignedAt = when
	f.st.SignedInTime = !f.st.DispatchedAt.IsZero() && when.Sub(f.st.DispatchedAt) <= f.rules.SignWithin
}

// refuse says why e does not apply in the current state ("" when it does).
func (f *issueFold) refuse(e IssueEvent) string {
	tr, ok := transitionOf(e.Type)
	if !ok {
		return fmt.Sprintf("unknown event type %q", e.Type)
	}
	if !MayAppend(e.Role, e.Type, e.Code != "") {
		if slices.Contains(tr.WithCode, e.Role) {
			return fmt.Sprintf("an %s may record %s only with the contact's code", e.Role, e.Type)
		}
		return fmt.Sprintf("role %q may not append %s", e.Role, e.Type)
	}
	if status := f.st.Status; !slices.Contains(tr.From, status) {
		switch {
		case e.Type == EventRaised:
			return "the issue was already raised"
		case status == "":
			return fmt.Sprintf("%s before the issue was raised", e.Type)
		}
		return fmt.Sprintf("%s does not apply to an issue that is %s", e.Type, status)
	}
	for _, need := range tr.Needs {
		if strings.TrimSpace(e.field(need)) == "" {
			return fmt.Sprintf("%s needs %s", e.Type, need)
		}
	}
	switch e.Type {
	case EventResponded:
		if !slices.Contains(resolutions, e.Resolution) {
			return fmt.Sprintf("resolution %q is not one of %s", e.Resolution, strings.Join(resolutions, ", "))
		}
	case EventConfirmed, EventDisputed:
		switch {
		case e.Response == "" || e.Response == f.st.Response:
		case f.responses[e.Response]:
			return fmt.Sprintf("answers an earlier response (%s), not the latest (%s)", e.Response, f.st.Response)
		default:
			return fmt.Sprintf("answers %s, which is not the latest response (%s)", e.Response, f.st.Response)
		}
	}
	return ""
}
