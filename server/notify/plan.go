package notify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/syncproto"
)

// ChannelWebhook is the webhook channel's name.
const ChannelWebhook = "webhook"

// The events that notify, as Notification.Event.
const (
	EventIssueDispatched = "issue_dispatched"
	EventIssueResponded  = "issue_responded"
	EventVisitReturned   = "visit_returned"
	EventActivation      = "activation"       // a new or reset user's activation link
	EventIssueDueSoon    = "issue_due_soon"   // the handler's 办理期限 ends within 24 h
	EventIssueOverdue    = "issue_overdue"    // past due: the handler and the supervising administrators
	EventIssueDisputed   = "issue_disputed"   // the contact disputed the response: administrators 督办
	EventIssueBounced    = "issue_bounced"    // bounced a second time (裁决): administrators
	EventProjectApproved = "project_approved" // 立项: the proposing officer
	EventProjectDeferred = "project_deferred" // 暂缓, with the reason
	EventProjectCanceled = "project_cancelled"
	EventProjectDone     = "project_completed" // the pairing's contacts: 请验收
	EventDigest          = "digest"            // the daily 待办 digest at 08:30
)

// IssueStates derives an issue's state with events not yet committed
// (*readmodel.Ledger).
type IssueStates interface {
	IssueWith(ctx context.Context, id string, extra []pairing.IssueEvent) (pairing.IssueState, bool, error)
}

// Pairings finds a pairing (*pairing.Directory).
type Pairings interface {
	Pairing(id string) (pairing.Pairing, bool)
}

// Planner computes the notifications a commit causes. Its fields are
// required except PublicURL (links are then paths, "/issues/<id>").
type Planner struct {
	Dir     Pairings
	Users   storage.Users
	Records storage.Records
	// PublicURL is the app's base URL the links start with.
	PublicURL string
	// Channels are the channels configured; a notification is planned on
	// each (none: Plan plans nothing, so an outbox without a sender does
	// not fill up).
	Channels []string
	// PhoneChannels are those of Channels that reach a person's phone
	// (SMS, a webhook that carries the phone number): activation links go
	// only there.
	PhoneChannels []string
	// Issues derives an issue's state with the batch's event, for the
	// events that depend on it (overdue: its handler; a second bounce; a
	// dispute that applies); nil plans none of those.
	Issues IssueStates
}

// Plan returns the notifications the batch's puts cause, created at now.
// It is, with PlanActivation, PlanDueSoon and PlanDigest, the one place of
// the rules (the event × recipient table):
//
//	issue event "dispatched" → its handler, and the pairing's other officers
//	issue event "responded"  → the pairing's contacts (请确认并评价)
//	issue event "overdue"    → its handler, and the administrator who dispatched it
//	issue due within 24 h    → its handler, and the administrator who dispatched it (PlanDueSoon)
//	issue event "disputed"   → the supervising administrators (督办)
//	second "bounced"         → the supervising administrators (裁决, 交办)
//	visit returned           → the visit's officers
//	project 立项/暂缓/取消    → the pairing's officers (its owner, who proposed it, among them)
//	project completed        → the pairing's contacts (请验收), and the supervising administrators
//
// The supervising administrators are those of the pairing's branch, or of
// its nearest ancestor unit that has any (Planner.supervisors); the
// dispatching administrator falls back to them when unknown or disabled.
// The writer of the change is never told of it; unknown and disabled users
// are skipped. Each notification's id is derived from its cause (the event
// record, or the visit and its returned_at), recipient and channel, so the
// same change committed again plans the same ids.
func (p Planner) Plan(ctx context.Context, b storage.Batch, now time.Time) ([]storage.Notification, error) {
	if len(p.Channels) == 0 || len(b.Puts) == 0 {
		return nil, nil
	}
	pr, ok := p.Dir.Pairing(b.Pairing)
	if !ok {
		return nil, nil
	}
	inBatch := map[storage.Key][]byte{}
	for _, put := range b.Puts {
		inBatch[put.Key] = put.Data
	}
	record := func(k storage.Key) (syncproto.Record, bool, error) {
		data, ok := inBatch[k]
		if !ok {
			sr, err := p.Records.Get(ctx, k)
			if errors.Is(err, storage.ErrNotFound) {
				return syncproto.Record{}, false, nil
			}
			if err != nil {
				return syncproto.Record{}, false, err
			}
			data = sr.Data
		}
		r, err := syncproto.DecodeRecord(data, syncproto.Limits{})
		return r, err == nil, nil
	}
	var out []storage.Notification
	for _, put := range b.Puts {
		var (
			ms  []message
			err error
		)
		switch put.Collection {
		case pairing.CollIssueEvents, pairing.CollVisits, pairing.CollProjects:
			r, ok, rerr := record(put.Key)
			if rerr != nil {
				return nil, rerr
			}
			if !ok || r.Deleted() {
				continue
			}
			switch put.Collection {
			case pairing.CollVisits:
				ms = visitMessages(r)
			case pairing.CollProjects:
				ms, err = p.projectMessages(ctx, r, pr)
			default:
				ms, err = p.eventMessages(ctx, r, pr, record)
			}
		default:
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			ns, err := p.address(ctx, m, pr, now)
			if err != nil {
				return nil, err
			}
			out = append(out, ns...)
		}
	}
	return out, nil
}

