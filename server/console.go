package server

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/server/readmodel"
)

// The administrators' console (mobile/web, under /console/) shows the
// figures of GET /v1/reports/overview and links each one to the records
// behind it. Most of them are a list route with filters: visits by month
// visited (GET /v1/visits), issues by month raised and overdue issues
// (GET /v1/issues), projects by status (GET /v1/projects). The routes here
// serve what no list route can select: the issues behind the figures
// counted by the month of their dispatch, response or closing (the 三率),
// the ratings behind the satisfaction rate (满意率), and the devices of a
// subtree that have not synced for a day.

// issueFigures maps a figure of readmodel.Figures (the part after "issues_",
// or the rate's numerator) to the test an issue passes to count in it for
// the months [from, to): the definitions of the comment of readmodel.Figures.
var issueFigures = map[string]func(is *readmodel.IssueSummary, in func(time.Time) bool) bool{
	// issues_raised: by month of the raise (its When; raised_at when no
	// raise applied).
	"raised": func(is *readmodel.IssueSummary, in func(time.Time) bool) bool {
		at := is.State.RaisedAt
		if at.IsZero() {
			at = is.RaisedAt
		}
		return in(at)
	},
	// issues_dispatched (the response and bounce rates' denominator): month
	// of the first dispatch.
	"dispatched": func(is *readmodel.IssueSummary, in func(time.Time) bool) bool { return in(is.State.DispatchedAt) },
	// 响应率's numerator: signed within the signing window.
	"signed_in_time": func(is *readmodel.IssueSummary, in func(time.Time) bool) bool {
		return in(is.State.DispatchedAt) && is.State.SignedInTime
	},
	"bounced": func(is *readmodel.IssueSummary, in func(time.Time) bool) bool {
		return in(is.State.DispatchedAt) && is.State.Bounces >= 1
	},
	// issues_responded (the on-time and reopen rates' denominator): month of
	// the first response.
	"responded": func(is *readmodel.IssueSummary, in func(time.Time) bool) bool { return in(is.State.RespondedAt) },
	"responded_on_time": func(is *readmodel.IssueSummary, in func(time.Time) bool) bool {
		return in(is.State.RespondedAt) && is.State.RespondedOnTime
	},
	"reopened": func(is *readmodel.IssueSummary, in func(time.Time) bool) bool {
		return in(is.State.RespondedAt) && is.State.Reopens >= 1
	},
	// issues_closed (解决率's denominator): status closed, month of closing.
	"closed": func(is *readmodel.IssueSummary, in func(time.Time) bool) bool {
		return is.State.Status == pairing.IssueClosed && in(is.State.ClosedAt)
	},
	// issues_confirmed_solved (解决率's numerator).
	"confirmed_solved": func(is *readmodel.IssueSummary, in func(time.Time) bool) bool {
		return is.State.Status == pairing.IssueClosed && is.State.ConfirmedSolved && in(is.State.ClosedAt)
	},
	"closed_unconfirmed": func(is *readmodel.IssueSummary, in func(time.Time) bool) bool {
		return is.State.Status == pairing.IssueClosedUnconfirmed && in(is.State.ClosedAt)
	},
}

// figureIssue is an issue behind a figure: the list's item with the times
// and flags the figures count it by.
type figureIssue struct {
	issueItem
	DispatchedAt    time.Time `json:"dispatched_at,omitzero"`
	SignedAt        time.Time `json:"signed_at,omitzero"`
	SignedInTime    bool      `json:"signed_in_time"`
	RespondedAt     time.Time `json:"responded_at,omitzero"`
	RespondedOnTime bool      `json:"responded_on_time"`
	ClosedAt        time.Time `json:"closed_at,omitzero"`
	ConfirmedSolved bool      `json:"confirmed_solved"`
}

type figureIssueList struct {
	Figure string          `json:"figure"`
	From   readmodel.Month `json:"from"`
	To     readmodel.Month `json:"to"`
	Issues []figureIssue   `json:"issues"`
	Total  int             `json:"total"`
	// Counts says how many of the Total issues carry each flag:
	// signed_in_time, responded_on_time, confirmed_solved.
	Counts map[string]int `json:"counts"`
	Now    time.Time      `json:"now"`
}

