package notify

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/server/readmodel"
	"github.com/pairsync/pairsync/storage"
)

// PlanDueSoon returns the reminder of an issue 即将超期 (due within
// pairing.DueSoonWithin) to its handler and the administrator who
// dispatched it (Planner.dispatchers). The cause names the issue and its
// due date: one reminder per due date however often the SLA job runs; a
// new dispatch with another due date reminds again.
func (p Planner) PlanDueSoon(ctx context.Context, pr pairing.Pairing, d readmodel.DueSoonIssue, now time.Time) ([]storage.Notification, error) {
	if len(p.Channels) == 0 {
		return nil, nil
	}
	due := shanghai(d.Due)
	m := message{event: EventIssueDueSoon, cause: fmt.Sprintf("issues/%s/due_soon/%d", d.Issue, d.Due.Unix()), subject: "issues/" + d.Issue,
		to: []recipient{{user: d.Handler, text: func(lang string) string {
			return say(lang, "issue_due_soon", quoted(d.Title), due)
		}}}}
	admins, err := p.dispatchers(ctx, d.Dispatcher, pr)
	if err != nil {
		return nil, err
	}
	for _, a := range admins {
		m.to = append(m.to, recipient{user: a, link: "/console/issues?q=" + url.QueryEscape(d.Title), text: func(lang string) string {
			return say(lang, "issue_due_soon/dispatcher", orPiece(d.HandlerName, "handler"), quoted(d.Title), due)
		}})
	}
	return p.address(ctx, m, pr, now)
}

// DigestDay is the day (YYYY-MM-DD, Asia/Shanghai) whose digest is due at
// now, and whether it is: from 08:30 that day on.
func DigestDay(now time.Time) (string, bool) {
	local := now.In(Shanghai)
	at := time.Date(local.Year(), local.Month(), local.Day(), 8, 30, 0, 0, Shanghai)
	return local.Format("2006-01-02"), !local.Before(at)
}

// PlanDigest returns the daily digest of day to u: the counts of their
// 待办 (readmodel.Todo, the apps' rule), with a link to the list (the field
// app's home, or the console's 待办 for administrators). Nothing when
// nothing waits. The cause is the day and the person: one a day.
func (p Planner) PlanDigest(ctx context.Context, u storage.User, orgPaths []string, t readmodel.Todo, day string, now time.Time) ([]storage.Notification, error) {
	if len(p.Channels) == 0 || t.Empty() {
		return nil, nil
	}
	type kind struct {
		n   int
		key string // of Texts
	}
	kinds := []kind{
		{t.ToSign, "todo/to_sign"}, {t.ToRespond, "todo/to_respond"}, {t.ReturnedVisits, "todo/returned_visits"},
		{t.DueSoon, "todo/due_soon"}, {t.ToConfirm, "todo/to_confirm"}, {t.ToRate, "todo/to_rate"},
		{t.ToAccept, "todo/to_accept"}, {t.ToDispatch, "todo/to_dispatch"},
		{t.Overdue, "todo/overdue"}, {t.ToApprove, "todo/to_approve"}, {t.ToVerify, "todo/to_verify"},
	}
	link := "/"
	if u.Role == string(pairing.Admin) {
		link = "/console/todo"
	}
	var counts both
	for _, k := range kinds {
		if k.n > 0 {
			c := piece("digest/count", piece(k.key), k.n)
			for i := range counts {
				if counts[i] != "" {
					counts[i] += piece("digest/and")[i]
				}
				counts[i] += c[i]
			}
		}
	}
	m := message{event: EventDigest, cause: "digest/" + day + "/" + u.ID, subject: "todo",
		to: []recipient{{user: u.ID, link: link, text: func(lang string) string {
			return say(lang, "digest", t.Things, counts)
		}}}}
	return p.address(ctx, m, pairing.Pairing{BranchPaths: orgPaths}, now)
}