// message is one event's words for its recipients, before addressing.
type message struct {
	event, cause, subject string
	by                    string // the writer, not told
	// to are the recipients (user ids) and what each is told.
	to []recipient
}

type recipient struct {
	user string
	text func(lang string) string
	// link is the path the notification opens when it is not the
	// message's subject's ("/console/…" for administrators).
	link string
}

// eventMessages: the notifications of an issue event.
func (p Planner) eventMessages(ctx context.Context, r syncproto.Record, pr pairing.Pairing, record func(storage.Key) (syncproto.Record, bool, error)) ([]message, error) {
	e, err := pairing.IssueEventFromRecord(r)
	if err != nil {
		return nil, nil // malformed events are refused elsewhere
	}
	switch e.Type {
	case pairing.EventDispatched, pairing.EventResponded:
	case pairing.EventOverdue, pairing.EventDisputed, pairing.EventBounced:
		if p.Issues == nil {
			return nil, nil
		}
	default:
		return nil, nil
	}
	title := ""
	if issue, ok, err := record(storage.Key{Collection: pairing.CollIssues, ID: e.Issue}); err != nil {
		return nil, err
	} else if ok {
		title = str(issue, "title")
	}
	m := message{cause: pairing.CollIssueEvents + "/" + e.ID, subject: "issues/" + e.Issue, by: e.By}
	switch e.Type {
	case pairing.EventDispatched:
		m.event = EventIssueDispatched
		if e.Handler != "" {
			m.to = append(m.to, recipient{user: e.Handler, text: func(lang string) string {
				return say(lang, "issue_dispatched/handler", quoted(title))
			}})
		}
		for _, o := range pr.Officers {
			if o == e.Handler {
				continue
			}
			m.to = append(m.to, recipient{user: o, text: func(lang string) string {
				return say(lang, "issue_dispatched/officers", quoted(title), orPiece(e.HandlerName, "handler"))
			}})
		}
	case pairing.EventResponded:
		m.event = EventIssueResponded
		for _, c := range pr.Contacts {
			m.to = append(m.to, recipient{user: c, text: func(lang string) string {
				return say(lang, "issue_responded", quoted(title))
			}})
		}
	default:
		// The events whose meaning depends on the issue's state: judged
		// with this event among the issue's, so an event that does not
		// apply (a dispute of an earlier response, a bounce of a closed
		// issue) tells no one.
		st, ok, err := p.Issues.IssueWith(ctx, e.Issue, []pairing.IssueEvent{e})
		if err != nil {
			return nil, err
		}
		if !ok || !slices.Contains(st.Applied, e.ID) {
			return nil, nil
		}
		admins, err := p.supervisors(ctx, pr)
		if err != nil {
			return nil, err
		}
		console := func(q string) string { return "/console/issues?" + q + "&q=" + url.QueryEscape(title) }
		switch e.Type {
		case pairing.EventOverdue:
			m.event = EventIssueOverdue
			due := shanghai(st.Due)
			if admins, err = p.dispatchers(ctx, st.Dispatcher, pr); err != nil {
				return nil, err
			}
			if st.Handler != "" {
				m.to = append(m.to, recipient{user: st.Handler, text: func(lang string) string {
					return say(lang, "issue_overdue/handler", quoted(title), due)
				}})
			}
			for _, a := range admins {
				m.to = append(m.to, recipient{user: a, link: console("overdue=true"), text: func(lang string) string {
					return say(lang, "issue_overdue/supervisors", orPiece(st.HandlerName, "handler"), quoted(title), due)
				}})
			}
		case pairing.EventDisputed:
			m.event = EventIssueDisputed
			reason := e.Reason
			for _, a := range admins {
				m.to = append(m.to, recipient{user: a, link: console("status=disputed"), text: func(lang string) string {
					return say(lang, "issue_disputed", quoted(title), optional("reason", reason))
				}})
			}
		case pairing.EventBounced:
			// Which bounce this one is: the bounces applied up to it (the
			// state counts those after it too, when a commit is replayed).
			nth := 0
			for _, id := range st.Applied {
				if id == e.ID {
					nth++
					break
				}
				if prev, ok, err := record(storage.Key{Collection: pairing.CollIssueEvents, ID: id}); err != nil {
					return nil, err
				} else if ok && str(prev, "type") == string(pairing.EventBounced) {
					nth++
				}
			}
			if nth < 2 {
				return nil, nil // the first bounce goes back to dispatch, as 待办 shows
			}
			m.event = EventIssueBounced
			reason := e.Reason
			for _, a := range admins {
				m.to = append(m.to, recipient{user: a, link: console("status=arbitration"), text: func(lang string) string {
					return say(lang, "issue_bounced", quoted(title), nthTime(nth), optional("reason", reason))
				}})
			}
		}
	}
	return []message{m}, nil
}

