package notify

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pairsync/pairsync/storage"
)

// Shanghai is China Standard Time (UTC+8, no daylight saving), the default
// zone of quiet hours; a fixed zone needs no time-zone database.
var Shanghai = time.FixedZone("CST", 8*60*60)

// QuietHours is the night, From to To on the clock of Loc (From > To spans
// midnight). The zero value (From == To) is no quiet hours.
type QuietHours struct {
	From, To time.Duration // since midnight
	Loc      *time.Location
}

// DefaultQuietHours are 22:00–07:00 in Shanghai (the words).
var DefaultQuietHours = QuietHours{From: 22 * time.Hour, To: 7 * time.Hour, Loc: Shanghai}

// ParseQuietHours reads "22:00-07:00" ("off" or "" is none).
func ParseQuietHours(s string, loc *time.Location) (QuietHours, error) {
	if s == "" || s == "off" {
		return QuietHours{Loc: loc}, nil
	}
	from, to, ok := strings.Cut(s, "-")
	f, ferr := clock(from)
	t, terr := clock(to)
	if !ok || ferr != nil || terr != nil {
		return QuietHours{}, fmt.Errorf("quiet hours %q: want HH:MM-HH:MM, e.g. 22:00-07:00, or off", s)
	}
	return QuietHours{From: f, To: t, Loc: loc}, nil
}

