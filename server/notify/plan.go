package notify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
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
)

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
}

// Plan returns the notifications the batch's puts cause, created at now.
// It is the one place of the rules (the event × recipient table):
//
//	issue event "dispatched" → its handler, and the pairing's other officers
//	issue event "responded"  → the pairing's contacts (请确认并评价)
//	visit returned           → the visit's officers
//
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
		case pairing.CollIssueEvents, pairing.CollVisits:
			r, ok, rerr := record(put.Key)
			if rerr != nil {
				return nil, rerr
			}
			if !ok || r.Deleted() {
				continue
			}
			if put.Collection == pairing.CollVisits {
				ms = visitMessages(r)
			} else {
				ms, err = eventMessages(r, pr, record)
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
}

// eventMessages: the notifications of an issue event.
func eventMessages(r syncproto.Record, pr pairing.Pairing, record func(storage.Key) (syncproto.Record, bool, error)) ([]message, error) {
	e, err := pairing.IssueEventFromRecord(r)
	if err != nil {
		return nil, nil // malformed events are refused elsewhere
	}
	if e.Type != pairing.EventDispatched && e.Type != pairing.EventResponded {
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
			m.to = append(m.to, recipient{e.Handler, func(lang string) string {
				return pick(lang, fmt.Sprintf("【结对共建】诉求%s已交办给您，请及时签收办理。", quote(title, "zh")),
					fmt.Sprintf("[Pairsync] The issue %s has been dispatched to you: please sign for it and handle it.", quote(title, "en")))
			}})
		}
		for _, o := range pr.Officers {
			if o == e.Handler {
				continue
			}
			m.to = append(m.to, recipient{o, func(lang string) string {
				name := e.HandlerName
				return pick(lang, fmt.Sprintf("【结对共建】您结对的诉求%s已交办给%s，请关注办理进度。", quote(title, "zh"), orDefault(name, "承办人")),
					fmt.Sprintf("[Pairsync] The issue %s of your pairing has been dispatched to %s: please follow it.", quote(title, "en"), orDefault(name, "its handler")))
			}})
		}
	case pairing.EventResponded:
		m.event = EventIssueResponded
		for _, c := range pr.Contacts {
			m.to = append(m.to, recipient{c, func(lang string) string {
				return pick(lang, fmt.Sprintf("【结对共建】您反映的诉求%s已有答复，请确认并评价。", quote(title, "zh")),
					fmt.Sprintf("[Pairsync] Your issue %s has been answered: please confirm and rate it.", quote(title, "en")))
			}})
		}
	}
	return []message{m}, nil
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
		m.to = append(m.to, recipient{o, func(lang string) string {
			zh := fmt.Sprintf("【结对共建】您的走访记录%s被退回", quote(title, "zh"))
			en := fmt.Sprintf("[Pairsync] Your visit %s was returned", quote(title, "en"))
			if comment != "" {
				zh += "，意见：" + comment
				en += " with the comment: " + comment
			}
			return pick(lang, zh+"。请修改后重新提交。", en+". Please correct it and submit it again.")
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
		for _, ch := range ChannelsFor(u, p.Channels) { // the person's choice (prefs.go)
			out = append(out, storage.Notification{
				ID: ID(m.cause, u.ID, ch), Channel: ch, Event: m.event, Cause: m.cause, Subject: m.subject,
				Recipient: u.ID, RecipientName: u.Name, Pairing: pr.ID, OrgPaths: slices.Clone(pr.BranchPaths),
				Lang: lang, Text: to.text(lang), Link: strings.TrimRight(p.PublicURL, "/") + "/" + m.subject, CreatedAt: now,
			})
		}
	}
	return out, nil
}

// ID is a notification's deterministic id: a hash of its cause, recipient
// and channel.
func ID(cause, recipient, channel string) string {
	h := sha256.Sum256([]byte(cause + "\x00" + recipient + "\x00" + channel))
	return "n-" + hex.EncodeToString(h[:16])
}

// Lang is the language a user is written to in: Chinese, the default of
// every screen. (storage.User has no language choice yet; when it gets one,
// "en" here gives English texts.)
func Lang(storage.User) string { return "zh" }

func pick(lang, zh, en string) string {
	if lang == "en" {
		return en
	}
	return zh
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

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// str reads a string field of a record ("" when absent or not a string).
func str(r syncproto.Record, field string) string {
	var s string
	if v := r.Value(field); len(v) > 0 {
		_ = json.Unmarshal(v, &s)
	}
	return s
}
