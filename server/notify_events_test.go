package server

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pairsync/pairsync/server/notify"
	"github.com/pairsync/pairsync/storage"
)

// notified returns the notifications of one event, by recipient.
func notified(t *testing.T, e *idEnv, event string) map[string]storage.Notification {
	t.Helper()
	out := map[string]storage.Notification{}
	for _, n := range allNotifications(t, e) {
		if n.Event == event {
			if _, dup := out[n.Recipient]; dup {
				t.Errorf("%s: two notifications to %s (%s)", event, n.Recipient, n.Cause)
			}
			out[n.Recipient] = n
		}
	}
	return out
}

func wantNotified(t *testing.T, e *idEnv, event string, want map[string]string) {
	t.Helper()
	got := notified(t, e, event)
	var gotTo, wantTo []string
	for to := range got {
		gotTo = append(gotTo, to)
	}
	for to := range want {
		wantTo = append(wantTo, to)
	}
	slices.Sort(gotTo)
	slices.Sort(wantTo)
	if !slices.Equal(gotTo, wantTo) {
		t.Fatalf("%s: got notifications to %v, want %v", event, gotTo, wantTo)
	}
	for to, text := range want {
		n := got[to]
		name := e.users[strings.TrimPrefix(to, "u-")].Name
		if !strings.Contains(n.Text, text) || !strings.Contains(n.Text, "【结对共建】"+name+"，") || !strings.HasPrefix(n.Link, "https://pairsync.example/") {
			t.Errorf("%s to %s: got text %q link %q, want the name %q, %q and a link into the app", event, to, n.Text, n.Link, name, text)
		}
	}
}

func event(t *testing.T, e *idEnv, who, issue string, body map[string]any) {
	t.Helper()
	if r := e.call("POST", "/v1/issues/"+issue+"/events", e.login(who).AccessToken, body); r.status != 201 {
		t.Fatalf("%s appends %v to %s: got %d %s, want 201", who, body, issue, r.status, r.body)
	}
}

