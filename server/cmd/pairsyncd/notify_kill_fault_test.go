package main

import (
	"crypto/hmac"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/pairsync/pairsync/server/notify"
)

// hookCounter is a webhook receiver on 127.0.0.1 that checks each
// signature and counts deliveries by notification id; the hold-th request
// is held until release is closed (the sender is then mid-delivery).
type hookCounter struct {
	t      *testing.T
	secret []byte
	hold   int

	mu       sync.Mutex
	n        int
	requests map[string]int
	bodies   map[string]string // id → the first body received
	changed  map[string]bool   // id → a later delivery's body differed
	held     chan string
	release  chan struct{}
}

func newHookCounter(t *testing.T, secret string, hold int) (*hookCounter, string) {
	h := &hookCounter{t: t, secret: []byte(secret), hold: hold, requests: map[string]int{}, bodies: map[string]string{},
		changed: map[string]bool{}, held: make(chan string, 1), release: make(chan struct{})}
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		select {
		case <-h.release:
		default:
			close(h.release)
		}
		srv.Close()
	})
	return h, srv.URL + "/hook"
}

func (h *hookCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		return // the sender died mid-request
	}
	if got := r.Header.Get(notify.SignatureHeader); !hmac.Equal([]byte(got), []byte(notify.Sign(h.secret, raw))) {
		h.t.Errorf("receiver: bad signature %q", got)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var b notify.WebhookBody
	if err := json.Unmarshal(raw, &b); err != nil || b.ID == "" {
		h.t.Errorf("receiver: body %s: %v", raw, err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	h.n++
	n := h.n
	h.requests[b.ID]++
	if first, ok := h.bodies[b.ID]; !ok {
		h.bodies[b.ID] = string(raw)
	} else if first != string(raw) {
		h.changed[b.ID] = true
	}
	h.mu.Unlock()
	if n == h.hold {
		h.held <- b.ID
		<-h.release
	}
	w.WriteHeader(http.StatusOK)
}

func (h *hookCounter) snapshot() (requests map[string]int, bodies map[string]string, changed map[string]bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	requests, bodies, changed = map[string]int{}, map[string]string{}, map[string]bool{}
	for k, v := range h.requests {
		requests[k] = v
	}
	for k, v := range h.bodies {
		bodies[k] = v
	}
	for k, v := range h.changed {
		changed[k] = v
	}
	return requests, bodies, changed
}

// TestNotificationsSurviveKill: pairsyncd, a real process, commits
// notifications (activation links to new users' phones, one each), and is
// killed with SIGKILL while it delivers them (the receiver holds one
// request open); started again on the same data directory, it delivers
// every one at least once, each with the same id and body every time, so
// the receiver's dedupe by id leaves exactly one per user; none is lost.
// The lease is the default 5 minutes, longer than the 90 s the test waits:
// the restart, under the same holder name (host name and address), releases
// what the killed life held instead of waiting it out.
func TestNotificationsSurviveKill(t *testing.T) {
	const (
		secret = "kill-test-webhook-key"
		users  = 30
	)
	hook, hookURL := newHookCounter(t, secret, 4)
	c := newChild(t, t.TempDir(), "PAIRSYNC_NOTIFY_WEBHOOK_URL="+hookURL, "PAIRSYNC_NOTIFY_WEBHOOK_SECRET="+secret,
		"PAIRSYNC_NOTIFY_WEBHOOK_PHONE=true") // the default lease (5 minutes): the restart releases what it held

	c.start()
	admin := loginAs(t, c.url(), "admin", adminPassword)
	var me struct {
		OrgUnit string `json:"org_unit"`
	}
	_, body := api(t, "GET", c.url()+"/v1/me", admin, nil)
	if err := json.Unmarshal(body, &me); err != nil || me.OrgUnit == "" {
		t.Fatalf("me: %s (%v)", body, err)
	}
	toUser := map[string]string{} // user id → user name
	for i := range users {
		status, body := api(t, "POST", c.url()+"/v1/users", admin, map[string]any{"username": fmt.Sprintf("officer%02d", i),
			"name": fmt.Sprintf("联络员%02d", i), "phone": fmt.Sprintf("139000000%02d", i), "role": "officer", "org_unit": me.OrgUnit})
		var cu struct {
			User struct {
				ID string `json:"id"`
			} `json:"user"`
			Activation struct {
				SentToPhone bool `json:"sent_to_phone"`
			} `json:"activation"`
		}
		if err := json.Unmarshal(body, &cu); status != 201 || err != nil || !cu.Activation.SentToPhone {
			t.Fatalf("create user %d: got %d %s, want 201 with the link sent to the phone", i, status, body)
		}
		toUser[cu.User.ID] = fmt.Sprintf("officer%02d", i)
	}

	// The sender's next pass (every 5 s) delivers; the fourth request is
	// held open, and the process is killed while it waits for the answer.
	var heldID string
	select {
	case heldID = <-hook.held:
	case <-time.After(60 * time.Second):
		t.Fatalf("no delivery within 60 s:\n%s", c.logs.String())
	}
	c.kill()
	close(hook.release)
	before, _, _ := hook.snapshot()
	if len(before) >= users {
		t.Fatalf("before the kill: %d notifications received, want fewer than %d (killed while sending)", len(before), users)
	}
	t.Logf("killed with %d of %d notifications received, one (%s) in flight", len(before), users, heldID)

	c.start()
	var requests map[string]int
	var bodies map[string]string
	var changed map[string]bool
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		requests, bodies, changed = hook.snapshot()
		if len(requests) >= users || time.Now().After(deadline) {
			break
		}
	}
	if len(requests) != users {
		t.Fatalf("after the restart: %d distinct notifications received, want %d (one per user)\n%s", len(requests), users, c.logs.String())
	}
	seen := map[string]string{} // recipient → notification id
	for id, raw := range bodies {
		var b notify.WebhookBody
		_ = json.Unmarshal([]byte(raw), &b)
		if _, ok := toUser[b.To.ID]; !ok || b.Event != notify.EventActivation || b.To.Phone == "" {
			t.Errorf("%s: got %+v, want an activation to one of the new users' phones", id, b)
		}
		if other, dup := seen[b.To.ID]; dup {
			t.Errorf("user %s got two notification ids, %s and %s: a redelivery must carry the same id", b.To.ID, other, id)
		}
		seen[b.To.ID] = id
	}
	if len(seen) != users {
		t.Fatalf("recipients: got %d, want %d", len(seen), users)
	}
	if requests[heldID] < 2 {
		t.Fatalf("the notification in flight at the kill (%s): received %d times, want again after the restart", heldID, requests[heldID])
	}
	if len(changed) != 0 {
		t.Fatalf("redeliveries with another body: %v, want every delivery of an id identical", changed)
	}
	redelivered := 0
	for _, n := range requests {
		if n > 1 {
			redelivered++
		}
	}
	// The outbox agrees: every notification sent, none pending or failed.
	admin = loginAs(t, c.url(), "admin", adminPassword)
	var list struct {
		Notifications []struct {
			ID    string `json:"id"`
			State string `json:"state"`
		} `json:"notifications"`
	}
	_, body = api(t, "GET", c.url()+"/v1/notifications?limit=1000", admin, nil)
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatal(err)
	}
	sent := 0
	for _, n := range list.Notifications {
		if n.State == "sent" {
			sent++
		}
	}
	if len(list.Notifications) != users || sent != users {
		t.Fatalf("outbox: got %d notifications, %d sent; want %d, all sent", len(list.Notifications), sent, users)
	}
	t.Logf("after the restart: %d notifications, each delivered at least once; %d delivered again with the same id", users, redelivered)
}
