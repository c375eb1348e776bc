package server

import (
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/pairsync/pairsync/server/notify"
	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/storage"
)

// The signed-in person's in-app messages and notification settings
// (issue 17): routes under /v1/me, each answering for the caller only.

// messageView is one in-app message as its recipient sees it.
type messageView struct {
	ID      string `json:"id"`
	Event   string `json:"event"`
	Subject string `json:"subject"` // what it opens in the app: "issues/<id>"
	Text    string `json:"text"`
	Link    string `json:"link"`
	// At is when it was written; ReadAt when it was read (absent: unread).
	At     time.Time `json:"at"`
	ReadAt time.Time `json:"read_at,omitzero"`
}

func viewMessage(n storage.Notification) messageView {
	return messageView{ID: n.ID, Event: n.Event, Subject: n.Subject, Text: n.Text, Link: n.Link, At: n.CreatedAt, ReadAt: n.ReadAt}
}

type messageList struct {
	Messages []messageView `json:"messages"`
	More     bool          `json:"more"`
	// Unread counts the unread messages up to 99; UnreadMore says there
	// are more (a badge reads "99+").
	Unread     int  `json:"unread"`
	UnreadMore bool `json:"unread_more,omitempty"`
}

// maxUnreadCounted bounds the unread count (a badge shows 99+).
const maxUnreadCounted = 99

// listMessages: GET /v1/me/messages?offset=&limit= — the caller's in-app
// messages, newest first, with the unread count.
func (s *Server) listMessages(c *fiber.Ctx) error {
	me := claims(c).Subject
	q := storage.NotificationQuery{Recipient: me, Channel: notify.ChannelInApp}
	var err error
	if q.Limit, err = queryLimit(c, 20, 100); err != nil {
		return err
	}
	if v := c.Query("offset"); v != "" {
		if q.Offset, err = strconv.Atoi(v); err != nil || q.Offset < 0 {
			return badRequest("offset", "offset must be a number from 0")
		}
	}
	ctx := c.UserContext()
	ns, more, err := s.store.ListNotifications(ctx, q)
	if err != nil {
		return err
	}
	unread, unreadMore, err := s.store.ListNotifications(ctx, storage.NotificationQuery{Recipient: me, Channel: notify.ChannelInApp,
		Unread: true, Limit: maxUnreadCounted})
	if err != nil {
		return err
	}
	out := messageList{Messages: make([]messageView, 0, len(ns)), More: more, Unread: len(unread), UnreadMore: unreadMore}
	for _, n := range ns {
		out.Messages = append(out.Messages, viewMessage(n))
	}
	return c.JSON(out)
}

// loadMessage resolves /v1/me/messages/:id: the caller's own in-app
// message; anyone else's, or another channel's, is not found (404, as an
// unknown id).
func loadMessage(s *Server, c *fiber.Ctx) (pairing.Object, any, error) {
	me := claims(c).Subject
	n, err := s.store.Notification(c.UserContext(), c.Params("id"))
	if err != nil {
		return pairing.Object{}, nil, err
	}
	if n.Recipient != me || n.Channel != notify.ChannelInApp {
		return pairing.Object{}, nil, storage.ErrNotFound
	}
	return pairing.Object{Kind: pairing.KindUser, ID: me, Owner: me}, n, nil
}

// readMessage: POST /v1/me/messages/:id/read — the caller read it.
func (s *Server) readMessage(c *fiber.Ctx) error {
	n := loaded[storage.Notification](c)
	r, err := s.store.ReadNotification(c.UserContext(), n.ID, n.Recipient, s.now())
	if err != nil {
		return err
	}
	return c.JSON(viewMessage(r))
}

// readMessagesRequest is what a phone sends at sync of the messages its
// person read offline: each id with the time it was opened.
type readMessagesRequest struct {
	Reads []messageRead `json:"reads"`
}

type messageRead struct {
	ID string    `json:"id"`
	At time.Time `json:"at"`
}

// maxReadsPerRequest bounds a phone's batch of reads (it sends the rest
// in the next request).
const maxReadsPerRequest = 200

