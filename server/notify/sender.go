package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pairsync/pairsync/storage"
)

// Channel delivers one notification to one recipient; it returns the
// provider's answer, and an error when the notification was not delivered.
type Channel interface {
	Deliver(ctx context.Context, n storage.Notification, to Recipient) (answer string, err error)
}

// SenderStore is what a Sender reads and writes.
type SenderStore interface {
	storage.Notifications
	storage.Users
}

// The defaults of Sender's fields.
const (
	DefaultMaxAge = 24 * time.Hour
	DefaultLease  = 5 * time.Minute
	DefaultBatch  = 10
)

// Sender drains the outbox. Holder, Store and Channels are required.
type Sender struct {
	Store    SenderStore
	Channels map[string]Channel
	// Holder names this process in claims (its server replica id).
	Holder string
	Now    func() time.Time // nil: time.Now
	// Backoff is the wait before attempt n+1 after n failed ones; nil means
	// Backoff (exponential with jitter).
	Backoff func(attempt int) time.Duration
	// MaxAge is how long a notification is retried, from the start of its
	// delivery round, before it is marked failed (default 24 h).
	MaxAge time.Duration
	// Lease is how long a claim lasts (default 5 min): longer than a batch
	// of deliveries takes, so no other sender takes one over meanwhile.
	Lease time.Duration
	Batch int // notifications claimed at once (default 10)
	// Outcomes counts attempts by channel and outcome (sent, retry,
	// failed); nil counts nothing.
	Outcomes *prometheus.CounterVec
	Log      *slog.Logger // nil: nowhere
	// Pacing, when set, holds back what may not go out now (quiet hours,
	// per-person and per-robot limits) until it may: deferred, never
	// dropped, no attempt counted.
	Pacing *Pacing
}

// NewOutcomes returns the counter Sender.Outcomes expects, for the
// caller's registry.
func NewOutcomes() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "pairsync", Name: "notifications_total",
		Help: "Notification delivery attempts, by channel and outcome (sent, retry, failed), and deferrals (deferred: quiet hours or a limit).",
	}, []string{"channel", "outcome"})
}

// Backoff is the default wait after n failed attempts: 30 s doubling up to
// an hour, each drawn at random from its upper half (jitter, so the
// notifications of one outage do not all come back at once).
func Backoff(n int) time.Duration {
	d := 30 * time.Second << min(max(n-1, 0), 7)
	d = min(d, time.Hour)
	return d/2 + rand.N(d/2)
}

// Release gives up the leases this sender's holder name holds: called at
// start, it lets what a crashed earlier life of this process had claimed
// go out at once rather than when the lease runs out. The holder name
// must then be stable across restarts and unique among live senders
// (pairsyncd: -notify-holder, by default its host name and address).
func (s *Sender) Release(ctx context.Context) (int, error) {
	n, err := s.Store.ReleaseNotifications(ctx, s.Holder)
	if err == nil && n > 0 && s.Log != nil {
		s.Log.Info("released the notifications an earlier life of this sender had claimed", "holder", s.Holder, "count", n)
	}
	return n, err
}