// TestNotificationsOfIssueTime: the SLA sweep reminds the handler and the
// administrator who dispatched the issue once of an issue due within 24 h,
// and tells them once when it is overdue (the dispatcher, not the unit's
// other administrators); however often the sweep runs, each is planned
// once.
func TestNotificationsOfIssueTime(t *testing.T) {
	e, _, pid, cp := notifyFixture(t, false)
	off := e.device(t, "officerA")
	raiseIssues(t, e, off, pid, cp, 3)
	soon := e.now().Add(20 * time.Hour).UTC()
	later := e.now().Add(72 * time.Hour).UTC()
	event(t, e, "adminA", "i1", map[string]any{"type": "dispatched", "handler": "u-officerA", "handler_name": "张三", "due": later})
	event(t, e, "adminA", "i2", map[string]any{"type": "dispatched", "handler": "u-officerA", "handler_name": "张三", "due": soon})
	// The unit's committee above dispatches i3: it is told, not adminA.
	event(t, e, "root", "i3", map[string]any{"type": "dispatched", "handler": "u-officerA2", "handler_name": "李四", "due": soon.Add(-18 * time.Hour)})
	for range 2 {
		if _, err := e.s.RunSLA(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	soonN := notified(t, e, notify.EventIssueDueSoon)
	if len(soonN) != 4 || soonN["u-officerA"].Subject != "issues/i2" || soonN["u-officerA2"].Subject != "issues/i3" ||
		soonN["u-adminA"].Subject != "issues/i2" || soonN["u-root"].Subject != "issues/i3" {
		t.Fatalf("due soon: got %v, want i2 to officerA and adminA (who dispatched it), i3 to officerA2 and root, once each", soonN)
	}
	wantNotified(t, e, notify.EventIssueDueSoon, map[string]string{"u-officerA": "您承办的诉求「融资难2」将于", "u-officerA2": "「融资难3」",
		"u-adminA": "您交办给张三的诉求「融资难2」将于", "u-root": "您交办给李四的诉求「融资难3」将于"})
	if n := soonN["u-root"]; !strings.Contains(n.Link, "/console/issues?") {
		t.Errorf("due soon to the dispatcher: got link %q, want the console's issues", n.Link)
	}
	if n := notified(t, e, notify.EventIssueOverdue); len(n) != 0 {
		t.Fatalf("overdue before the due date: got %v", n)
	}

	e.advance(3 * time.Hour) // i3 is past due
	for range 3 {
		if _, err := e.s.RunSLA(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	wantNotified(t, e, notify.EventIssueOverdue, map[string]string{
		"u-officerA2": "您承办的诉求「融资难3」已超过办理期限",
		"u-root":      "李四承办的诉求「融资难3」已超过办理期限",
	})
	if n := notified(t, e, notify.EventIssueOverdue)["u-root"]; !strings.Contains(n.Link, "/console/issues?overdue=true") {
		t.Errorf("overdue to the administrator: got link %q, want the console's overdue list", n.Link)
	}
	if n := len(notified(t, e, notify.EventIssueDueSoon)); n != 4 {
		t.Fatalf("due soon after more sweeps: got %d, want still 4", n)
	}
}

// TestNotificationsOfDisputeAndBounce: a dispute and a second bounce go to
// the unit's administrators for 督办; a first bounce tells no
// administrator (it is back in their 待交办 anyway); a replayed commit
// adds nothing.
func TestNotificationsOfDisputeAndBounce(t *testing.T) {
	e, _, pid, cp := notifyFixture(t, false)
	off := e.device(t, "officerA")
	raiseIssues(t, e, off, pid, cp, 2)
	dispatch(t, e, "i1")
	event(t, e, "officerA", "i1", map[string]any{"type": "bounced", "reason": "不属于本单位职责"})
	if n := notified(t, e, notify.EventIssueBounced); len(n) != 0 {
		t.Fatalf("first bounce: got %v, want no notification", n)
	}
	dispatch(t, e, "i1")
	event(t, e, "officerA", "i1", map[string]any{"type": "bounced", "reason": "仍不属于本单位职责"})
	wantNotified(t, e, notify.EventIssueBounced, map[string]string{"u-adminA": "诉求「融资难1」已被第2次退回，理由：仍不属于本单位职责。请裁决"})

	dispatch(t, e, "i2")
	event(t, e, "officerA", "i2", map[string]any{"type": "responded", "resolution": "solved", "note": "已协调"})
	event(t, e, "contactA", "i2", map[string]any{"type": "disputed", "reason": "银行仍未放款"})
	wantNotified(t, e, notify.EventIssueDisputed, map[string]string{"u-adminA": "诉求「融资难2」的答复未获联系人认可，理由：银行仍未放款。请督办"})

	before := len(allNotifications(t, e))
	recommitAll(t, e, pid)
	if after := len(allNotifications(t, e)); after != before {
		t.Fatalf("replayed commits: got %d notifications, want still %d", after, before)
	}
}

// recommitAll commits every stored record of the pairing again, as
// another process replaying the same versions would.
func recommitAll(t *testing.T, e *idEnv, pid string) {
	t.Helper()
	page, err := e.db.Changes(t.Context(), pid, 0, storage.PageLimit{Records: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, sr := range page.Records {
		if _, err := e.s.commit(t.Context(), storage.Batch{Pairing: pid, Puts: []storage.Put{{Key: sr.Key, Expect: sr.Seq, Data: sr.Data}}}); err != nil {
			t.Fatalf("commit %v again: %v", sr.Key, err)
		}
	}
}

// TestNotificationsOfProjects: 立项, 暂缓 and 取消 tell the pairing's
// officers (the proposer, its owner, in its own words), with the reason and
// the decider's name; completion tells the pairing's contacts to accept it
// (请验收) and the unit's administrators.
func TestNotificationsOfProjects(t *testing.T) {
	e, _, pid, _ := notifyFixture(t, false)
	projects := map[string]string{}
	create := func(id, title string) {
		r := e.call("POST", "/v1/projects", e.login("officerA").AccessToken, map[string]any{"pairing": pid, "fields": map[string]any{
			"title": title, "category": "other", "status": "proposed", "owner": "u-officerA"}})
		if r.status != 201 {
			t.Fatalf("create project: got %d %s", r.status, r.body)
		}
		var ans recordView
		r.json(t, &ans)
		projects[id] = ans.ID
	}
	move := func(who, id string, fields map[string]any) {
		t.Helper()
		u := e.users[who]
		f := map[string]any{"status_by": u.ID, "status_by_name": "王局长", "status_at": e.now().UTC().Format(time.RFC3339)}
		for k, v := range fields {
			f[k] = v
		}
		if r := e.call("PATCH", "/v1/projects/"+projects[id], e.login(who).AccessToken, map[string]any{"fields": f}); r.status != 200 {
			t.Fatalf("%s moves %s with %v: got %d %s", who, id, fields, r.status, r.body)
		}
	}
	create("p1", "助企融资对接会")
	create("p2", "社区养老服务点")
	move("adminA", "p1", map[string]any{"status": "deferred", "status_reason": "预算待批"})
	move("adminA", "p2", map[string]any{"status": "cancelled", "status_reason": "与其他项目重复"})
	wantNotified(t, e, notify.EventProjectDeferred, map[string]string{"u-officerA": "您提出的实事项目「助企融资对接会」已由王局长暂缓，理由：预算待批",
		"u-officerA2": "您结对的实事项目「助企融资对接会」已由王局长暂缓，理由：预算待批"})
	wantNotified(t, e, notify.EventProjectCanceled, map[string]string{"u-officerA": "「社区养老服务点」已由王局长取消，理由：与其他项目重复",
		"u-officerA2": "「社区养老服务点」已由王局长取消"})
	move("adminA", "p1", map[string]any{"status": "approved"})
	wantNotified(t, e, notify.EventProjectApproved, map[string]string{"u-officerA": "「助企融资对接会」已由王局长立项", "u-officerA2": "「助企融资对接会」已由王局长立项"})
	if n := notified(t, e, notify.EventProjectApproved)["u-officerA"]; n.Link != "https://pairsync.example/projects/"+projects["p1"] {
		t.Errorf("立项: got link %q, want the project", n.Link)
	}
	move("officerA", "p1", map[string]any{"status": "in_progress"})
	move("officerA", "p1", map[string]any{"status": "completed", "completed_at": e.now().UTC().Format(time.RFC3339)})
	wantNotified(t, e, notify.EventProjectDone, map[string]string{"u-contactA": "实事项目「助企融资对接会」已完成，请验收",
		"u-adminA": "实事项目「助企融资对接会」已完成，待联系人验收"})
	if n := notified(t, e, notify.EventProjectDone)["u-adminA"]; !strings.Contains(n.Link, "/console/projects") {
		t.Errorf("completed to the administrator: got link %q, want the console's projects", n.Link)
	}
	if n := len(notified(t, e, notify.EventProjectApproved)) + len(notified(t, e, notify.EventProjectDeferred)); n != 4 {
		t.Fatalf("other moves added decisions: got %d, want 4", n)
	}
	before := len(allNotifications(t, e))
	recommitAll(t, e, pid)
	if after := len(allNotifications(t, e)); after != before {
		t.Fatalf("replayed commits: got %d notifications, want still %d", after, before)
	}
}

// TestNotificationsOfActivation: creating or resetting a user with a phone
// sends the activation link when a channel reaches phones (the webhook
// with -notify-webhook-phone), once per code; the administrators' list
// never shows the code; without a phone channel, nothing is sent and the
// answer says so (the administrator hands the code over).
func TestNotificationsOfActivation(t *testing.T) {
	for _, phone := range []bool{true, false} {
		e, rc, _, _ := notifyFixture(t, phone)
		admin := e.login("adminA").AccessToken
		r := e.call("POST", "/v1/users", admin, map[string]any{"username": "wangfang", "name": "王芳", "phone": "13912345678", "role": "officer", "org_unit": "unitA"})
		if r.status != 201 {
			t.Fatalf("create user: got %d %s", r.status, r.body)
		}
		var cu createdUser
		r.json(t, &cu)
		if cu.Activation.SentToPhone != phone {
			t.Fatalf("phone channel %v: answer says sent_to_phone %v", phone, cu.Activation.SentToPhone)
		}
		if r := e.call("POST", "/v1/users", admin, map[string]any{"username": "nophone", "name": "无号", "role": "officer", "org_unit": "unitA"}); r.status != 201 ||
			strings.Contains(string(r.body), `"sent_to_phone":true`) {
			t.Fatalf("user without a phone: got %d %s, want 201 and nothing sent", r.status, r.body)
		}
		got := notified(t, e, notify.EventActivation)
		if !phone {
			if len(got) != 0 {
				t.Fatalf("no phone channel: got %v, want no activation notification", got)
			}
			continue
		}
		n, ok := got[cu.User.ID]
		if len(got) != 1 || !ok || n.Link != cu.Activation.URL || !strings.Contains(n.Text, cu.Activation.URL) || !strings.Contains(n.Text, "王芳") {
			t.Fatalf("activation: got %+v, want one to 王芳 with the link %s", got, cu.Activation.URL)
		}
		// The administrators' list shows that it went, not the code.
		code := strings.TrimPrefix(cu.Activation.URL[strings.Index(cu.Activation.URL, "#"):], "#code=")
		r = e.call("GET", "/v1/notifications", admin, nil)
		if r.status != 200 || !strings.Contains(string(r.body), n.ID) || strings.Contains(string(r.body), code) {
			t.Fatalf("admin's list: got %d %s, want the notification without the code %s", r.status, r.body, code)
		}
		// A reset sends the new code; the webhook gets both, with the phone.
		if r := e.call("POST", "/v1/users/"+cu.User.ID+"/activation", admin, nil); r.status != 201 {
			t.Fatalf("reset: got %d %s", r.status, r.body)
		}
		if _, err := e.s.SendNotifications(t.Context()); err != nil {
			t.Fatal(err)
		}
		_, delivered, bodies := rc.snapshot()
		var links []string
		for id, b := range bodies {
			if b.Event == notify.EventActivation {
				links = append(links, b.Link)
				if b.To.Phone != "13912345678" || delivered[id] != 1 {
					t.Errorf("activation delivered %d times to phone %q, want once to 13912345678", delivered[id], b.To.Phone)
				}
			}
		}
		if len(links) != 2 || links[0] == links[1] {
			t.Fatalf("webhook: got activation links %v, want two different codes", links)
		}
	}
}

// TestDigest: at 08:30 Asia/Shanghai by the server's clock (the test's:
// no sleeping), everyone with something in 待办 gets one digest with the
// counts the apps show; before 08:30 nobody does; later sweeps, and a
// restarted process, add none.
func TestDigest(t *testing.T) {
	e, _, pid, cp := notifyFixture(t, false)
	off := e.device(t, "officerA")
	raiseIssues(t, e, off, pid, cp, 3)
	dispatch(t, e, "i1") // officerA: 待签收
	dispatch(t, e, "i2")
	event(t, e, "officerA", "i2", map[string]any{"type": "responded", "resolution": "solved", "note": "已协调"}) // contactA: 待确认
	// i3 waits for dispatch: adminA (and root above) 待受理/待交办.

	// Move the clock to the next 08:29 in Shanghai.
	local := e.now().In(notify.Shanghai)
	at := time.Date(local.Year(), local.Month(), local.Day(), 8, 29, 0, 0, notify.Shanghai)
	if !at.After(e.now()) {
		at = at.AddDate(0, 0, 1)
	}
	e.advance(at.Sub(e.now()))
	if n, err := e.s.RunDigest(t.Context()); err != nil || n != 0 {
		t.Fatalf("08:29: got %d digests, error %v; want none", n, err)
	}
	e.advance(time.Minute)
	n, err := e.s.RunDigest(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	wantNotified(t, e, notify.EventDigest, map[string]string{
		"u-officerA": "您有 1 项待办：待签收 1 项。",
		"u-contactA": "您有 1 项待办：待确认 1 项",
		"u-adminA":   "您有 1 项待办：待受理/待交办 1 项",
		"u-root":     "您有 1 项待办：待受理/待交办 1 项",
	})
	if n != 4 {
		t.Fatalf("digests: got %d, want 4", n)
	}
	if d := notified(t, e, notify.EventDigest)["u-adminA"]; d.Link != "https://pairsync.example/console/todo" {
		t.Errorf("administrator's digest: got link %q, want the console's 待办", d.Link)
	}
	if d := notified(t, e, notify.EventDigest)["u-contactA"]; d.Link != "https://pairsync.example/" {
		t.Errorf("contact's digest: got link %q, want the app's home (待办)", d.Link)
	}
	e.advance(5 * time.Minute)
	if n, _ := e.s.RunDigest(t.Context()); n != 0 {
		t.Fatalf("a later sweep: got %d digests, want none", n)
	}
	before := len(allNotifications(t, e))
	restarted := notifyServer(t, e, newReceiver(t), false)
	if n, err := restarted.RunDigest(t.Context()); err != nil || n != 4 {
		t.Fatalf("restarted process: planned %d, error %v; want the same 4 ids again", n, err)
	}
	if after := len(allNotifications(t, e)); after != before {
		t.Fatalf("restarted process: got %d notifications, want still %d", after, before)
	}
}
