package server

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pairsync/pairsync/server/notify"
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