func clock(s string) (time.Duration, error) {
	t, err := time.Parse("15:04", strings.TrimSpace(s))
	if err != nil {
		return 0, err
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, nil
}

// String is the "22:00-07:00" form ("off" for none).
func (q QuietHours) String() string {
	if q.From == q.To {
		return "off"
	}
	f := func(d time.Duration) string { return fmt.Sprintf("%02d:%02d", int(d.Hours()), int(d.Minutes())%60) }
	return f(q.From) + "-" + f(q.To)
}

func (q QuietHours) loc() *time.Location {
	if q.Loc == nil {
		return Shanghai
	}
	return q.Loc
}

// End returns the end of the quiet hours t falls in, and false when t is
// outside them.
func (q QuietHours) End(t time.Time) (time.Time, bool) {
	if q.From == q.To {
		return time.Time{}, false
	}
	lt := t.In(q.loc())
	midnight := time.Date(lt.Year(), lt.Month(), lt.Day(), 0, 0, 0, 0, q.loc())
	since := lt.Sub(midnight)
	if q.From < q.To { // e.g. 12:00-14:00
		if since >= q.From && since < q.To {
			return midnight.Add(q.To), true
		}
		return time.Time{}, false
	}
	switch { // spans midnight
	case since >= q.From:
		return time.Date(lt.Year(), lt.Month(), lt.Day()+1, 0, 0, 0, 0, q.loc()).Add(q.To), true
	case since < q.To:
		return midnight.Add(q.To), true
	}
	return time.Time{}, false
}

// The defaults of Pacing.
const (
	DefaultHourly      = 6
	DefaultRobotMinute = 20 // 企业微信 and 钉钉 robots: 20 messages a minute each
)

// Deferral reasons, at the start of a deferred notification's Answer (the
// console puts them into words: Explain).
const (
	ReasonQuietHours  = "quiet_hours"
	ReasonHourlyLimit = "hourly_limit"
	ReasonRobotLimit  = "robot_limit"
)

// Pacing decides when a notification may go out on a channel that reaches
// a person's phone (SMS and the robots; never the in-app messages nor the
// webhook, a system that paces itself): not in quiet hours unless urgent,
// at most Hourly per recipient and channel in a clock hour, at most
// PerMinute[channel] a minute to one robot of a channel (a robot's limit:
// each org unit's robot has its own). What may not
// go now is deferred, never dropped. The counts are read from the outbox,
// so every server process keeps the same limits.
type Pacing struct {
	Quiet QuietHours
	// Hourly is the per-recipient, per-channel limit in a clock hour
	// (0: DefaultHourly; negative: none).
	Hourly int
	// PerMinute bounds the messages to one robot of a channel in any 60 s
	// (nil: the robots' DefaultRobotMinute). The robot is the
	// notification's Robot (the sender sets it: RobotChannel); with none,
	// the channel's messages to every robot count.
	PerMinute map[string]int
	// Urgent reports a notification that quiet hours do not hold (nil:
	// IsUrgent). Urgent ones still count against the limits.
	Urgent func(storage.Notification) bool
}

// UrgentEvents are the events that go out in quiet hours too: only an
// activation link (the person is waiting for it, often with the
// administrator beside them); a dispatch or an answer can wait for the
// morning. An event added to the planner that cannot wait is added here.
var UrgentEvents = map[string]bool{EventActivation: true}

// IsUrgent reports whether n's event is in UrgentEvents.
func IsUrgent(n storage.Notification) bool { return UrgentEvents[n.Event] }

// paced reports whether pacing applies to channel.
func paced(channel string) bool {
	return channel != ChannelInApp && channel != ChannelWebhook
}

// Hold returns when n may go out if not at now (zero: now) and why, the
// reason starting with one of the Reason constants.
func (p Pacing) Hold(ctx context.Context, store storage.Notifications, n storage.Notification, now time.Time) (time.Time, string, error) {
	if !paced(n.Channel) {
		return time.Time{}, "", nil
	}
	urgent := IsUrgent
	if p.Urgent != nil {
		urgent = p.Urgent
	}
	if end, quiet := p.Quiet.End(now); quiet && !urgent(n) {
		return end, fmt.Sprintf("%s: deferred to %s, the end of quiet hours (%s)", ReasonQuietHours,
			end.In(p.Quiet.loc()).Format("2006-01-02 15:04"), p.Quiet), nil
	}
	perMinute := p.PerMinute
	if perMinute == nil {
		perMinute = map[string]int{ChannelWeCom: DefaultRobotMinute, ChannelDingTalk: DefaultRobotMinute}
	}
	if limit := perMinute[n.Channel]; limit > 0 {
		sent, _, err := store.ListNotifications(ctx, storage.NotificationQuery{Channel: n.Channel, Robot: n.Robot, State: storage.NotificationSent,
			DoneSince: now.Add(-time.Minute + time.Millisecond), Limit: 1000})
		if err != nil {
			return time.Time{}, "", err
		}
		sent = messages(sent)
		if len(sent) >= limit {
			// Free again when the limit-th latest leaves the window.
			done := make([]time.Time, len(sent))
			for i, s := range sent {
				done[i] = s.DoneAt
			}
			slices.SortFunc(done, func(a, b time.Time) int { return b.Compare(a) })
			until := done[limit-1].Add(time.Minute)
			return until, fmt.Sprintf("%s: %d messages in the last minute to this %s robot (its limit): deferred %s", ReasonRobotLimit,
				len(sent), n.Channel, until.Sub(now).Round(time.Second)), nil
		}
	}
	hourly := p.Hourly
	if hourly == 0 {
		hourly = DefaultHourly
	}
	if hourly > 0 {
		lt := now.In(p.Quiet.loc())
		hour := time.Date(lt.Year(), lt.Month(), lt.Day(), lt.Hour(), 0, 0, 0, p.Quiet.loc())
		sent, _, err := store.ListNotifications(ctx, storage.NotificationQuery{Recipient: n.Recipient, Channel: n.Channel,
			State: storage.NotificationSent, DoneSince: hour, Limit: 1000})
		if err != nil {
			return time.Time{}, "", err
		}
		sent = messages(sent)
		if len(sent) >= hourly {
			next := hour.Add(time.Hour)
			if end, quiet := p.Quiet.End(next); quiet && !urgent(n) {
				next = end
			}
			return next, fmt.Sprintf("%s: %d sent to this person on %s this hour (the limit): deferred to %s", ReasonHourlyLimit,
				len(sent), n.Channel, next.In(p.Quiet.loc()).Format("2006-01-02 15:04")), nil
		}
	}
	return time.Time{}, "", nil
}

// FoldedPrefix starts the answer of a notification that went out inside
// another's message (Folded): it was sent, but is no message of its own.
const FoldedPrefix = "folded into "

// messages keeps the sent notifications that were messages of their own
// (the limits count messages, not notifications folded into one).
func messages(sent []storage.Notification) []storage.Notification {
	return slices.DeleteFunc(sent, func(n storage.Notification) bool { return strings.HasPrefix(n.Answer, FoldedPrefix) })
}