// Send claims and delivers the due notifications until none is due, and
// returns how many attempts it made. An error of the store ends the pass;
// a channel's failure is recorded on its notification.
func (s *Sender) Send(ctx context.Context) (int, error) {
	now := s.Now
	if now == nil {
		now = time.Now
	}
	lease, batch := cmpOr(s.Lease, DefaultLease), cmpOr(s.Batch, DefaultBatch)
	n := 0
	folded := map[string]bool{} // finished in this pass with another (fold)
	for range maxBatches {      // the rest waits for the next pass
		claimed, err := s.Store.ClaimNotifications(ctx, s.Holder, now(), lease, batch)
		if err != nil {
			return n, err
		}
		if len(claimed) == 0 {
			return n, nil
		}
		for _, nt := range claimed {
			if folded[nt.ID] {
				continue
			}
			if err := s.deliver(ctx, nt, now, folded); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

// maxBatches bounds one pass of Send.
const maxBatches = 100

// deliver makes one attempt and records its outcome.
func (s *Sender) deliver(ctx context.Context, n storage.Notification, now func() time.Time, folded map[string]bool) error {
	out := storage.NotificationOutcome{}
	ch, ok := s.Channels[n.Channel]
	var (
		err    error
		others []storage.Notification // folded into n's message
	)
	if !ok {
		out.State, out.Answer = storage.NotificationFailed, fmt.Sprintf("channel %s is not configured", n.Channel)
	} else {
		to := Recipient{ID: n.Recipient, Name: n.RecipientName}
		u, uerr := s.Store.User(ctx, n.Recipient)
		switch {
		case uerr == nil:
			to.Name, to.Phone = u.Name, u.Phone
		case !errors.Is(uerr, storage.ErrNotFound):
			return uerr
		}
		// A robot's message is counted against that robot's limit: which
		// one it goes to is resolved now (its unit's, else the global).
		rc, robotChannel := ch.(RobotChannel)
		if robotChannel {
			if n.Robot, err = rc.Robot(ctx, n); err != nil {
				return err
			}
			out.Robot = n.Robot
		}
		// A text to nobody's phone, or a robot message with no robot,
		// fails at once (its reason shown to administrators), not after
		// quiet hours or a limit.
		if s.Pacing != nil && !(n.Channel == ChannelSMS && to.Phone == "") && !(robotChannel && n.Robot == "") {
			until, reason, perr := s.Pacing.Hold(ctx, s.Store, n, now())
			if perr != nil {
				return perr
			}
			if !until.IsZero() {
				return s.deferTo(ctx, n, until, reason)
			}
		}
		msg := n
		if s.Pacing != nil && paced(n.Channel) {
			var robot func(storage.Notification) (string, error)
			if robotChannel {
				robot = func(o storage.Notification) (string, error) { return rc.Robot(ctx, o) }
			}
			if others, err = s.fold(ctx, n, now(), robot); err != nil {
				return err
			}
			if len(others) > 0 {
				msg = Folded(n, others, u.Role)
			}
		}
		out.Answer, err = ch.Deliver(ctx, msg, to)
		switch {
		case err == nil:
			out.State = storage.NotificationSent
		case errors.Is(err, ErrPermanent):
			out.State = storage.NotificationFailed
		}
	}
	out.At = now()
	if out.State == "" {
		backoff := s.Backoff
		if backoff == nil {
			backoff = Backoff
		}
		out.NextAt = out.At.Add(backoff(n.Attempts + 1))
		out.State = storage.NotificationPending
		if out.NextAt.Sub(n.Since) > cmpOr(s.MaxAge, DefaultMaxAge) {
			out.State = storage.NotificationFailed
		}
	}
	outcome := map[string]string{storage.NotificationSent: "sent", storage.NotificationPending: "retry", storage.NotificationFailed: "failed"}[out.State]
	if s.Outcomes != nil {
		s.Outcomes.WithLabelValues(n.Channel, outcome).Inc()
	}
	if s.Log != nil && outcome != "sent" {
		// The notification's id and the provider's answer: never the
		// phone number or the secret.
		s.Log.Warn("notification not delivered", "id", n.ID, "channel", n.Channel, "outcome", outcome,
			"attempts", n.Attempts+1, "answer", out.Answer, "err", err)
	}
	for _, o := range others {
		// Each folded one shares the attempt's outcome: sent with it, or
		// retried with it (then folded again, or sent alone).
		oo := out
		if out.State == storage.NotificationSent {
			oo.Answer = FoldedPrefix + n.ID + ": " + out.Answer
		}
		folded[o.ID] = true
		if ferr := s.Store.FinishNotification(ctx, o.ID, s.Holder, oo); ferr != nil && !errors.Is(ferr, storage.ErrConflict) {
			return ferr
		}
	}
	if ferr := s.Store.FinishNotification(ctx, n.ID, s.Holder, out); ferr != nil {
		if errors.Is(ferr, storage.ErrConflict) {
			// Our lease ran out and another sender took it over: its
			// outcome stands.
			if s.Log != nil {
				s.Log.Warn("notification lease lost", "id", n.ID)
			}
			return nil
		}
		return ferr
	}
	return nil
}

// deferTo puts n off until until (Pacing), counted as "deferred".
func (s *Sender) deferTo(ctx context.Context, n storage.Notification, until time.Time, reason string) error {
	if s.Outcomes != nil {
		s.Outcomes.WithLabelValues(n.Channel, "deferred").Inc()
	}
	err := s.Store.DeferNotification(ctx, n.ID, s.Holder, until, reason)
	if errors.Is(err, storage.ErrConflict) {
		return nil // the lease ran out: another sender has it
	}
	return err
}

func cmpOr[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}
