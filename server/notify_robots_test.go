package server

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pairsync/pairsync/server/notify"
	"github.com/pairsync/pairsync/storage"
)

// TestUnitRobots: an administrator sets their unit's 企业微信 robot (the key
// write-only: the answers say only that one is set); a notification goes
// to the robot of its pairing's unit, else of the nearest unit above that
// has one, else the global flag's; keys never in an answer nor in the
// outbox.
func TestUnitRobots(t *testing.T) {
	var e *idEnv
	now := func() time.Time { return e.now() }
	ok := func(*http.Request, []byte) (int, string) { return 0, "ok" }
	global, unitRobot, rootRobot := newRobot(t, now, ok), newRobot(t, now, ok), newRobot(t, now, ok)
	e, pid, cp := channelFixture(t, Config{NotifyPacing: noPacing, NotifyWeCom: notify.WeCom{URL: global.url + "/?key=global-key"}})
	raiseIssues(t, e, e.device(t, "officerA"), pid, cp, 3)

	setRobot := func(who, unit, wecomURL string) {
		t.Helper()
		r := e.call("PATCH", "/v1/org-units/"+unit, e.login(who).AccessToken, map[string]any{"robots": map[string]any{"wecom_url": wecomURL}})
		var v orgUnitView
		r.json(t, &v)
		if r.status != 200 || v.Robots.WeCom != (wecomURL != "") || strings.Contains(string(r.body), "key=") {
			t.Fatalf("%s sets %s's robot to %q: got %d %s, want 200, set %v, and no key", who, unit, wecomURL, r.status, r.body, wecomURL != "")
		}
		if g := e.call("GET", "/v1/org-units/"+unit, e.login(who).AccessToken, nil); strings.Contains(string(g.body), "key=") {
			t.Fatalf("GET %s: got %s, want no key", unit, g.body)
		}
	}
	count := func(rb *robot) int { b, _ := rb.snapshot(); return len(b) }
	setRobot("adminA", "unitA", unitRobot.url+"/?key=unit-a-key")
	setRobot("root", "root", rootRobot.url+"/?key=root-key")
	dispatch(t, e, "i1")
	send(t, e)
	// officerA is the writer's handler, officerA2 the other officer: both
	// on the pairing's unit's robot.
	if g, u, r := count(global), count(unitRobot), count(rootRobot); u != 2 || g != 0 || r != 0 {
		t.Fatalf("with unitA's robot: global %d, unitA %d, root %d; want 0, 2, 0", g, u, r)
	}
	setRobot("adminA", "unitA", "")
	dispatch(t, e, "i2")
	send(t, e)
	if g, u, r := count(global), count(unitRobot), count(rootRobot); u != 2 || g != 0 || r != 2 {
		t.Fatalf("unitA's robot cleared: global %d, unitA %d, root %d; want 0, 2, 2 (the nearest unit above)", g, u, r)
	}
	setRobot("root", "root", "")
	dispatch(t, e, "i3")
	send(t, e)
	if g, u, r := count(global), count(unitRobot), count(rootRobot); u != 2 || g != 2 || r != 2 {
		t.Fatalf("no unit's robot: global %d, unitA %d, root %d; want 2, 2, 2 (the global flag's)", g, u, r)
	}
	for _, n := range channelNotes(t, e, notify.ChannelWeCom) {
		if strings.Contains(n.Answer, "key") || strings.Contains(n.Text, "key=") {
			t.Errorf("%s: answer %q text %q: want no key", n.ID, n.Answer, n.Text)
		}
	}
	// An administrator may not set a robot on a unit outside their subtree
	// (answered as an unknown unit), nor a URL that is no robot's.
	if r := e.call("PATCH", "/v1/org-units/unitB", e.login("adminA").AccessToken, map[string]any{"robots": map[string]any{"wecom_url": unitRobot.url + "/?key=x"}}); r.status != 404 {
		t.Fatalf("adminA sets unitB's robot: got %d %s, want 404", r.status, r.body)
	}
	for _, bad := range []map[string]any{{"wecom_url": "ftp://x/?key=k"}, {"wecom_url": unitRobot.url + "/nokey"}, {"dingtalk_url": unitRobot.url + "/?x=1"}} {
		if r := e.call("PATCH", "/v1/org-units/unitA", e.login("adminA").AccessToken, map[string]any{"robots": bad}); r.status != 400 || strings.Contains(string(r.body), "key=k") {
			t.Errorf("robots %v: got %d %s, want 400 without the key", bad, r.status, r.body)
		}
	}
}

