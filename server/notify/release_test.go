package notify

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/storage/bolt"
)

// countingChannel delivers everything and counts.
type countingChannel struct{ n int }

func (c *countingChannel) Deliver(context.Context, storage.Notification, Recipient) (string, error) {
	c.n++
	return "HTTP 200", nil
}

// TestRestartReleasesLeases: what a sender held when it crashed is
// delivered as soon as it starts again under the same holder name, not
// once its lease (5 minutes by default) runs out; another holder's leases
// are kept.
func TestRestartReleasesLeases(t *testing.T) {
	db, err := bolt.Open(t.Context(), bolt.Config{Path: filepath.Join(t.TempDir(), "p.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	var ns []storage.Notification
	for _, id := range []string{"n1", "n2", "n3"} {
		ns = append(ns, storage.Notification{ID: id, Channel: ChannelWebhook, Event: EventIssueDispatched, Cause: "c/" + id, Subject: "issues/i1",
			Recipient: "u1", Text: "t", Link: "l", CreatedAt: t0})
	}
	if _, err := db.Commit(t.Context(), storage.Batch{Notifications: ns}); err != nil {
		t.Fatal(err)
	}
	// The first life of "host-a" claims two, another process one; then
	// "host-a" is killed.
	if got, err := db.ClaimNotifications(t.Context(), "host-a", t0, DefaultLease, 2); err != nil || len(got) != 2 {
		t.Fatalf("claim: got %v, %v", got, err)
	}
	if got, err := db.ClaimNotifications(t.Context(), "host-b", t0, DefaultLease, 1); err != nil || len(got) != 1 {
		t.Fatalf("claim: got %v, %v", got, err)
	}
	ch := &countingChannel{}
	now := t0.Add(time.Second)
	s := &Sender{Store: db, Channels: map[string]Channel{ChannelWebhook: ch}, Holder: "host-a", Now: func() time.Time { return now }}
	if k, err := s.Release(t.Context()); err != nil || k != 2 {
		t.Fatalf("release at start: got %d, %v; want 2", k, err)
	}
	if n, err := s.Send(t.Context()); err != nil || n != 2 || ch.n != 2 {
		t.Fatalf("a second after the restart: got %d attempts (%v), %d delivered; want host-a's 2", n, err, ch.n)
	}
}
