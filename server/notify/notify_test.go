package notify

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/storage/bolt"
	"github.com/pairsync/pairsync/syncproto"
)

func TestIDIsDeterministic(t *testing.T) {
	base := ID("issue_events/e1", "u1", ChannelWebhook)
	if again := ID("issue_events/e1", "u1", ChannelWebhook); again != base {
		t.Fatalf("same cause, recipient, channel: got %s and %s, want equal", base, again)
	}
	for _, other := range []string{
		ID("issue_events/e2", "u1", ChannelWebhook),
		ID("issue_events/e1", "u2", ChannelWebhook),
		ID("issue_events/e1", "u1", "sms"),
		ID("issue_events/e1u1", "", ChannelWebhook),
	} {
		if other == base {
			t.Fatalf("another cause, recipient or channel: got the same id %s", base)
		}
	}
}

func TestBackoffDoublesWithJitter(t *testing.T) {
	for n := 1; n <= 12; n++ {
		d := min(30*time.Second<<(n-1), time.Hour)
		for range 50 {
			if got := Backoff(n); got < d/2 || got >= d {
				t.Fatalf("Backoff(%d): got %v, want in [%v, %v)", n, got, d/2, d)
			}
		}
	}
}

// TestTexts: Chinese by default, English for "en", the comment of a
// returned visit quoted.
func TestTexts(t *testing.T) {
	w := syncproto.Writer{Replica: "r1"}
	vals := map[string]json.RawMessage{}
	for k, v := range map[string]any{"title": "走访某某电梯", "status": "returned", "return_comment": "请补充照片", "returned_at": "2026-12-07T08:00:00Z",
		"returned_by": "u-admin", "officers": []string{"u-o1", "u-o2"}} {
		vals[k], _ = json.Marshal(v)
	}
	r, _, err := w.Set(syncproto.NewRecord("visits", "v1", "p1"), vals, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ms := visitMessages(r)
	if len(ms) != 1 || len(ms[0].to) != 2 || ms[0].by != "u-admin" || ms[0].subject != "visits/v1" {
		t.Fatalf("returned visit: got %+v, want one message to both officers, by the admin", ms)
	}
	if zh := ms[0].to[0].text("zh"); zh != "【结对共建】您的走访记录「走访某某电梯」被退回，意见：请补充照片。请修改后重新提交。" {
		t.Errorf("Chinese text: got %q", zh)
	}
	if en := ms[0].to[0].text("en"); en != "[Pairsync] Your visit “走访某某电梯” was returned with the comment: 请补充照片. Please correct it and submit it again." {
		t.Errorf("English text: got %q", en)
	}
	vals["status"], _ = json.Marshal("submitted")
	r, _, _ = w.Set(r, vals, time.Now())
	if ms := visitMessages(r); len(ms) != 0 {
		t.Errorf("submitted visit: got %+v, want no message", ms)
	}
}

// TestSenderLogsNoPhoneOrSecret: a failing delivery is logged with the
// notification's id and the provider's answer, never the phone number or
// the signing key; the phone goes only into the body when asked for.
func TestSenderLogsNoPhoneOrSecret(t *testing.T) {
	db, err := bolt.Open(t.Context(), bolt.Config{Path: filepath.Join(t.TempDir(), "p.db"), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	const phone, secret = "13912345678", "very-secret-key"
	if _, err := db.CreateUser(t.Context(), storage.User{ID: "u1", Username: "u1", Name: "王芳", Phone: phone, Role: "contact"}); err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex
		bodies []string
	)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b bytes.Buffer
		_, _ = b.ReadFrom(r.Body)
		mu.Lock()
		bodies = append(bodies, b.String())
		mu.Unlock()
		http.Error(w, "busy", http.StatusServiceUnavailable)
	}))
	t.Cleanup(hook.Close)
	now := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	if _, err := db.Commit(t.Context(), storage.Batch{Notifications: []storage.Notification{{ID: "n1", Channel: ChannelWebhook, Event: EventIssueResponded,
		Recipient: "u1", RecipientName: "王芳", Text: "请确认并评价", CreatedAt: now}}}); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	for _, withPhone := range []bool{false, true} {
		s := &Sender{Store: db, Holder: "h", Now: func() time.Time { return now },
			Channels: map[string]Channel{ChannelWebhook: &Webhook{URL: hook.URL, Secret: []byte(secret), Phone: withPhone}},
			Log:      slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
		if n, err := s.Send(t.Context()); err != nil || n != 1 {
			t.Fatalf("send: got %d attempts, error %v; want 1, none", n, err)
		}
		nt, _ := db.Notification(t.Context(), "n1")
		now = nt.NextAt
	}
	if strings.Contains(logs.String(), phone) || strings.Contains(logs.String(), secret) || !strings.Contains(logs.String(), "n1") ||
		!strings.Contains(logs.String(), "HTTP 503 busy") {
		t.Fatalf("logs: want the id and the answer, no phone or secret; got %s", logs.String())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) != 2 || strings.Contains(bodies[0], phone) || !strings.Contains(bodies[1], `"phone":"`+phone+`"`) || strings.Contains(bodies[1], secret) {
		t.Fatalf("bodies: want the phone only in the second (Phone set), never the secret; got %q", bodies)
	}
}