// readMessages: POST /v1/me/messages/read — the reads a phone made
// offline, sent at its next sync. A read is set once (the storage's
// ReadNotification), so a batch sent again after a lost answer changes
// nothing: at-least-once sending gives exactly-once reads. Each read keeps
// the phone's time, clamped between the message's writing and now (a
// phone's clock is not trusted further). An id that is not the caller's
// in-app message, or none at all, is skipped without a word, so the answer
// says nothing of other people's messages. The answer lists the caller's
// messages of the batch as they now stand.
func (s *Server) readMessages(c *fiber.Ctx) error {
	var req readMessagesRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	if len(req.Reads) > maxReadsPerRequest {
		return badRequest("reads", "send at most %d reads at a time; send the rest in another request", maxReadsPerRequest)
	}
	me := claims(c).Subject
	ctx := c.UserContext()
	now := s.now()
	out := messageList{Messages: []messageView{}}
	for _, rd := range req.Reads {
		n, err := s.store.Notification(ctx, rd.ID)
		if errors.Is(err, storage.ErrNotFound) || err == nil && (n.Recipient != me || n.Channel != notify.ChannelInApp) {
			continue
		}
		if err != nil {
			return err
		}
		at := rd.At
		if at.IsZero() || at.After(now) {
			at = now
		}
		if at.Before(n.CreatedAt) {
			at = n.CreatedAt
		}
		r, err := s.store.ReadNotification(ctx, n.ID, me, at)
		if err != nil {
			return err
		}
		out.Messages = append(out.Messages, viewMessage(r))
	}
	return c.JSON(out)
}

// channelSetting is one channel in a person's settings.
type channelSetting struct {
	Channel string `json:"channel"`
	On      bool   `json:"on"`
	// Choosable is false for the in-app messages (always on) and for SMS
	// without a phone number (Why "no_phone").
	Choosable bool   `json:"choosable"`
	Why       string `json:"why,omitempty"`
}

// notifySettings is what GET /v1/me/notify-settings answers.
type notifySettings struct {
	Channels []channelSetting `json:"channels"`
	// QuietHours ("22:00-07:00", "off") on the clock of TimeZone hold SMS
	// and robot messages back till morning; HourlyLimit is the most one
	// person gets on one of those channels in an hour (the rest waits; 0:
	// no limit).
	QuietHours  string `json:"quiet_hours"`
	TimeZone    string `json:"time_zone"`
	HourlyLimit int    `json:"hourly_limit"`
}

type notifySettingsRequest struct {
	// Off lists the channels to turn off; every other one is on.
	Off []string `json:"off"`
}

// configuredChannels are the server's channels, in-app first.
func (s *Server) configuredChannels() []string {
	chs := slices.Clone(s.notify.planner.Channels)
	slices.SortFunc(chs, func(a, b string) int {
		rank := func(c string) int {
			return slices.Index([]string{notify.ChannelInApp, notify.ChannelSMS, notify.ChannelWeCom, notify.ChannelDingTalk, notify.ChannelWebhook}, c)
		}
		return rank(a) - rank(b)
	})
	return chs
}

func (s *Server) viewSettings(u storage.User) notifySettings {
	p := s.notify.sender.Pacing
	out := notifySettings{Channels: []channelSetting{}, QuietHours: p.Quiet.String(), TimeZone: p.Quiet.Loc.String(), HourlyLimit: p.Hourly}
	if p.Quiet.Loc == nil || p.Quiet.Loc == notify.Shanghai {
		out.TimeZone = "Asia/Shanghai"
	}
	switch {
	case out.HourlyLimit == 0:
		out.HourlyLimit = notify.DefaultHourly
	case out.HourlyLimit < 0:
		out.HourlyLimit = 0 // none
	}
	on := notify.ChannelsFor(u, s.configuredChannels())
	for _, ch := range s.configuredChannels() {
		cs := channelSetting{Channel: ch, On: ch == notify.ChannelInApp || slices.Contains(on, ch), Choosable: notify.Choosable(ch)}
		if ch == notify.ChannelSMS && u.Phone == "" {
			// Planned, but failed at once for the administrator to see
			// (notify.ChannelsFor): to the person, off.
			cs.On, cs.Choosable, cs.Why = false, false, "no_phone"
		}
		out.Channels = append(out.Channels, cs)
	}
	return out
}

// getNotifySettings: GET /v1/me/notify-settings — the caller's channels.
func (s *Server) getNotifySettings(c *fiber.Ctx) error {
	u, err := s.store.User(c.UserContext(), claims(c).Subject)
	if err != nil {
		return err
	}
	return c.JSON(s.viewSettings(u))
}

// putNotifySettings: PUT /v1/me/notify-settings — the caller chooses the
// channels they are written to.
func (s *Server) putNotifySettings(c *fiber.Ctx) error {
	var req notifySettingsRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	configured := s.configuredChannels()
	for _, ch := range req.Off {
		if !slices.Contains(configured, ch) || !notify.Choosable(ch) {
			return badRequest("off", "%q is not a channel you can turn off here: choose among those GET /v1/me/notify-settings lists as choosable", ch)
		}
	}
	u, err := s.updateUser(c.UserContext(), claims(c).Subject, func(u *storage.User) error {
		u.NotifyOff = notify.JoinOff(req.Off)
		return nil
	})
	if err != nil {
		return err
	}
	s.audit(c, storage.AuditEvent{Action: "notify_settings", Result: "ok", Object: "user:" + u.ID, Detail: u.NotifyOff})
	return c.JSON(s.viewSettings(u))
}