// projectMessages: a project's status moved by this write (the stored
// version had another status). The cause names the write of the status
// (its dot), so a project deferred, resumed and deferred again tells
// again, and the same write committed twice tells once.
func (p Planner) projectMessages(ctx context.Context, r syncproto.Record, pr pairing.Pairing) ([]message, error) {
	status := str(r, "status")
	switch status {
	case "approved", "deferred", "cancelled", "completed":
	default:
		return nil, nil
	}
	before := ""
	if sr, err := p.Records.Get(ctx, storage.Key{Collection: pairing.CollProjects, ID: r.ID}); err == nil {
		if old, err := syncproto.DecodeRecord(sr.Data, syncproto.Limits{}); err == nil && !old.Deleted() {
			before = str(old, "status")
		}
	} else if !errors.Is(err, storage.ErrNotFound) {
		return nil, err
	}
	if before == status {
		return nil, nil
	}
	dot := r.Fields["status"].Dot
	title, reason, by, byName := str(r, "title"), str(r, "status_reason"), str(r, "status_by"), str(r, "status_by_name")
	m := message{cause: fmt.Sprintf("%s/%s/status/%s/%s/%d", pairing.CollProjects, r.ID, status, dot.Replica, dot.Counter),
		subject: "projects/" + r.ID, by: by}
	// decided is the text of a decision (verb: a key of Texts), with its
	// reason (not for 立项) and what to do next.
	decided := func(own bool, verb string, next both) func(string) string {
		why := optional("reason", reason)
		if verb == "project_approved" {
			why = both{}
		}
		return func(lang string) string {
			whose := piece("project/own")
			if !own {
				whose = piece("project/pairing")
			}
			return say(lang, "project_decided", whose, quoted(title), orPiece(byName, "administrator"), piece(verb), why, next)
		}
	}
	// A decision goes to the pairing's officers (the owner, who proposed
	// it, first and in its own words): they carry the project out.
	officers := func(verb string, next both) []recipient {
		owner := str(r, "owner")
		to := []recipient{{user: owner, text: decided(true, verb, next)}}
		for _, o := range pr.Officers {
			if o != owner {
				to = append(to, recipient{user: o, text: decided(false, verb, next)})
			}
		}
		return to
	}
	switch status {
	case "approved":
		m.event = EventProjectApproved
		m.to = officers("project_approved", piece("project_approved/next"))
	case "deferred":
		m.event = EventProjectDeferred
		m.to = officers("project_deferred", both{})
	case "cancelled":
		m.event = EventProjectCanceled
		m.to = officers("project_cancelled", both{})
	case "completed":
		m.event = EventProjectDone
		for _, c := range pr.Contacts {
			m.to = append(m.to, recipient{user: c, text: func(lang string) string {
				return say(lang, "project_completed", quoted(title))
			}})
		}
		admins, err := p.supervisors(ctx, pr)
		if err != nil {
			return nil, err
		}
		for _, a := range admins {
			m.to = append(m.to, recipient{user: a, link: "/console/projects?q=" + url.QueryEscape(title), text: func(lang string) string {
				return say(lang, "project_completed/supervisors", quoted(title))
			}})
		}
	}
	return []message{m}, nil
}

