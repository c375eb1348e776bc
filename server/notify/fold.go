package notify

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/storage"
)

// EventFolded is the event of a message that folds a person's
// notifications held back by the hourly limit into one (Folded).
const EventFolded = "folded"

// fold returns the other notifications of n's recipient and channel that
// the hourly limit held back and that are due now, claimed by this sender,
// when n itself was held by it: they go out with n as one message (the
// issue's "the rest folded into one"). None when n was not held by the
// limit, or no other is due. For a robot channel, robot names the robot
// each other would go to: only those for n's robot are folded (one for
// another unit's group waits for its own message there).
func (s *Sender) fold(ctx context.Context, n storage.Notification, now time.Time, robot func(storage.Notification) (string, error)) ([]storage.Notification, error) {
	if !strings.HasPrefix(n.Answer, ReasonHourlyLimit+":") {
		return nil, nil
	}
	pending, _, err := s.Store.ListNotifications(ctx, storage.NotificationQuery{Recipient: n.Recipient, Channel: n.Channel,
		State: storage.NotificationPending, Limit: 100})
	if err != nil {
		return nil, err
	}
	var out []storage.Notification
	for _, o := range pending {
		if o.ID == n.ID || !strings.HasPrefix(o.Answer, ReasonHourlyLimit+":") || o.NextAt.After(now) {
			continue
		}
		if robot != nil {
			r, err := robot(o)
			if err != nil {
				return nil, err
			}
			if r != n.Robot {
				continue
			}
		}
		c, err := s.Store.ClaimNotification(ctx, o.ID, s.Holder, now, cmpOr(s.Lease, DefaultLease))
		if errors.Is(err, storage.ErrConflict) {
			continue // another sender has it, or it went meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// foldItemMax is how many characters of each folded notification's words
// the folded message keeps.
const foldItemMax = 30

// Folded is the one message that carries n and others: "另有 3 条提醒：…；…；…。"
// with each one's words cut short, oldest first, and a link to the
// person's messages (the console's for an administrator), where each is
// in full.
func Folded(n storage.Notification, others []storage.Notification, role string) storage.Notification {
	all := append([]storage.Notification{n}, others...)
	slices.SortStableFunc(all, func(a, b storage.Notification) int { return a.CreatedAt.Compare(b.CreatedAt) })
	items := make([]string, len(all))
	for i, o := range all {
		t := body(o)
		for _, lang := range []string{"zh", "en"} { // the greeting (greet)
			if o.RecipientName != "" {
				t = strings.TrimPrefix(t, say(lang, "greet", o.RecipientName))
			}
		}
		t = strings.TrimRight(t, "。. ")
		if utf8.RuneCountInString(t) > foldItemMax {
			t = string([]rune(t)[:foldItemMax]) + "…"
		}
		items[i] = t
	}
	path := "/messages"
	if role == string(pairing.Admin) {
		path = "/console/messages"
	}
	link := path
	if u, err := url.Parse(n.Link); err == nil && u.Host != "" {
		link = (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: path}).String()
	}
	f := n
	f.Event, f.Link = EventFolded, link
	and := piece("folded/and")
	f.Text = greet(n.Lang, n.RecipientName, say(n.Lang, "folded", len(all), both{strings.Join(items, and[0]), strings.Join(items, and[1])}))
	return f
}
