package notify

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/storage"
)

// PlanDueSoon returns the reminder of an issue 即将超期 (due within
// pairing.DueSoonWithin) to its handler and the administrator who
// dispatched it (Planner.dispatchers). The cause names the issue and its
// due date: one reminder per due date however often the SLA job runs; a
// new dispatch with another due date reminds again.
func (p Planner) PlanDueSoon(ctx context.Context, pr pairing.Pairing, d pairing.DueSoonIssue, now time.Time) ([]storage.Notification, error) {
	if len(p.Channels) == 0 {
		return nil, nil
	}
	due := shanghai(d.Due)
	m := message{event: EventIssueDueSoon, cause: fmt.Sprintf("issues/%s/due_soon/%d", d.Issue, d.Due.Unix()), subject: "issues/" + d.Issue,
		to: []recipient{{user: d.Handler, text: func(lang string) string {
			return pick(lang, fmt.Sprintf("【结对共建】您承办的诉求%s将于 %s 到期，请及时答复。", quote(d.Title, "zh"), due),
				fmt.Sprintf("[Pairsync] The issue %s you handle is due at %s: please answer it in time.", quote(d.Title, "en"), due))
		}}}}
	admins, err := p.dispatchers(ctx, d.Dispatcher, pr)
	if err != nil {
		return nil, err
	}
	handler := orDefault(d.HandlerName, "承办人")
	for _, a := range admins {
		m.to = append(m.to, recipient{user: a, link: "/console/issues?q=" + url.QueryEscape(d.Title), text: func(lang string) string {
			return pick(lang, fmt.Sprintf("【结对共建】您交办给%s的诉求%s将于 %s 到期，请关注办理进度。", handler, quote(d.Title, "zh"), due),
				fmt.Sprintf("[Pairsync] The issue %s you dispatched to %s is due at %s: please follow it.", quote(d.Title, "en"), orDefault(d.HandlerName, "its handler"), due))
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
// 待办 (pairing.Todo, the apps' rule), with a link to the list (the field
// app's home, or the console's 待办 for administrators). Nothing when
// nothing waits. The cause is the day and the person: one a day.
func (p Planner) PlanDigest(ctx context.Context, u storage.User, orgPaths []string, t pairing.Todo, day string, now time.Time) ([]storage.Notification, error) {
	if len(p.Channels) == 0 || t.Empty() {
		return nil, nil
	}
	type kind struct {
		n      int
		zh, en string
	}
	kinds := []kind{
		{t.ToSign, "待签收", "to sign for"}, {t.ToRespond, "待答复", "to answer"}, {t.ReturnedVisits, "被退回的走访", "returned visits"},
		{t.DueSoon, "即将超期", "due within 24 h"}, {t.ToConfirm, "待确认", "to confirm"}, {t.ToRate, "待评价", "to rate"},
		{t.ToAccept, "待验收", "projects to accept"}, {t.ToDispatch, "待受理/待交办", "to accept or dispatch"},
		{t.Overdue, "已超期", "overdue"}, {t.ToApprove, "待立项", "projects to approve"}, {t.ToVerify, "待验收", "projects to verify"},
	}
	link := "/"
	if u.Role == string(pairing.Admin) {
		link = "/console/todo"
	}
	var zh, en []string
	for _, k := range kinds {
		if k.n > 0 {
			zh = append(zh, fmt.Sprintf("%s %d 项", k.zh, k.n))
			en = append(en, fmt.Sprintf("%d %s", k.n, k.en))
		}
	}
	m := message{event: EventDigest, cause: "digest/" + day + "/" + u.ID, subject: "todo",
		to: []recipient{{user: u.ID, link: link, text: func(lang string) string {
			return pick(lang, fmt.Sprintf("【结对共建】早上好！您有 %d 项待办：%s。", t.Things, strings.Join(zh, "、")),
				fmt.Sprintf("[Pairsync] Good morning! You have %d things to do: %s.", t.Things, strings.Join(en, ", ")))
		}}}}
	return p.address(ctx, m, pairing.Pairing{BranchPaths: orgPaths}, now)
}