// supervisors are the administrators who supervise a pairing (督办): those
// of each of its branches, or of the branch's nearest ancestor unit that
// has an enabled administrator (not every administrator above: a
// province's committee would hear of every overdue issue of 7,000
// branches).
func (p Planner) supervisors(ctx context.Context, pr pairing.Pairing) ([]string, error) {
	var out []string
	for _, path := range pr.BranchPaths {
		ids := strings.Split(strings.Trim(path, "/"), "/")
		for i := len(ids) - 1; i >= 0; i-- {
			users, _, err := p.Users.ListUsers(ctx, storage.UserQuery{Role: string(pairing.Admin), OrgUnits: []string{ids[i]}, Limit: 50})
			if err != nil {
				return nil, err
			}
			found := false
			for _, u := range users {
				if !u.Disabled {
					out, found = append(out, u.ID), true
				}
			}
			if found {
				break
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// dispatchers are who is told, beside the handler, that an issue is due
// soon or overdue: the administrator who dispatched it (the issue's
// words), or the supervising administrators when that one is unknown, no
// administrator or disabled.
func (p Planner) dispatchers(ctx context.Context, dispatcher string, pr pairing.Pairing) ([]string, error) {
	if dispatcher != "" {
		u, err := p.Users.User(ctx, dispatcher)
		switch {
		case err == nil && !u.Disabled && u.Role == string(pairing.Admin):
			return []string{u.ID}, nil
		case err != nil && !errors.Is(err, storage.ErrNotFound):
			return nil, err
		}
	}
	return p.supervisors(ctx, pr)
}

func ordinal(n int) string {
	switch n {
	case 2:
		return "second"
	case 3:
		return "third"
	}
	return fmt.Sprintf("%dth", n)
}

// shanghai shows a time as people in China read it.
func shanghai(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(Shanghai).Format("2006-01-02 15:04")
}

// visitMessages: a returned visit tells its officers. The cause names the
// return (returned_at), so a visit returned again after a resubmission
// notifies again.
func visitMessages(r syncproto.Record) []message {
	if str(r, "status") != "returned" {
		return nil
	}
	var officers []string
	if v := r.Value("officers"); len(v) > 0 {
		_ = json.Unmarshal(v, &officers)
	}
	title, comment := str(r, "title"), str(r, "return_comment")
	m := message{event: EventVisitReturned, cause: pairing.CollVisits + "/" + r.ID + "/returned/" + str(r, "returned_at"),
		subject: "visits/" + r.ID, by: str(r, "returned_by")}
	for _, o := range officers {
		m.to = append(m.to, recipient{user: o, text: func(lang string) string {
			return say(lang, "visit_returned", quoted(title), optional("visit_returned/comment", comment))
		}})
	}
	return []message{m}
}

// address turns a message into one notification per recipient and
// channel.
func (p Planner) address(ctx context.Context, m message, pr pairing.Pairing, now time.Time) ([]storage.Notification, error) {
	var out []storage.Notification
	seen := map[string]bool{}
	for _, to := range m.to {
		if to.user == "" || to.user == m.by || seen[to.user] {
			continue
		}
		seen[to.user] = true
		u, err := p.Users.User(ctx, to.user)
		if errors.Is(err, storage.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if u.Disabled {
			continue
		}
		lang := Lang(u)
		link := to.link
		if link == "" {
			link = "/" + m.subject
		}
		for _, ch := range ChannelsFor(u, p.Channels) { // the person's choice (prefs.go)
			out = append(out, storage.Notification{
				ID: ID(m.cause, u.ID, ch), Channel: ch, Event: m.event, Cause: m.cause, Subject: m.subject,
				Recipient: u.ID, RecipientName: u.Name, Pairing: pr.ID, OrgPaths: slices.Clone(pr.BranchPaths),
				Lang: lang, Text: greet(lang, u.Name, to.text(lang)), Link: p.link(link), CreatedAt: now,
			})
		}
	}
	return out, nil
}

// PlanActivation returns the notification that sends a new or reset
// user their activation link (link, valid until expires) on each phone
// channel: none when no channel reaches a phone or the user has no phone
// number (the administrator then hands the code over). The cause is the
// code's hash: one notification per code. orgPath is the user's unit's,
// so the administrators of their subtree see it (without the code:
// HideActivationCode).
func (p Planner) PlanActivation(ctx context.Context, u storage.User, orgPath, codeHash, link string, expires, now time.Time) ([]storage.Notification, error) {
	if len(p.PhoneChannels) == 0 || u.Phone == "" || u.Disabled || codeHash == "" {
		return nil, nil
	}
	lang := Lang(u)
	until := shanghai(expires)
	text := say(lang, "activation", u.Username, until, link)
	cause := "activations/" + codeHash
	var out []storage.Notification
	for _, ch := range p.PhoneChannels {
		var paths []string
		if orgPath != "" {
			paths = []string{orgPath}
		}
		out = append(out, storage.Notification{ID: ID(cause, u.ID, ch), Channel: ch, Event: EventActivation, Cause: cause, Subject: "activate",
			Recipient: u.ID, RecipientName: u.Name, OrgPaths: paths, Lang: lang, Text: greet(lang, u.Name, text), Link: link, CreatedAt: now})
	}
	return out, nil
}

// HideActivationCode replaces the code in an activation link by "…".
func HideActivationCode(link string) string {
	if i := strings.Index(link, "#code="); i >= 0 {
		return link[:i] + "#code=…"
	}
	return link
}

// link makes a path of the app a link from PublicURL.
func (p Planner) link(path string) string {
	return strings.TrimRight(p.PublicURL, "/") + path
}

// greet names the recipient after the text's 【结对共建】 tag: "【结对共建】王芳，您反映的…".
func greet(lang, name, text string) string {
	if name == "" {
		return text
	}
	for _, l := range []string{"zh", "en"} { // whichever the text is in
		tag := say(l, "tag")
		if rest, ok := strings.CutPrefix(text, tag); ok {
			return tag + say(lang, "greet", name) + rest
		}
	}
	return text
}

// ID is a notification's deterministic id: a hash of its cause, recipient
// and channel.
func ID(cause, recipient, channel string) string {
	h := sha256.Sum256([]byte(cause + "\x00" + recipient + "\x00" + channel))
	return "n-" + hex.EncodeToString(h[:16])
}

// Lang is the language a user is written to in: English for one who chose
// it in an app (User.Language, PATCH /v1/me), else Chinese, the default of
// every screen.
func Lang(u storage.User) string {
	if u.Language == "en" {
		return "en"
	}
	return "zh"
}

func quote(title, lang string) string {
	switch {
	case title == "" && lang == "en":
		return "(untitled)"
	case title == "":
		return ""
	case lang == "en":
		return "“" + title + "”"
	}
	return "「" + title + "」"
}

// str reads a string field of a record ("" when absent or not a string).
func str(r syncproto.Record, field string) string {
	var s string
	if v := r.Value(field); len(v) > 0 {
		_ = json.Unmarshal(v, &s)
	}
	return s
}
