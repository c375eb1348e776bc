package readmodel

import (
	"fmt"
	"time"

	"github.com/pairsync/pairsync/server/pairing"
)

// China is the time zone months are counted in (UTC+8, no daylight saving;
// a fixed zone so that no tzdata is needed).
var China = time.FixedZone("CST", 8*3600)

// Month is a calendar month in China time: year*12 + (month-1).
type Month int

// MonthOf returns the month t falls in, in China time.
func MonthOf(t time.Time) Month {
	t = t.In(China)
	return Month(t.Year()*12 + int(t.Month()) - 1)
}

// Start returns the first instant of the month, in China time.
func (m Month) Start() time.Time {
	y, mm := int(m)/12, int(m)%12
	if mm < 0 {
		y, mm = y-1, mm+12
	}
	return time.Date(y, time.Month(mm+1), 1, 0, 0, 0, 0, China)
}

// String returns the month as "2026-03".
func (m Month) String() string {
	s := m.Start()
	return fmt.Sprintf("%04d-%02d", s.Year(), int(s.Month()))
}

// ParseMonth reads a month written "2026-03".
func ParseMonth(s string) (Month, error) {
	t, err := time.ParseInLocation("2006-01", s, China)
	if err != nil {
		return 0, fmt.Errorf("pairing: month %q: want YYYY-MM", s)
	}
	return MonthOf(t), nil
}