// TestUnitRobotsWithoutGlobal: with -notify-unit-robots and no global
// robot, a unit's robot gets its notifications; a unit with none up its
// tree fails at once, its reason no_robot (the console says so in words).
func TestUnitRobotsWithoutGlobal(t *testing.T) {
	var e *idEnv
	now := func() time.Time { return e.now() }
	rb := newRobot(t, now, func(*http.Request, []byte) (int, string) { return 0, "ok" })
	e, pid, cp := channelFixture(t, Config{NotifyPacing: noPacing, NotifyUnitRobots: true})
	raiseIssues(t, e, e.device(t, "officerA"), pid, cp, 2)
	dispatch(t, e, "i1")
	send(t, e)
	var list notificationList
	e.call("GET", "/v1/notifications?channel=wecom", e.login("adminA").AccessToken, nil).json(t, &list)
	if len(list.Notifications) != 2 {
		t.Fatalf("wecom rows: got %d, want 2", len(list.Notifications))
	}
	for _, n := range list.Notifications {
		if n.State != "failed" || n.Reason != "no_robot" || n.Attempts != 1 {
			t.Fatalf("no robot anywhere: got %s %q (%d attempts), want failed at once, no_robot", n.State, n.Reason, n.Attempts)
		}
	}
	if r := e.call("PATCH", "/v1/org-units/unitA", e.login("adminA").AccessToken, map[string]any{"robots": map[string]any{"wecom_url": rb.url + "/?key=k"}}); r.status != 200 {
		t.Fatalf("set the robot: got %d %s", r.status, r.body)
	}
	dispatch(t, e, "i2")
	send(t, e)
	if b, _ := rb.snapshot(); len(b) != 2 {
		t.Fatalf("unitA's robot: got %d messages, want 2", len(b))
	}
}

// TestRobotLimitPerRobot: the 20-a-minute limit is each robot's (both
// platforms count per webhook), not the channel's: unitA's robot, busy
// with 30 messages, takes 20 in the first minute and the rest in the next,
// while unitB's robot takes its 10 at once; neither robot (each a receiver
// on 127.0.0.1 refusing a 21st message in any minute of the test's clock)
// refuses one, and the outbox names each row's robot without its key.
func TestRobotLimitPerRobot(t *testing.T) {
	var e *idEnv
	now := func() time.Time { return e.now() }
	ok := func(*http.Request, []byte) (int, string) { return 0, "ok" }
	rbA, rbB := newRobot(t, now, ok), newRobot(t, now, ok)
	e, _, _ = channelFixture(t, Config{NotifyPacing: noPacing, NotifyUnitRobots: true})
	for unit, u := range map[string]string{"unitA": rbA.url + "/cgi-bin/webhook/send?key=a-key", "unitB": rbB.url + "/cgi-bin/webhook/send?key=b-key"} {
		if r := e.call("PATCH", "/v1/org-units/"+unit, e.login("root").AccessToken, map[string]any{"robots": map[string]any{"wecom_url": u}}); r.status != 200 {
			t.Fatalf("set %s's robot: got %d %s", unit, r.status, r.body)
		}
	}
	var batch []storage.Notification
	for unit, n := range map[string]int{"A": 30, "B": 10} {
		for i := range n {
			// Ids sort unitA's first: claimed first, as a busy unit's
			// backlog would be.
			batch = append(batch, storage.Notification{ID: fmt.Sprintf("%s-%02d", unit, i), Channel: notify.ChannelWeCom,
				Event: notify.EventIssueDispatched, Recipient: fmt.Sprintf("u-%s-%d", unit, i), RecipientName: "王芳",
				OrgPaths: []string{e.units[unit].Path}, Lang: "zh", Text: "【结对共建】诉求已交办给您。", Link: "https://pairsync.example/issues/x",
				CreatedAt: e.now()})
		}
	}
	if _, err := e.s.store.Commit(t.Context(), storage.Batch{Notifications: batch}); err != nil {
		t.Fatal(err)
	}
	count := func(rb *robot) int { b, _ := rb.snapshot(); return len(b) }
	var got [][2]int
	for _, step := range []time.Duration{0, 30 * time.Second, 30 * time.Second} {
		e.advance(step)
		send(t, e)
		got = append(got, [2]int{count(rbA), count(rbB)})
	}
	if want := [][2]int{{20, 10}, {20, 10}, {30, 10}}; !slices.Equal(got, want) {
		t.Fatalf("messages to unitA's and unitB's robots at 0, 30 s, 60 s: got %v, want %v (20 a minute each robot)", got, want)
	}
	for _, rb := range []*robot{rbA, rbB} {
		if _, refused := rb.snapshot(); len(refused) != 0 {
			t.Fatalf("a robot refused %v: want none (never over 20 in a minute)", refused)
		}
	}
	robots := map[string]string{}
	for _, n := range channelNotes(t, e, notify.ChannelWeCom) {
		unit := n.ID[:1]
		if n.State != storage.NotificationSent || n.Attempts != 1 || n.Robot == "" || strings.Contains(n.Robot, "key") {
			t.Errorf("%s: got %s after %d attempts, robot %q; want sent at the first, its robot named without the key", n.ID, n.State, n.Attempts, n.Robot)
		}
		if r, seen := robots[unit]; seen && r != n.Robot {
			t.Errorf("%s: robot %q, another of unit%s's went to %q: want one robot per unit", n.ID, n.Robot, unit, r)
		}
		robots[unit] = n.Robot
	}
	if robots["A"] == robots["B"] {
		t.Errorf("unitA's and unitB's robots: both named %q, want two", robots["A"])
	}
}

