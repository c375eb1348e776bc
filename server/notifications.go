package server

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/pairsync/pairsync/server/notify"
	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/syncproto"
)

// notifier is the server's part of notifications (package notify): the
// planner every commit calls and the sender of the outbox (nil when no
// channel is configured).
type notifier struct {
	planner notify.Planner
	sender  *notify.Sender
}

// setupNotifications builds the planner and the sender from the
// configured channels and registers the delivery counter.
func (s *Server) setupNotifications() error {
	s.notify.planner = notify.Planner{Dir: s.dir, Users: s.store, Records: s.store, PublicURL: s.cfg.PublicURL, Issues: s.ledger}
	channels := map[string]notify.Channel{}
	if w := s.cfg.NotifyWebhook; w.URL != "" {
		channels[notify.ChannelWebhook] = &w
		if w.Phone {
			// The receiver gets the phone number: it reaches the phone
			// (a province's SMS platform behind its webhook).
			s.notify.planner.PhoneChannels = append(s.notify.planner.PhoneChannels, notify.ChannelWebhook)
		}
	}
	s.addChannels(channels) // channels.go: SMS, robots, in-app
	outcomes := notify.NewOutcomes()
	if err := s.registry.Register(outcomes); err != nil {
		return err
	}
	for name := range channels {
		s.notify.planner.Channels = append(s.notify.planner.Channels, name)
	}
	slices.Sort(s.notify.planner.Channels)
	holder := s.cfg.NotifyHolder
	if holder == "" {
		holder = string(s.writer.w.Replica)
	}
	s.notify.sender = &notify.Sender{Store: s.store, Channels: channels, Holder: holder, Now: s.now, Lease: s.cfg.NotifyLease,
		Outcomes: outcomes, Log: s.log.With("component", "notify"), Pacing: s.pacing()}
	return nil
}

// commit is the one committer of REST writes and pushes: it adds the
// notifications the batch causes (notify.Planner.Plan, the rules' one
// place) and commits them in the batch's own transaction.
func (s *Server) commit(ctx context.Context, b storage.Batch) (storage.Committed, error) {
	ns, err := s.notify.planner.Plan(ctx, b, s.now())
	if err != nil {
		return storage.Committed{}, err
	}
	b.Notifications = append(b.Notifications, ns...)
	return s.store.Commit(ctx, b)
}

// SendNotifications delivers the due notifications once (the loop's
// pass; tests call it with the clock where they want it) and returns how
// many attempts it made.
func (s *Server) SendNotifications(ctx context.Context) (int, error) {
	return s.notify.sender.Send(ctx)
}