// MarshalText writes the month as "2026-03" (so JSON shows it so).
func (m Month) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText reads a month written "2026-03".
func (m *Month) UnmarshalText(b []byte) error {
	v, err := ParseMonth(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// Rate is a ratio reported with its parts.
type Rate struct {
	Num   int     `json:"num"`
	Den   int     `json:"den"`
	Value float64 `json:"value"` // Num ÷ Den; 0 when Den is 0
}

func rate(num, den int64) Rate {
	r := Rate{Num: int(num), Den: int(den)}
	if den != 0 {
		r.Value = float64(num) / float64(den)
	}
	return r
}

// Mean is a mean duration in days with its exact parts.
type Mean struct {
	SumSeconds int64   `json:"sum_seconds"`
	Count      int     `json:"count"`
	Days       float64 `json:"days"` // SumSeconds ÷ Count ÷ 86400; 0 when Count is 0
}

func mean(sum, n int64) Mean {
	m := Mean{SumSeconds: sum, Count: int(n)}
	if n != 0 {
		m.Days = float64(sum) / float64(n) / 86400
	}
	return m
}

// PeriodFigures are the figures that sum month counters over a period.
type PeriodFigures struct {
	Visits             int `json:"visits"`
	VisitsWithEvidence int `json:"visits_with_evidence"`
	VisitsReturned     int `json:"visits_returned"`
	// VisitsPendingEvidence: visits with a photo the server does not hold
	// yet (a visit is complete once every photo of its manifest is stored).
	VisitsPendingEvidence int  `json:"visits_pending_evidence"`
	Coverage              Rate `json:"coverage"` // counterparties visited ÷ assigned

	IssuesRaised            int `json:"issues_raised"`
	IssuesDispatched        int `json:"issues_dispatched"`
	IssuesResponded         int `json:"issues_responded"`
	IssuesClosed            int `json:"issues_closed"`
	IssuesClosedUnconfirmed int `json:"issues_closed_unconfirmed"`
	IssuesConfirmedSolved   int `json:"issues_confirmed_solved"`

	ResponseRate     Rate `json:"response_rate"`     // 响应率: signed in time ÷ dispatched
	ResolutionRate   Rate `json:"resolution_rate"`   // 解决率: confirmed solved ÷ closed
	SatisfactionRate Rate `json:"satisfaction_rate"` // 满意率: level ≥ 4 ÷ ratings
	OnTimeRate       Rate `json:"on_time_rate"`      // 按时办结率: responded on time ÷ responded
	BounceRate       Rate `json:"bounce_rate"`       // bounced at least once ÷ dispatched
	ReopenRate       Rate `json:"reopen_rate"`       // reopened at least once ÷ responded

	DaysToRespond Mean `json:"days_to_respond"`
	DaysToClose   Mean `json:"days_to_close"`

	ProjectsCompleted int `json:"projects_completed"`
	ProjectsVerified  int `json:"projects_verified"`
}

// Overdue counts overdue issues by how long past their due date.
type Overdue struct {
	Total      int `json:"total"`
	Within3    int `json:"within_3_days"`  // ≤ 3 days
	Within7    int `json:"within_7_days"`  // (3, 7] days
	Within30   int `json:"within_30_days"` // (7, 30] days
	Over30Days int `json:"over_30_days"`   // > 30 days
}

// Snapshot is the part of the figures that describes now, not a period.
type Snapshot struct {
	At               time.Time                   `json:"at"`
	Overdue          Overdue                     `json:"overdue"`
	IssuesOpen       int                         `json:"issues_open"`
	IssuesByStatus   map[pairing.IssueStatus]int `json:"issues_open_by_status"`
	ProjectsByStatus map[string]int              `json:"projects_by_status"`
	ProjectsPlanned  int                         `json:"projects_planned"` // proposed + approved + deferred
}

// Figures are the KPIs administrators look at (DOMAIN.md), per pairing,
// org unit (the pairings of a subtree) and month. The Ledger maintains them
// as changes commit: each live record contributes to counters kept per (pairing, month),
// and a change replaces the record's old contribution by its new one. A
// figure for a period sums the month counters of the pairings asked for:
// O(pairings × months), never a scan of records.
//
// Definitions. Months are calendar months in China time (China, UTC+8);
// "month of X" is MonthOf(X); a period is the months [from, to). Issue
// times are IssueEvent.When() as folded by DeriveIssue into IssueState;
// an issue's state is DeriveIssue over its issue_events records preceded by
// the issue record itself as its raise (see Ledger).
//
//   - visits: live visits, by month of visited_at (a visit without a
//     readable visited_at counts nowhere). visits_with_evidence: those with
//     a location AND at least one photo in their manifest. visits_returned:
//     those whose status is "returned". visits_pending_evidence: those
//     citing a photo the server does not hold yet (photo receipts,
//     PhotoScope); a visit is complete once all its photos are stored.
//   - coverage: counterparties of the pairing with at least one visit in the
//     period ÷ counterparties assigned to the pairing (the directory's
//     current list). A visit's counterparty is its counterparty field or,
//     when that is empty, the pairing's only counterparty when it has
//     exactly one; visits to counterparties no longer assigned do not count.
//     Rolled up as Σ visited ÷ Σ assigned.
//   - issues_raised: live issues, by month of RaisedAt (the raise's When;
//     the raised_at field when no raise applied). issues_dispatched: by
//     month of the first DispatchedAt. issues_responded: by month of the
//     first RespondedAt. issues_closed: status closed, by month of
//     ClosedAt; status closed_unconfirmed is kept out and counted apart as
//     issues_closed_unconfirmed (month of ClosedAt).
//     issues_confirmed_solved: closed with ConfirmedSolved, month of ClosedAt.
//   - response rate (响应率) = SignedInTime ÷ issues_dispatched, both by month
//     of first dispatch.
//   - resolution rate (解决率) = issues_confirmed_solved ÷ issues_closed
//     (closed-unconfirmed kept out).
//   - satisfaction rate (满意率) = ratings with level ≥ 4 (非常满意 5, 满意 4)
//     ÷ ratings, by month of the rating's receipt by the server (its at
//     for ratings stored without one: RatingSummary.CountedAt); one rating
//     counts per (target, rater), the latest written (RatingSummary.Rater),
//     on issues and on projects (a rating without a readable time or level
//     counts nowhere).
//   - on-time rate (按时办结率) = RespondedOnTime ÷ issues_responded, by month
//     of first response.
//   - bounce rate = issues with Bounces ≥ 1 ÷ issues_dispatched (month of
//     first dispatch); reopen rate = issues with Reopens ≥ 1 ÷
//     issues_responded (month of first response).
//   - mean days to respond = Σ(RespondedAt − DispatchedAt) ÷
//     issues_responded (month of first response); mean days to close =
//     Σ(ClosedAt − RaisedAt) ÷ issues_closed (month of ClosedAt). Each
//     duration is truncated to whole seconds and summed as int64 seconds, so
//     sums are exact; days = seconds ÷ 86400.
//   - overdue (a snapshot at now, not by month): issues with status
//     dispatched, signed or reopened (so not responded since, and not
//     closed, closed_unconfirmed or not_accepted) whose Due is set and
//     before now; counted, and bucketed by now − Due: ≤ 3 days, ≤ 7 days,
//     ≤ 30 days, > 30 days. Open issues by status (snapshot): every status
//     but closed, closed_unconfirmed and not_accepted.
//   - projects: by status now (snapshot; "planned" = proposed + approved +
//     deferred); by month: projects_completed (month of completed_at, when
//     set), projects_verified (month of verified_at, when set).
//
// Rates carry their numerator and denominator (Rate), so nothing is hidden;
// Value is 0 when the denominator is 0.
//
// Figures hold them for a set of pairings over the months [From, To), with
// the snapshot at At. The server returns it as is (GET /v1/reports/…).
type Figures struct {
	Pairings int   `json:"pairings"`
	From     Month `json:"from"`
	To       Month `json:"to"`
	PeriodFigures
	Snapshot
}

// MonthFigures are one month's period figures, for a trend.
type MonthFigures struct {
	Month Month `json:"month"`
	PeriodFigures
}

// Counter indices of a (pairing, month) cell.
const (
	cVisits = iota
	cVisitsEvidence
	cVisitsReturned
	cVisitsPending
	cRaised
	cDispatched
	cSignedInTime
	cBounced
	cResponded
	cOnTime
	cReopened
	cRespondSeconds
	cClosed
	cConfirmedSolved
	cCloseSeconds
	cClosedUnconfirmed
	cRatings
	cSatisfied
	cProjectsCompleted
	cProjectsVerified
	nCounters
)

// counters is one (pairing, month) cell.
type counters [nCounters]int64

func (c *counters) add(o *counters) {
	for i := range c {
		c[i] += o[i]
	}
}

func (c *counters) zero() bool { return *c == counters{} }

// period turns summed counters into figures (coverage is the caller's).
func (c *counters) period() PeriodFigures {
	return PeriodFigures{
		Visits:                  int(c[cVisits]),
		VisitsWithEvidence:      int(c[cVisitsEvidence]),
		VisitsReturned:          int(c[cVisitsReturned]),
		VisitsPendingEvidence:   int(c[cVisitsPending]),
		IssuesRaised:            int(c[cRaised]),
		IssuesDispatched:        int(c[cDispatched]),
		IssuesResponded:         int(c[cResponded]),
		IssuesClosed:            int(c[cClosed]),
		IssuesClosedUnconfirmed: int(c[cClosedUnconfirmed]),
		IssuesConfirmedSolved:   int(c[cConfirmedSolved]),
		ResponseRate:            rate(c[cSignedInTime], c[cDispatched]),
		ResolutionRate:          rate(c[cConfirmedSolved], c[cClosed]),
		SatisfactionRate:        rate(c[cSatisfied], c[cRatings]),
		OnTimeRate:              rate(c[cOnTime], c[cResponded]),
		BounceRate:              rate(c[cBounced], c[cDispatched]),
		ReopenRate:              rate(c[cReopened], c[cResponded]),
		DaysToRespond:           mean(c[cRespondSeconds], c[cResponded]),
		DaysToClose:             mean(c[cCloseSeconds], c[cClosed]),
		ProjectsCompleted:       int(c[cProjectsCompleted]),
		ProjectsVerified:        int(c[cProjectsVerified]),
	}
}

// item is one part of a record's contribution: n added to counter c of
// month m.
type item struct {
	m Month
	c uint8
	n int64
}

// contribution is what one record adds to its pairing's figures; the
// Ledger subtracts it when the record changes or goes.
type contribution struct {
	items []item
	// visited: a visit's (counterparty field, month), for coverage.
	visited    bool
	visitCP    string
	visitMonth Month
	// Snapshot parts.
	issueStatus   pairing.IssueStatus
	isIssue       bool
	projectStatus string
	isProject     bool
	// watch: an issue the SLA and the overdue snapshot look at.
	watch *watch
}

func (c *contribution) add(m Month, counter uint8, n int64) {
	c.items = append(c.items, item{m: m, c: counter, n: n})
}

// watch is an issue whose status may call for the SLA job or count as
// overdue: dispatched, signed, reopened (Due) or responded (Responded).
type watch struct {
	pairing.Deadline           // its status and due date (Deadline.OverdueAt)
	Overdue          bool      // an overdue event applies already
	Responded        time.Time // of the latest response, when responded
}

func secondsBetween(a, b time.Time) int64 { return int64(b.Sub(a) / time.Second) }

// issueContribution computes an issue's contribution from its state.
func issueContribution(s *IssueSummary, latestResponse time.Time) contribution {
	st := &s.State
	c := contribution{isIssue: true, issueStatus: st.Status}
	raised := st.RaisedAt
	if raised.IsZero() {
		raised = s.RaisedAt
	}
	if !raised.IsZero() {
		c.add(MonthOf(raised), cRaised, 1)
	}
	if !st.DispatchedAt.IsZero() {
		m := MonthOf(st.DispatchedAt)
		c.add(m, cDispatched, 1)
		if st.SignedInTime {
			c.add(m, cSignedInTime, 1)
		}
		if st.Bounces >= 1 {
			c.add(m, cBounced, 1)
		}
	}
	if !st.RespondedAt.IsZero() {
		m := MonthOf(st.RespondedAt)
		c.add(m, cResponded, 1)
		if st.RespondedOnTime {
			c.add(m, cOnTime, 1)
		}
		if st.Reopens >= 1 {
			c.add(m, cReopened, 1)
		}
		c.add(m, cRespondSeconds, secondsBetween(st.DispatchedAt, st.RespondedAt))
	}
	if !st.ClosedAt.IsZero() {
		m := MonthOf(st.ClosedAt)
		switch st.Status {
		case pairing.IssueClosed:
			c.add(m, cClosed, 1)
			if st.ConfirmedSolved {
				c.add(m, cConfirmedSolved, 1)
			}
			c.add(m, cCloseSeconds, secondsBetween(raised, st.ClosedAt))
		case pairing.IssueClosedUnconfirmed:
			c.add(m, cClosedUnconfirmed, 1)
		}
	}
	switch st.Status {
	case pairing.IssueDispatched, pairing.IssueSigned, pairing.IssueReopened:
		c.watch = &watch{Deadline: pairing.Deadline{Status: st.Status, Due: st.Due}, Overdue: st.Overdue}
	case pairing.IssueResponded:
		c.watch = &watch{Deadline: pairing.Deadline{Status: st.Status, Due: st.Due}, Overdue: st.Overdue, Responded: latestResponse}
	}
	return c
}

// projectContribution computes a project's contribution.
func projectContribution(p *ProjectSummary) contribution {
	c := contribution{isProject: true, projectStatus: p.Status}
	if !p.CompletedAt.IsZero() {
		c.add(MonthOf(p.CompletedAt), cProjectsCompleted, 1)
	}
	if !p.VerifiedAt.IsZero() {
		c.add(MonthOf(p.VerifiedAt), cProjectsVerified, 1)
	}
	return c
}

// ratingContribution computes a rating's contribution.
func ratingContribution(r *RatingSummary) contribution {
	var c contribution
	if r.CountedAt().IsZero() || r.Level < 1 || r.Level > 5 {
		return c
	}
	m := MonthOf(r.CountedAt())
	c.add(m, cRatings, 1)
	if r.Level >= 4 {
		c.add(m, cSatisfied, 1)
	}
	return c
}

// openStatus reports whether an issue of the status is open (for the
// snapshot): everything but closed, closed_unconfirmed and not_accepted.
func openStatus(s pairing.IssueStatus) bool {
	return s != pairing.IssueClosed && s != pairing.IssueClosedUnconfirmed && s != pairing.IssueNotAccepted
}

func (o *Overdue) count(late time.Duration) {
	const day = 24 * time.Hour
	o.Total++
	switch {
	case late <= 3*day:
		o.Within3++
	case late <= 7*day:
		o.Within7++
	case late <= 30*day:
		o.Within30++
	default:
		o.Over30Days++
	}
}

// plannedStatus: the project statuses counted as planned.
func plannedStatus(s string) bool { return s == "proposed" || s == "approved" || s == "deferred" }