// inMonths reports whether t falls in the months [from, to) (a zero time
// never does).
func inMonths(from, to readmodel.Month) func(time.Time) bool {
	return func(t time.Time) bool {
		if t.IsZero() {
			return false
		}
		m := readmodel.MonthOf(t)
		return m >= from && m < to
	}
}

// figureIssues: GET /v1/reports/issues?figure=&org_unit=&from=&to= (and the
// pairing filters of the overview) — the issues an issue figure of the
// overview counts, with the same pairings and months, overdue first as in
// GET /v1/issues.
func (s *Server) figureIssues(c *fiber.Ctx) error {
	figure := c.Query("figure")
	keep, ok := issueFigures[figure]
	if !ok {
		names := make([]string, 0, len(issueFigures))
		for k := range issueFigures {
			names = append(names, k)
		}
		slices.Sort(names)
		return badRequest("figure", "figure must be one of %s", strings.Join(names, ", "))
	}
	from, to, prs, err := s.reportScope(c)
	if err != nil {
		return err
	}
	now := s.now()
	in := inMonths(from, to)
	var all []readmodel.IssueSummary
	for _, is := range s.ledger.Issues(pairingIDs(prs), readmodel.Filter{Now: now}) {
		if keep(&is, in) {
			all = append(all, is)
		}
	}
	pg, total, err := page(c, all)
	if err != nil {
		return err
	}
	out := figureIssueList{Figure: figure, From: from, To: to - 1, Issues: make([]figureIssue, 0, len(pg)), Total: total, Now: now,
		Counts: map[string]int{"signed_in_time": 0, "responded_on_time": 0, "confirmed_solved": 0}}
	for _, is := range all {
		st := &is.State
		for k, v := range map[string]bool{"signed_in_time": st.SignedInTime, "responded_on_time": st.RespondedOnTime, "confirmed_solved": st.ConfirmedSolved} {
			if v {
				out.Counts[k]++
			}
		}
	}
	for _, is := range pg {
		st := is.State
		out.Issues = append(out.Issues, figureIssue{issueItem: s.viewIssue(is), DispatchedAt: st.DispatchedAt, SignedAt: st.SignedAt,
			SignedInTime: st.SignedInTime, RespondedAt: st.RespondedAt, RespondedOnTime: st.RespondedOnTime, ClosedAt: st.ClosedAt,
			ConfirmedSolved: st.ConfirmedSolved})
	}
	return c.JSON(out)
}

// ratingItem is a rating (满意度评价) of an issue or a project.
type ratingItem struct {
	ID         string    `json:"id"`
	Pairing    string    `json:"pairing"`
	TargetKind string    `json:"target_kind"`
	Target     string    `json:"target"`
	Title      string    `json:"title,omitempty"` // of the issue or project rated
	By         string    `json:"by"`
	Level      int       `json:"level"`
	Satisfied  bool      `json:"satisfied"` // 非常满意 or 满意 (level ≥ 4)
	Comment    string    `json:"comment,omitempty"`
	At         time.Time `json:"at"`
}

type ratingList struct {
	From      readmodel.Month `json:"from"`
	To        readmodel.Month `json:"to"`
	Ratings   []ratingItem    `json:"ratings"`
	Total     int             `json:"total"`
	Satisfied int             `json:"satisfied"`
}

