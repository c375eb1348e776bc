package server

import (
	"crypto/hmac"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pairsync/pairsync/server/notify"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/syncproto"
)

const webhookSecret = "test-webhook-secret"

// receiver is a webhook receiver on 127.0.0.1 that checks every request's
// signature exactly as a provider would (HMAC-SHA256 of the raw body with
// the shared key) and counts deliveries by notification id.
type receiver struct {
	t   *testing.T
	url string
	mu  sync.Mutex
	// fail answers 500 to a recipient's notifications while it returns
	// true (given how many requests that notification had before).
	fail      func(to string, before int) bool
	requests  map[string]int // id → requests
	delivered map[string]int // id → 2xx answers
	bodies    map[string]notify.WebhookBody
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{t: t, requests: map[string]int{}, delivered: map[string]int{}, bodies: map[string]notify.WebhookBody{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("receiver: read body: %v", err)
			w.WriteHeader(400)
			return
		}
		want := notify.Sign([]byte(webhookSecret), raw)
		if got := r.Header.Get("X-Pairsync-Signature"); !hmac.Equal([]byte(got), []byte(want)) || !strings.HasPrefix(got, "sha256=") || len(got) != 7+64 {
			t.Errorf("receiver: signature %q, want %q (HMAC-SHA256 of the body)", got, want)
			w.WriteHeader(401)
			return
		}
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("receiver: got %s with Content-Type %q, want a JSON POST", r.Method, r.Header.Get("Content-Type"))
		}
		var b notify.WebhookBody
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&b); err != nil {
			t.Errorf("receiver: body %s: %v", raw, err)
		}
		rc.mu.Lock()
		before := rc.requests[b.ID]
		rc.requests[b.ID]++
		failing := rc.fail != nil && rc.fail(b.To.ID, before)
		if !failing {
			rc.delivered[b.ID]++
			rc.bodies[b.ID] = b
		}
		rc.mu.Unlock()
		if failing {
			http.Error(w, "upstream SMS gateway busy", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	rc.url = srv.URL + "/hook"
	return rc
}

func (rc *receiver) snapshot() (requests, delivered map[string]int, bodies map[string]notify.WebhookBody) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return copyCounts(rc.requests), copyCounts(rc.delivered), func() map[string]notify.WebhookBody {
		out := map[string]notify.WebhookBody{}
		for k, v := range rc.bodies {
			out[k] = v
		}
		return out
	}()
}

