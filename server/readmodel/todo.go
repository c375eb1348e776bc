package readmodel

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/pairsync/pairsync/server/pairing"
)

// Todo counts what waits for one person (待办), by kind. The kinds are the
// apps' (mobile/web/src/todo.js for officers and contacts,
// src/console/todo.js for administrators):
//
//	officer — 待签收 ToSign (dispatched to them, not signed), 待答复 ToRespond
//	          (theirs, signed or reopened), 被退回的走访 ReturnedVisits,
//	          即将超期 DueSoon and 已超期 Overdue (theirs);
//	contact — 待确认 ToConfirm (responded), 待评价 ToRate (closed by a
//	          confirmation, not rated by them), 待验收 ToAccept (projects
//	          completed, not accepted);
//	admin   — 待受理/待交办 ToDispatch (raised, accepted, bounced, in
//	          arbitration), 超期 Overdue, 待立项 ToApprove (projects
//	          proposed), 待验收 ToVerify (projects completed), in their
//	          subtree.
//
// Things counts the things to act on, each once whatever its kinds (the
// apps' badge).
type Todo struct {
	ToSign, ToRespond, ReturnedVisits, DueSoon, Overdue int
	ToConfirm, ToRate, ToAccept                         int
	ToDispatch, ToApprove, ToVerify                     int
	Things                                              int
}

// Empty reports whether nothing waits.
func (t Todo) Empty() bool { return t.Things == 0 }

// Add adds u's counts to t (an administrator's subtree is the sum of its
// pairings).
func (t *Todo) Add(u Todo) {
	t.ToSign += u.ToSign
	t.ToRespond += u.ToRespond
	t.ReturnedVisits += u.ReturnedVisits
	t.DueSoon += u.DueSoon
	t.Overdue += u.Overdue
	t.ToConfirm += u.ToConfirm
	t.ToRate += u.ToRate
	t.ToAccept += u.ToAccept
	t.ToDispatch += u.ToDispatch
	t.ToApprove += u.ToApprove
	t.ToVerify += u.ToVerify
	t.Things += u.Things
}

// Todos derives 待办 at now from what the Ledger holds: people maps each
// officer and contact (by user id) to theirs; pairings maps each pairing
// to what waits in it for administrators (sum those of an administrator's
// subtree). It reads nothing from storage.
func (l *Ledger) Todos(now time.Time) (people, pairings map[string]Todo) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	people, pairings = map[string]Todo{}, map[string]Todo{}
	add := func(user string, f func(*Todo)) {
		if user == "" {
			return
		}
		t := people[user]
		f(&t)
		t.Things++
		people[user] = t
	}
	for pid, b := range l.books {
		p, ok := l.dir.Pairing(pid)
		if !ok {
			continue
		}
		var admin Todo
		for _, e := range b.issues {
			st := e.state(l.syms)
			overdue := st.OverdueAt(now)
			switch st.Status {
			case pairing.IssueRaised, pairing.IssueAccepted, pairing.IssueBounced, pairing.IssueArbitration:
				admin.ToDispatch++
				admin.Things++
			}
			if overdue {
				admin.Overdue++
				admin.Things++
			}
			if h := st.Handler; h != "" && slices.Contains([]pairing.IssueStatus{pairing.IssueDispatched, pairing.IssueSigned, pairing.IssueReopened}, st.Status) {
				add(h, func(t *Todo) {
					if st.Status == pairing.IssueDispatched {
						t.ToSign++
					} else {
						t.ToRespond++
					}
					if overdue {
						t.Overdue++
					} else if st.DueSoonAt(now) {
						t.DueSoon++
					}
				})
			}
			for _, c := range p.Contacts {
				switch {
				case st.Status == pairing.IssueResponded:
					add(c, func(t *Todo) { t.ToConfirm++ })
				case st.Status == pairing.IssueClosed && !st.ConfirmedAt.IsZero() && len(b.raters["issue/"+e.id+"/"+c]) == 0:
					add(c, func(t *Todo) { t.ToRate++ })
				}
			}
		}
		for _, e := range b.projects {
			switch e.s.Status {
			case "proposed":
				admin.ToApprove++
				admin.Things++
			case "completed":
				admin.ToVerify++
				admin.Things++
				if e.s.ContactAcceptedAt.IsZero() {
					for _, c := range p.Contacts {
						add(c, func(t *Todo) { t.ToAccept++ })
					}
				}
			}
		}
		for _, v := range b.visits.all() {
			if l.syms.str(v.status) != "returned" {
				continue
			}
			for _, o := range l.syms.lists[v.officers] {
				add(o, func(t *Todo) { t.ReturnedVisits++ })
			}
		}
		if !admin.Empty() {
			pairings[pid] = admin
		}
	}
	return people, pairings
}

// DueSoon lists the issues 即将超期 at now (IssueState.DueSoonAt), sorted
// by pairing then issue, with their handler: the SLA job reminds each
// handler once per due date. Due is the issue's due date.
func (l *Ledger) DueSoon(now time.Time) []DueSoonIssue {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var out []DueSoonIssue
	for pid, b := range l.books {
		if len(b.watched) == 0 {
			continue
		}
		if _, ok := l.dir.Pairing(pid); !ok {
			continue
		}
		for id := range b.watched {
			e := b.issues[id]
			if e == nil {
				continue
			}
			st := e.state(l.syms)
			if st.Handler != "" && st.DueSoonAt(now) {
				out = append(out, DueSoonIssue{Pairing: pid, Issue: id, Title: e.title, Handler: st.Handler, HandlerName: st.HandlerName, Dispatcher: st.Dispatcher, Due: st.Due})
			}
		}
	}
	slices.SortFunc(out, func(a, b DueSoonIssue) int {
		return cmp.Or(strings.Compare(a.Pairing, b.Pairing), strings.Compare(a.Issue, b.Issue))
	})
	return out
}

// DueSoonIssue is an issue 即将超期, as DueSoon lists it.
type DueSoonIssue struct {
	Pairing, Issue, Title, Handler string
	HandlerName, Dispatcher        string // Dispatcher: who made the current dispatch
	Due                            time.Time
}