// figureRatings: GET /v1/reports/ratings?org_unit=&from=&to=&pairing= (and
// the pairing filters of the overview) — the ratings the satisfaction rate
// (满意率) counts: those of the pairings, by month of their receipt
// (RatingSummary.CountedAt), with a level from 1 to 5, the latest of each
// (target, rater); newest first.
func (s *Server) figureRatings(c *fiber.Ctx) error {
	from, to, prs, err := s.reportScope(c)
	if err != nil {
		return err
	}
	ids := pairingIDs(prs)
	if one := c.Query("pairing"); one != "" {
		ids = slices.DeleteFunc(ids, func(id string) bool { return id != one })
	}
	if !pairing.MayRead(principal(c).Role, pairing.CollRatings) {
		ids = nil
	}
	in := inMonths(from, to)
	var all []readmodel.RatingSummary
	out := ratingList{From: from, To: to - 1}
	for _, r := range s.ledger.Ratings(ids, readmodel.Filter{}) {
		if in(r.CountedAt()) && r.Level >= 1 && r.Level <= 5 {
			all = append(all, r)
			if r.Level >= 4 {
				out.Satisfied++
			}
		}
	}
	pg, total, err := page(c, all)
	if err != nil {
		return err
	}
	out.Total, out.Ratings = total, make([]ratingItem, 0, len(pg))
	for _, r := range pg {
		it := ratingItem{ID: r.ID, Pairing: r.Pairing, TargetKind: r.TargetKind, Target: r.Target, By: r.By, Level: r.Level,
			Satisfied: r.Level >= 4, Comment: r.Comment, At: r.At}
		switch r.TargetKind {
		case "issue":
			if is, ok := s.ledger.ListedIssue(r.Target); ok {
				it.Title = is.Title
			}
		case "project":
			if ps, ok := s.ledger.Project(r.Target); ok {
				it.Title = ps.Title
			}
		}
		out.Ratings = append(out.Ratings, it)
	}
	return c.JSON(out)
}

// idleDevice is a device that has not synced for a while, with its owner.
type idleDevice struct {
	deviceView
	Username string `json:"username"`
	UserName string `json:"user_name,omitempty"`
	Role     string `json:"role"`
	OrgUnit  string `json:"org_unit,omitempty"`
	// IdleHours: hours since its last sync, or since it was registered when
	// it never synced.
	IdleHours float64 `json:"idle_hours"`
}

type idleDeviceList struct {
	At time.Time `json:"at"`
	// Hours is the threshold: devices idle longer are listed.
	Hours   int          `json:"hours"`
	Devices []idleDevice `json:"devices"`
}

// attentionDevices: GET /v1/devices/attention?hours=24 — the devices (not
// revoked) of the users of the caller's subtree whose last sync, or
// registration when they never synced, is older than hours (default 24),
// longest idle first. Changes a device holds but has not pushed are known
// only to the device itself. Administrators (viewers see figures, not
// people's devices).
//
// It costs two store calls whatever the subtree's size: its org units,
// then the idle devices of their users with the users (IdleDevices).
func (s *Server) attentionDevices(c *fiber.Ctx) error {
	ctx, p := c.UserContext(), principal(c)
	if err := s.authorize(c, pairing.Read, pairing.Object{Kind: pairing.KindDevice, OrgPath: p.OrgPath}); err != nil {
		return err
	}
	hours := 24
	if v := c.Query("hours"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 24*365 {
			return badRequest("hours", "hours must be a number from 1 to 8760")
		}
		hours = n
	}
	units, err := s.store.OrgUnits(ctx, p.OrgPath)
	if err != nil {
		return err
	}
	ids := make([]string, 0, len(units))
	for _, u := range units {
		ids = append(ids, u.ID)
	}
	now := s.now()
	limit := now.Add(-time.Duration(hours) * time.Hour)
	out := idleDeviceList{At: now.UTC(), Hours: hours, Devices: []idleDevice{}}
	idle, err := s.store.IdleDevices(ctx, ids, limit)
	if err != nil {
		return err
	}
	for _, it := range idle {
		d, u := s.seen.seen(it.Device), it.User // sightings not yet written
		last := d.LastSeen
		if last.IsZero() {
			last = d.CreatedAt
		}
		if !d.RevokedAt.IsZero() || !last.Before(limit) {
			continue
		}
		out.Devices = append(out.Devices, idleDevice{deviceView: viewDevice(d), Username: u.Username, UserName: u.Name,
			Role: u.Role, OrgUnit: u.OrgUnit, IdleHours: float64(now.Sub(last)/time.Minute) / 60})
	}
	slices.SortStableFunc(out.Devices, func(a, b idleDevice) int {
		return cmp.Or(cmp.Compare(b.IdleHours, a.IdleHours), strings.Compare(a.ID, b.ID))
	})
	return c.JSON(out)
}