func copyCounts(m map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// notifyServer is one more server process on e's store, with the webhook
// channel pointing at rc; e then talks to it.
func notifyServer(t *testing.T, e *idEnv, rc *receiver, phone bool) *Server {
	t.Helper()
	s, err := New(Config{PublicURL: "https://pairsync.example/", NotifyWebhook: notify.Webhook{URL: rc.url, Secret: []byte(webhookSecret), Phone: phone}},
		Deps{Store: e.db, Photos: e.s.photos, Now: e.now, PasswordParams: fastPasswords})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// notifyFixture: a second officer in unit A, and a pairing of unit A with
// officerA (primary) and officerA2 and contactA; e then talks to a server
// with the webhook on.
func notifyFixture(t *testing.T, phone bool) (e *idEnv, rc *receiver, pid, cp string) {
	t.Helper()
	e = newDomainEnv(t)
	rc = newReceiver(t)
	e.s = notifyServer(t, e, rc, phone)
	e.base = serve(t, e.s)
	pid, cp = notifyPairing(t, e)
	return e, rc, pid, cp
}

// notifyPairing makes notifyFixture's second officer and pairing on e's
// server.
func notifyPairing(t testing.TB, e *idEnv) (pid, cp string) {
	t.Helper()
	u, err := e.db.CreateUser(t.Context(), storage.User{ID: "u-officerA2", Username: "officerA2", Name: "李四", Role: "officer", OrgUnit: "unitA",
		PasswordHash: e.users["officerA"].PasswordHash})
	if err != nil {
		t.Fatal(err)
	}
	e.users["officerA2"] = u
	return elevatorPairing(t, e, nil, map[string]any{"user_id": "u-officerA", "primary": true}, map[string]any{"user_id": "u-officerA2"})
}

// raiseIssues pushes, from officerA's phone, a visit citing n issues.
func raiseIssues(t *testing.T, e *idEnv, off *device, pid, cp string, n int) []syncproto.Change {
	t.Helper()
	at := time.Now().UTC().Format(time.RFC3339)
	var ids []string
	for i := range n {
		ids = append(ids, fmt.Sprintf("i%d", i+1))
	}
	changes := []syncproto.Change{off.set("visits", "v1", pid, map[string]any{"title": "走访某某电梯", "mode": "onsite", "visited_at": at,
		"officers": []string{"u-officerA"}, "counterparty": cp, "notes": "了解企业融资需求", "issues": ids})}
	for i, id := range ids {
		changes = append(changes, off.set("issues", id, pid, map[string]any{"title": fmt.Sprintf("融资难%d", i+1), "category": "financing",
			"raised_by": "u-officerA", "raised_at": at, "visit": "v1"}))
	}
	_, ans := off.push(changes...)
	for _, res := range ans.Results {
		if res.Status != syncproto.StatusApplied {
			t.Fatalf("raise: got %+v, want every change applied", ans.Results)
		}
	}
	return changes
}

func dispatch(t *testing.T, e *idEnv, issue string) {
	t.Helper()
	r := e.call("POST", "/v1/issues/"+issue+"/events", e.login("adminA").AccessToken, map[string]any{"type": "dispatched", "handler": "u-officerA", "handler_name": "张三"})
	if r.status != 201 {
		t.Fatalf("dispatch %s: got %d %s, want 201", issue, r.status, r.body)
	}
}

func allNotifications(t *testing.T, e *idEnv) []storage.Notification {
	t.Helper()
	ns, more, err := e.db.ListNotifications(t.Context(), storage.NotificationQuery{Limit: 1000})
	if err != nil || more {
		t.Fatalf("list notifications: more %v, error %v", more, err)
	}
	return ns
}

// TestNotificationsPerEvent: each event produces exactly one notification
// per recipient, planned in the commit of REST writes and pushes alike; a
// replayed push or a second commit of the same change adds none; the
// webhook gets each once, signed, with the text and the link.
func TestNotificationsPerEvent(t *testing.T) {
	e, rc, pid, cp := notifyFixture(t, true)
	off := e.device(t, "officerA")
	raised := raiseIssues(t, e, off, pid, cp, 1)
	if ns := allNotifications(t, e); len(ns) != 0 {
		t.Fatalf("after raising: got %d notifications, want none (raising tells nobody yet)", len(ns))
	}
	dispatch(t, e, "i1") // REST
	off.pull()
	ev := func(id, typ string, extra map[string]any) syncproto.Change {
		return off.event(id, pid, "i1", typ, extra)
	}
	answer := []syncproto.Change{ev("e-sign", "signed", nil), ev("e-resp", "responded", map[string]any{"resolution": "solved", "note": "已协调银行授信"})}
	_, ans := off.push(answer...) // push
	wantResults(t, "sign and respond", ans, "applied", "applied")
	if r := e.call("POST", "/v1/visits/v1/return", e.login("adminA").AccessToken, map[string]any{"comment": "请补充照片"}); r.status != 200 {
		t.Fatalf("return visit: got %d %s", r.status, r.body)
	}

	// Replays: the same push again (answered from receipts), the first push
	// again, and another process committing the same stored versions.
	_, ans = off.push(answer...)
	wantResults(t, "replayed push", ans, "applied", "applied")
	off.push(raised...)
	for _, k := range []storage.Key{{Collection: "issue_events", ID: "e-resp"}, {Collection: "visits", ID: "v1"}} {
		sr, err := e.db.Get(t.Context(), k)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.commit(t.Context(), storage.Batch{Pairing: pid, Puts: []storage.Put{{Key: k, Expect: sr.Seq, Data: sr.Data}}}); err != nil {
			t.Fatalf("commit %v again: %v", k, err)
		}
	}

	type row struct{ event, to string }
	var got []row
	for _, n := range allNotifications(t, e) {
		got = append(got, row{n.Event, n.Recipient})
		if n.State != storage.NotificationPending || n.Channel != notify.ChannelWebhook || !slices.Equal(n.OrgPaths, []string{e.units["A"].Path}) {
			t.Errorf("notification %s: got state %s channel %s org paths %v, want pending on the webhook in %s", n.ID, n.State, n.Channel, n.OrgPaths, e.units["A"].Path)
		}
	}
	want := []row{ // the event × recipient table as built
		{notify.EventIssueDispatched, "u-officerA"},  // the handler
		{notify.EventIssueDispatched, "u-officerA2"}, // the pairing's other officer
		{notify.EventIssueResponded, "u-contactA"},   // the pairing's contact
		{notify.EventVisitReturned, "u-officerA"},    // the visit's officer
	}
	cmpRow := func(a, b row) int { return strings.Compare(a.event+a.to, b.event+b.to) }
	slices.SortFunc(got, cmpRow)
	slices.SortFunc(want, cmpRow)
	if !slices.Equal(got, want) {
		t.Fatalf("notifications: got %v, want %v", got, want)
	}

	n, err := e.s.SendNotifications(t.Context())
	if err != nil || n != 4 {
		t.Fatalf("send: got %d attempts, error %v; want 4, none", n, err)
	}
	if n, _ := e.s.SendNotifications(t.Context()); n != 0 {
		t.Fatalf("second pass: got %d attempts, want 0", n)
	}
	requests, delivered, bodies := rc.snapshot()
	if len(delivered) != 4 {
		t.Fatalf("receiver: got %d notifications, want 4", len(delivered))
	}
	for id, c := range requests {
		if c != 1 || delivered[id] != 1 {
			t.Errorf("receiver: %s got %d requests, %d delivered; want 1, 1", id, c, delivered[id])
		}
	}
	texts := map[row]notify.WebhookBody{}
	for _, b := range bodies {
		texts[row{b.Event, b.To.ID}] = b
		if _, err := time.Parse(time.RFC3339, b.CreatedAt); err != nil {
			t.Errorf("%s: created_at %q is not RFC 3339", b.ID, b.CreatedAt)
		}
	}
	for _, tc := range []struct {
		r                       row
		name, phone, text, link string
	}{
		{want[0], "u-officerA", "13800000000", "诉求「融资难1」已交办给您，请及时签收办理", "https://pairsync.example/issues/i1"},
		{want[1], "u-officerA2", "", "已交办给张三，请关注办理进度", "https://pairsync.example/issues/i1"},
		{want[2], "u-contactA", "", "您反映的诉求「融资难1」已有答复，请确认并评价", "https://pairsync.example/issues/i1"},
		{want[3], "u-officerA", "13800000000", "走访记录「走访某某电梯」被退回，意见：请补充照片", "https://pairsync.example/visits/v1"},
	} {
		b, ok := texts[tc.r]
		if !ok {
			t.Errorf("%v: not received", tc.r)
			continue
		}
		if !strings.Contains(b.Text, tc.text) || b.Link != tc.link || b.To.Phone != tc.phone || b.To.Name == "" || b.Subject == "" {
			t.Errorf("%v: got %+v, want text with %q, link %s, phone %q", tc.r, b, tc.text, tc.link, tc.phone)
		}
	}
	for _, n := range allNotifications(t, e) {
		if n.State != storage.NotificationSent || n.Attempts != 1 || !strings.HasPrefix(n.Answer, "HTTP 200") {
			t.Errorf("%s after delivery: got state %s attempts %d answer %q, want sent, 1, HTTP 200", n.ID, n.State, n.Attempts, n.Answer)
		}
	}
}

// TestNotificationRetries: a receiver answering 500 three times then 200
// gets the notification once, with the retries recorded; one that never
// answers 2xx marks it failed after 24 h of backoff, and an
// administrator's resend delivers it. The clock is the test's: each pass
// runs at the time the notification is due, never on a timer.
func TestNotificationRetries(t *testing.T) {
	e, rc, pid, cp := notifyFixture(t, false)
	broken := true
	rc.fail = func(to string, before int) bool {
		if to == "u-officerA2" {
			return broken
		}
		return before < 3
	}
	off := e.device(t, "officerA")
	raiseIssues(t, e, off, pid, cp, 1)
	dispatch(t, e, "i1")
	ns := allNotifications(t, e)
	if len(ns) != 2 {
		t.Fatalf("dispatch: got %d notifications, want 2", len(ns))
	}
	byTo := map[string]string{}
	for _, n := range ns {
		byTo[n.Recipient] = n.ID
	}
	handler, other := byTo["u-officerA"], byTo["u-officerA2"]

	get := func(id string) storage.Notification {
		n, err := e.db.Notification(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	send := func() int {
		n, err := e.s.SendNotifications(t.Context())
		if err != nil {
			t.Fatalf("send: %v", err)
		}
		return n
	}
	send()
	var waits []time.Duration
	for attempt := 1; attempt <= 3; attempt++ {
		n := get(handler)
		if n.State != storage.NotificationPending || n.Attempts != attempt || !strings.HasPrefix(n.Answer, "HTTP 500") {
			t.Fatalf("after %d failed attempts: got state %s attempts %d answer %q, want pending, %d, HTTP 500", attempt, n.State, n.Attempts, n.Answer, attempt)
		}
		wait := n.NextAt.Sub(n.AttemptAt)
		waits = append(waits, wait)
		e.advance(wait - time.Millisecond)
		send() // may retry the other officer's, never the handler's early
		if got := get(handler).Attempts; got != attempt {
			t.Fatalf("pass before the retry is due: got %d attempts, want %d", got, attempt)
		}
		e.advance(time.Millisecond)
		send()
	}
	n := get(handler)
	if n.State != storage.NotificationSent || n.Attempts != 4 || !strings.HasPrefix(n.Answer, "HTTP 200") {
		t.Fatalf("after the 200: got state %s attempts %d answer %q, want sent, 4, HTTP 200", n.State, n.Attempts, n.Answer)
	}
	for i, w := range waits { // 30 s doubling, each drawn from its upper half
		lo := 15 * time.Second << i
		if w < lo || w >= 2*lo {
			t.Errorf("wait before attempt %d: got %v, want in [%v, %v)", i+2, w, lo, 2*lo)
		}
	}
	requests, delivered, _ := rc.snapshot()
	if requests[handler] != 4 || delivered[handler] != 1 {
		t.Fatalf("receiver: got %d requests and %d deliveries of the handler's notification, want 4 and 1", requests[handler], delivered[handler])
	}

	// The other officer's receiver never answers 2xx: failed within 24 h.
	for i := 0; get(other).State == storage.NotificationPending; i++ {
		if i > 100 {
			t.Fatal("the notification is still pending after 100 attempts")
		}
		e.advance(get(other).NextAt.Sub(e.now()))
		send()
	}
	f := get(other)
	if f.State != storage.NotificationFailed || !strings.Contains(f.Answer, "HTTP 500") || f.DoneAt.Sub(f.Since) > 24*time.Hour || f.DoneAt.Sub(f.Since) < 12*time.Hour {
		t.Fatalf("never delivered: got state %s answer %q after %v (%d attempts), want failed with the provider's answer within 24 h",
			f.State, f.Answer, f.DoneAt.Sub(f.Since), f.Attempts)
	}
	t.Logf("never delivered: failed after %d attempts over %v", f.Attempts, f.DoneAt.Sub(f.Since).Round(time.Minute))

	// Administrators see it in their subtree, and resend it.
	var list notificationList
	r := e.call("GET", "/v1/notifications?state=failed", e.login("adminA").AccessToken, nil)
	r.json(t, &list)
	if r.status != 200 || len(list.Notifications) != 1 || list.Notifications[0].ID != other || list.Notifications[0].ToName != "李四" ||
		!strings.Contains(list.Notifications[0].Answer, "upstream SMS gateway busy") {
		t.Fatalf("admin's failed list: got %d %s, want the other officer's notification with the provider's answer", r.status, r.body)
	}
	if strings.Contains(string(r.body), "1380000000") {
		t.Fatalf("admin's list shows a phone number: %s", r.body)
	}
	for _, who := range []string{"adminB", "viewerA", "officerA"} {
		if r := e.call("GET", "/v1/notifications", e.login(who).AccessToken, nil); who == "adminB" && (r.status != 200 || strings.Contains(string(r.body), other)) ||
			who != "adminB" && r.status/100 == 2 {
			t.Errorf("%s lists notifications: got %d %s, want nothing of unit A", who, r.status, r.body)
		}
		if r := e.call("POST", "/v1/notifications/"+other+"/resend", e.login(who).AccessToken, nil); r.status != 404 && r.status != 403 {
			t.Errorf("%s resends: got %d %s, want 403 or 404", who, r.status, r.body)
		}
	}
	rc.mu.Lock()
	broken = false
	rc.mu.Unlock()
	if r := e.call("POST", "/v1/notifications/"+other+"/resend", e.login("adminA").AccessToken, nil); r.status != 200 || !strings.Contains(string(r.body), `"state":"pending"`) {
		t.Fatalf("adminA resends: got %d %s, want 200 pending", r.status, r.body)
	}
	send()
	if n := get(other); n.State != storage.NotificationSent || n.Attempts != 1 {
		t.Fatalf("after the resend: got state %s attempts %d, want sent, 1", n.State, n.Attempts)
	}
	// Metrics are served on their own listener (-metrics-addr), not the app.
	if m := scrape(t, e.s); !strings.Contains(m, `pairsync_notifications_total{channel="webhook",outcome="retry"}`) ||
		!strings.Contains(m, `pairsync_notifications_total{channel="webhook",outcome="sent"} 2`) ||
		!strings.Contains(m, `pairsync_notifications_total{channel="webhook",outcome="failed"} 1`) {
		t.Fatalf("metrics: want webhook counters sent 2, failed 1 and retries; got\n%s", grepLines(m, "pairsync_notifications_total"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestTwoSendersDeliverOnce: two server processes on one store send each
// notification once (the receiver counts by id).
func TestTwoSendersDeliverOnce(t *testing.T) {
	e, rc, pid, cp := notifyFixture(t, false)
	off := e.device(t, "officerA")
	const issues = 12
	raiseIssues(t, e, off, pid, cp, issues)
	for i := range issues {
		dispatch(t, e, fmt.Sprintf("i%d", i+1))
	}
	second := notifyServer(t, e, rc, false)
	var wg sync.WaitGroup
	counts := make([]int, 2)
	for i, s := range []*Server{e.s, second} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 3 {
				n, err := s.SendNotifications(t.Context())
				if err != nil {
					t.Errorf("sender %d: %v", i, err)
				}
				counts[i] += n
			}
		}()
	}
	wg.Wait()
	requests, delivered, _ := rc.snapshot()
	if len(delivered) != 2*issues {
		t.Fatalf("receiver: got %d notifications, want %d", len(delivered), 2*issues)
	}
	for id, c := range requests {
		if c != 1 {
			t.Errorf("receiver: %s got %d requests, want 1", id, c)
		}
	}
	if counts[0]+counts[1] != 2*issues {
		t.Fatalf("attempts: got %v, want %d in all", counts, 2*issues)
	}
	t.Logf("two senders: %d and %d deliveries of %d notifications, each received once", counts[0], counts[1], 2*issues)
}