// RunNotifyLoop delivers due notifications every interval until ctx ends.
// Every process runs it: each notification is claimed under a lease by one
// of them, so the work is shared and none is sent twice while a lease
// runs. It does nothing when no channel is configured.
func (s *Server) RunNotifyLoop(ctx context.Context, interval time.Duration) {
	if len(s.notify.planner.Channels) == 0 {
		return
	}
	// What an earlier life of this process held when it crashed goes out
	// now, not when its lease ends.
	if _, err := s.notify.sender.Release(ctx); err != nil && ctx.Err() == nil {
		s.log.Warn("releasing this sender's earlier claims failed", "err", err)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := s.SendNotifications(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("notification pass failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// notificationView is a notification as administrators see it (the
// recipient by name; no phone number).
type notificationView struct {
	ID       string `json:"id"`
	Channel  string `json:"channel"`
	Event    string `json:"event"`
	Subject  string `json:"subject"`
	To       string `json:"to"`
	ToName   string `json:"to_name"`
	Pairing  string `json:"pairing"`
	Text     string `json:"text"`
	Link     string `json:"link"`
	State    string `json:"state"`
	Attempts int    `json:"attempts"`
	Answer   string `json:"answer,omitempty"`
	// Reason names the answer for screens (notify.Explain): quiet_hours,
	// hourly_limit, robot_limit, no_phone, no_answer, refused, http_error…
	Reason    string    `json:"reason,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	NextAt    time.Time `json:"next_at,omitzero"`
	AttemptAt time.Time `json:"attempt_at,omitzero"`
	DoneAt    time.Time `json:"done_at,omitzero"`
}

func viewNotification(n storage.Notification) notificationView {
	text, link := n.Text, n.Link
	if n.Event == notify.EventActivation {
		// An activation link is the person's to use: administrators see
		// that it was sent, not the code (they can reset it).
		hidden := notify.HideActivationCode(link)
		text, link = strings.ReplaceAll(text, link, hidden), hidden
	}
	v := notificationView{ID: n.ID, Channel: n.Channel, Event: n.Event, Subject: n.Subject, To: n.Recipient, ToName: n.RecipientName,
		Pairing: n.Pairing, Text: text, Link: link, State: n.State, Attempts: n.Attempts, Answer: n.Answer,
		CreatedAt: n.CreatedAt, AttemptAt: n.AttemptAt, DoneAt: n.DoneAt, Reason: notify.Explain(n.Answer)}
	if n.State == storage.NotificationPending {
		v.NextAt = n.NextAt
	}
	return v
}

type notificationList struct {
	Notifications []notificationView `json:"notifications"`
	More          bool               `json:"more"`
}

// listNotifications: GET /v1/notifications — the outbox of the caller's
// subtree (administrators: the audit log's rule), newest first:
// ?state=pending|sent|failed&channel=&offset=&limit=.
func (s *Server) listNotifications(c *fiber.Ctx) error {
	p := principal(c)
	if err := s.authorize(c, pairing.Read, pairing.Object{Kind: pairing.KindAudit, OrgPath: p.OrgPath}); err != nil {
		return err
	}
	q := storage.NotificationQuery{OrgPath: p.OrgPath, State: c.Query("state"), Channel: c.Query("channel")}
	switch q.State {
	case "", storage.NotificationPending, storage.NotificationSent, storage.NotificationFailed:
	default:
		return badRequest("state", "state must be pending, sent or failed")
	}
	var err error
	if q.Limit, err = queryLimit(c, 100, 1000); err != nil {
		return err
	}
	if v := c.Query("offset"); v != "" {
		if q.Offset, err = strconv.Atoi(v); err != nil || q.Offset < 0 {
			return badRequest("offset", "offset must be a number from 0")
		}
	}
	ns, more, err := s.store.ListNotifications(c.UserContext(), q)
	if err != nil {
		return err
	}
	out := notificationList{Notifications: make([]notificationView, 0, len(ns)), More: more}
	for _, n := range ns {
		out.Notifications = append(out.Notifications, viewNotification(n))
	}
	return c.JSON(out)
}

// loadNotification resolves /v1/notifications/:id for the policy: the
// notification's org path inside the caller's subtree when it has one
// there, else its first (so another subtree's is not visible).
func loadNotification(s *Server, c *fiber.Ctx) (pairing.Object, any, error) {
	n, err := s.store.Notification(c.UserContext(), c.Params("id"))
	if err != nil {
		return pairing.Object{}, nil, err
	}
	p := principal(c)
	path := ""
	for _, op := range n.OrgPaths {
		if path == "" || p.OrgPath != "" && strings.HasPrefix(op, p.OrgPath) {
			path = op
		}
	}
	if path == "" {
		return pairing.Object{}, nil, storage.ErrNotFound
	}
	return pairing.Object{Kind: pairing.KindAudit, OrgPath: path}, n, nil
}

// resendNotification: POST /v1/notifications/:id/resend — an
// administrator sends a notification again (a new delivery round).
func (s *Server) resendNotification(c *fiber.Ctx) error {
	n := loaded[storage.Notification](c)
	if _, ok := s.notify.sender.Channels[n.Channel]; !ok {
		return errorf(http.StatusConflict, syncproto.CodeConflict,
			"the %s channel is not configured on this server: configure it (see README, Notifications), then resend", n.Channel)
	}
	r, err := s.store.ResendNotification(c.UserContext(), n.ID, s.now())
	if err != nil {
		return err
	}
	p := principal(c)
	s.audit(c, storage.AuditEvent{Action: "notification.resend", Object: "notification:" + n.ID, Result: "ok", OrgPath: p.OrgPath})
	return c.JSON(viewNotification(r))
}