// TestHourlyFoldPerRobot: one person's robot messages held by the hourly
// limit fold into one message per robot: those for unitB's group never
// ride in a message to unitA's robot (they did: the fold took every held
// one of the person's, and all went to the first one's robot).
func TestHourlyFoldPerRobot(t *testing.T) {
	var e *idEnv
	now := func() time.Time { return e.now() }
	ok := func(*http.Request, []byte) (int, string) { return 0, "ok" }
	rbA, rbB := newRobot(t, now, ok), newRobot(t, now, ok)
	e, _, _ = channelFixture(t, Config{NotifyPacing: &notify.Pacing{Hourly: 1}, NotifyUnitRobots: true})
	for unit, u := range map[string]string{"unitA": rbA.url + "/cgi-bin/webhook/send?key=a-key", "unitB": rbB.url + "/cgi-bin/webhook/send?key=b-key"} {
		if r := e.call("PATCH", "/v1/org-units/"+unit, e.login("root").AccessToken, map[string]any{"robots": map[string]any{"wecom_url": u}}); r.status != 200 {
			t.Fatalf("set %s's robot: got %d %s", unit, r.status, r.body)
		}
	}
	// Quiet hours are the default (22:00–07:00 Shanghai): start at 10:00.
	l := e.now().In(notify.Shanghai)
	ten := time.Date(l.Year(), l.Month(), l.Day()+1, 10, 0, 0, 0, notify.Shanghai)
	e.advance(ten.Sub(e.now()))
	var batch []storage.Notification
	for _, id := range []string{"A-0", "A-1", "B-0", "B-1"} {
		batch = append(batch, storage.Notification{ID: id, Channel: notify.ChannelWeCom, Event: notify.EventIssueDispatched,
			Recipient: "u-person", RecipientName: "王芳", OrgPaths: []string{e.units[id[:1]].Path}, Lang: "zh",
			Text: "【结对共建】诉求「" + id + "」已交办给您。", Link: "https://pairsync.example/issues/" + id, CreatedAt: e.now()})
	}
	if _, err := e.s.store.Commit(t.Context(), storage.Batch{Notifications: batch}); err != nil {
		t.Fatal(err)
	}
	texts := func(rb *robot) []string {
		b, _ := rb.snapshot()
		var out []string
		for _, m := range b {
			out = append(out, string(m))
		}
		return out
	}
	for _, step := range []time.Duration{0, time.Hour, time.Hour} {
		e.advance(step)
		send(t, e)
	}
	a, b := texts(rbA), texts(rbB)
	if len(a) != 2 || len(b) != 1 {
		t.Fatalf("by 12:00: unitA's robot got %d messages, unitB's %d; want 2 (A-0, then A-1) and 1 (B-0 with B-1 folded)\nA: %q\nB: %q", len(a), len(b), a, b)
	}
	for _, m := range a {
		if strings.Contains(m, "B-") {
			t.Errorf("unitA's robot got %q: want none of unitB's", m)
		}
	}
	if !strings.Contains(b[0], "B-0") || !strings.Contains(b[0], "B-1") || !strings.Contains(b[0], "另有") {
		t.Errorf("unitB's robot got %q: want B-0 and B-1 folded into one (另有 …)", b[0])
	}
	for _, n := range channelNotes(t, e, notify.ChannelWeCom) {
		if n.State != storage.NotificationSent {
			t.Errorf("%s: got %s %q, want sent", n.ID, n.State, n.Answer)
		}
	}
}
