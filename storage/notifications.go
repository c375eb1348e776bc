package storage

import (
	"context"
	"time"
)

// Notification states. A notification is pending until it is delivered
// (sent) or given up on (failed); an administrator's resend makes a sent
// or failed one pending again.
const (
	NotificationPending = "pending"
	NotificationSent    = "sent"
	NotificationFailed  = "failed"
)

// Notification is one message to one person on one channel, kept in the
// durable outbox (ARCHITECTURE.md: notifications are part of the commit).
// It is written by Commit in the same transaction as the change that causes
// it; its ID is derived from the cause, the recipient and the channel, so a
// retried push or two server processes committing the same change write it
// once. Adapters store times in UTC at millisecond precision.
type Notification struct {
	ID      string
	Channel string // "webhook", …
	Event   string // issue_dispatched, issue_responded, visit_returned, …
	// Cause names the record whose change caused it ("issue_events/<id>").
	Cause string
	// Subject is what the link opens ("issues/<id>").
	Subject   string
	Recipient string // user id
	// RecipientName is the recipient's name when it was created (the phone
	// is read from the user at delivery, never stored here).
	RecipientName string
	Pairing       string
	// OrgPaths are the org-unit paths of the pairing's branches: the
	// administrators of any of their subtrees see the notification.
	OrgPaths []string
	Lang     string // zh or en
	Text     string
	Link     string
	State    string // NotificationPending, NotificationSent, NotificationFailed
	// CreatedAt is when it was committed; Since the start of the current
	// delivery round (CreatedAt, or the last resend); NextAt when it is due
	// for its next attempt.
	CreatedAt time.Time
	Since     time.Time
	NextAt    time.Time
	// Attempts counts the delivery attempts of the current round; Answer is
	// the provider's answer to the last one (status and a short body), and
	// AttemptAt its time. DoneAt is when it was sent or failed.
	Attempts  int
	Answer    string
	AttemptAt time.Time
	DoneAt    time.Time
	// Robot names the group robot the last attempt went to (a hash of its
	// webhook's identity, never its key: notify.RobotKey), "" for other
	// channels: the robots' limit counts each robot's messages.
	Robot string
	// LeaseHolder claimed it until LeaseUntil (ClaimNotifications).
	LeaseHolder string
	LeaseUntil  time.Time
	// ReadAt is when the recipient read it (in-app messages,
	// ReadNotification); zero while unread.
	ReadAt time.Time
}

// NotificationOutcome is what a sender reports for one attempt.
type NotificationOutcome struct {
	// State is NotificationSent, NotificationFailed, or NotificationPending
	// to retry at NextAt.
	State  string
	Answer string
	At     time.Time
	NextAt time.Time
	Robot  string // the robot it went to (Notification.Robot), "" for none
}

// NotificationQuery selects notifications for administrators, newest first
// (CreatedAt, then ID).
type NotificationQuery struct {
	// OrgPath keeps the notifications one of whose OrgPaths starts with it
	// (an administrator's subtree); "" keeps all.
	OrgPath string
	State   string // exact when set
	// Recipient and Channel keep one person's, one channel's notifications
	// (exact when set).
	Recipient string
	Channel   string
	// Robot keeps those whose last attempt went to this robot (exact when
	// set).
	Robot string
	// Unread keeps those not read yet (ReadAt zero).
	Unread bool
	// DoneSince, when set, keeps those whose DoneAt is at or after it (the
	// sender's limits count what was sent recently).
	DoneSince time.Time
	Offset    int
	Limit     int // 0 means 100
}

// Notifications is the outbox's delivery side; notifications are written by
// Records.Commit (Batch.Notifications). Safe for concurrent use; returned
// values belong to the caller.
type Notifications interface {
	// ClaimNotifications leases up to limit pending notifications whose
	// NextAt ≤ now and whose lease is free (LeaseUntil ≤ now) to holder
	// until now+lease, oldest NextAt first, and returns them. Each
	// notification is claimed by one holder at a time; a lease that expires
	// lets another holder claim it. ErrInvalid for an empty holder, a lease
	// ≤ 0 or a limit ≤ 0.
	ClaimNotifications(ctx context.Context, holder string, now time.Time, lease time.Duration, limit int) ([]Notification, error)
	// FinishNotification records the outcome of holder's attempt: Attempts
	// +1, Answer, AttemptAt, then State (DoneAt set when sent or failed) or,
	// for NotificationPending, NextAt; the lease is released. ErrNotFound
	// for an unknown id; ErrConflict when the notification is not pending
	// or holder no longer holds its lease (another holder claimed it after
	// the lease expired); ErrInvalid for an unknown State.
	FinishNotification(ctx context.Context, id, holder string, o NotificationOutcome) error
	// Notification returns one notification, or ErrNotFound.
	Notification(ctx context.Context, id string) (Notification, error)
	// ListNotifications returns one page of notifications matching q and
	// whether more follow.
	ListNotifications(ctx context.Context, q NotificationQuery) ([]Notification, bool, error)
	// ResendNotification makes a notification pending again, due at now, in
	// a new delivery round (Since = now, Attempts 0, lease released), and
	// returns it. ErrNotFound for an unknown id.
	ResendNotification(ctx context.Context, id string, now time.Time) (Notification, error)
	// DeferNotification puts off holder's claimed notification until until
	// without an attempt (quiet hours, a rate limit): NextAt = until,
	// Answer = reason, the lease released, Attempts unchanged; when no
	// attempt was made in this round yet, Since = until too (the round's
	// retry time starts when it may first be sent). ErrNotFound for an
	// unknown id; ErrConflict as for FinishNotification.
	DeferNotification(ctx context.Context, id, holder string, until time.Time, reason string) error
	// ClaimNotification leases one pending notification, due at now
	// (NextAt ≤ now), to holder until now+lease, when its lease is free or
	// already holder's, and returns it (a sender folding a person's held
	// messages into one takes the others too). ErrNotFound for an unknown
	// id; ErrConflict when it is not pending, not due or leased to another
	// holder; ErrInvalid as for ClaimNotifications.
	ClaimNotification(ctx context.Context, id, holder string, now time.Time, lease time.Duration) (Notification, error)
	// ReleaseNotifications releases the leases of holder's pending
	// notifications (LeaseHolder "", LeaseUntil zero) and returns how many:
	// a sender that restarts after a crash under the same holder name lets
	// what it held go out at once instead of after its lease. ErrInvalid
	// for an empty holder.
	ReleaseNotifications(ctx context.Context, holder string) (int, error)
	// ReadNotification marks recipient's notification read at at (once:
	// a second call keeps the first time) and returns it. ErrNotFound for
	// an unknown id or one of another recipient.
	ReadNotification(ctx context.Context, id, recipient string, at time.Time) (Notification, error)
}
