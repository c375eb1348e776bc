package notify

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/storage/bolt"
)

// TestQuietHoursEnd: the default 22:00–07:00 in Shanghai (the issue's words), across midnight
// and around its edges, and a window inside one day.
func TestQuietHoursEnd(t *testing.T) {
	at := func(day, h, m int) time.Time { return time.Date(2026, 12, day, h, m, 0, 0, Shanghai) }
	for _, tc := range []struct {
		q     QuietHours
		now   time.Time
		end   time.Time
		quiet bool
	}{
		{DefaultQuietHours, at(7, 21, 59), time.Time{}, false},
		{DefaultQuietHours, at(7, 22, 0), at(8, 7, 0), true},
		{DefaultQuietHours, at(7, 23, 59), at(8, 7, 0), true},
		{DefaultQuietHours, at(8, 0, 0), at(8, 7, 0), true},
		{DefaultQuietHours, at(8, 6, 59), at(8, 7, 0), true},
		{DefaultQuietHours, at(8, 7, 0), time.Time{}, false},
		{DefaultQuietHours, at(8, 7, 0).UTC(), time.Time{}, false}, // any zone in, Shanghai's clock decides
		{DefaultQuietHours, time.Date(2026, 12, 7, 15, 0, 0, 0, time.UTC), at(8, 7, 0), true},
		{QuietHours{From: 12 * time.Hour, To: 14 * time.Hour, Loc: Shanghai}, at(7, 13, 0), at(7, 14, 0), true},
		{QuietHours{From: 12 * time.Hour, To: 14 * time.Hour, Loc: Shanghai}, at(7, 14, 0), time.Time{}, false},
		{QuietHours{}, at(7, 23, 0), time.Time{}, false},
	} {
		end, quiet := tc.q.End(tc.now)
		if quiet != tc.quiet || !end.Equal(tc.end) {
			t.Errorf("%s at %v: got %v, %v; want %v, %v", tc.q, tc.now, end, quiet, tc.end, tc.quiet)
		}
	}
	if q, err := ParseQuietHours("22:00-07:00", Shanghai); err != nil || q != DefaultQuietHours {
		t.Errorf("parse 22:00-07:00: got %+v, %v; want the default", q, err)
	}
	for _, bad := range []string{"22-7", "25:00-07:00", "22:00"} {
		if _, err := ParseQuietHours(bad, Shanghai); err == nil {
			t.Errorf("parse %q: got no error, want one", bad)
		}
	}
}

// TestUrgentGoesInQuietHours: quiet hours hold a notification back unless
// its event is urgent; the webhook and in-app messages are never held.
func TestUrgentGoesInQuietHours(t *testing.T) {
	db, err := bolt.Open(t.Context(), bolt.Config{Path: filepath.Join(t.TempDir(), "p.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	night := time.Date(2026, 12, 7, 23, 0, 0, 0, Shanghai)
	p := Pacing{Quiet: DefaultQuietHours, Urgent: func(n storage.Notification) bool { return n.Event == "issue_escalated" }}
	for _, tc := range []struct {
		channel, event string
		held           bool
	}{
		{ChannelSMS, EventIssueDispatched, true},
		{ChannelWeCom, EventIssueDispatched, true},
		{ChannelDingTalk, EventIssueResponded, true},
		{ChannelSMS, "issue_escalated", false},
		{ChannelInApp, EventIssueDispatched, false},
		{ChannelWebhook, EventIssueDispatched, false},
	} {
		until, reason, err := p.Hold(t.Context(), db, storage.Notification{ID: "n", Channel: tc.channel, Event: tc.event, Recipient: "u1"}, night)
		if err != nil {
			t.Fatal(err)
		}
		if held := !until.IsZero(); held != tc.held || held && (!until.Equal(time.Date(2026, 12, 8, 7, 0, 0, 0, Shanghai)) || Explain(reason) != ReasonQuietHours) {
			t.Errorf("%s %s at 23:00: got until %v (%q), want held %v till 07:00", tc.channel, tc.event, until, reason, tc.held)
		}
	}
}

// TestActivationIsUrgent: quiet hours hold everything till morning except
// activation links (the issue's words), with the default urgency.
func TestActivationIsUrgent(t *testing.T) {
	db, err := bolt.Open(t.Context(), bolt.Config{Path: filepath.Join(t.TempDir(), "p.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	night := time.Date(2026, 12, 7, 23, 0, 0, 0, Shanghai)
	p := Pacing{Quiet: DefaultQuietHours}
	for event, held := range map[string]bool{EventActivation: false, EventIssueOverdue: true, EventDigest: true} {
		until, _, err := p.Hold(t.Context(), db, storage.Notification{ID: "n", Channel: ChannelSMS, Event: event, Recipient: "u1"}, night)
		if err != nil {
			t.Fatal(err)
		}
		if !until.IsZero() != held {
			t.Errorf("%s at 23:00: got held until %v, want held %v", event, until, held)
		}
	}
}

// TestSMSRender: the 【签名】 replaces the app's, every placeholder is
// filled, and the body stays JSON whatever the text holds.
func TestSMSRender(t *testing.T) {
	s := &SMS{Body: `{"to":"{phone}","msg":"{text}"}`, Signature: "市委组织部", Text: "{sign}{name}：{text}{link}"}
	if err := s.Check(); err != nil {
		t.Fatalf("check: %v", err)
	}
	n := storage.Notification{Text: "【结对共建】诉求「\"融资\"\\难\n」已交办给您。", Link: " https://x/issues/i1"}
	text := s.Render(n, Recipient{Name: "王芳"})
	if text != "【市委组织部】王芳：诉求「\"融资\"\\难\n」已交办给您。 https://x/issues/i1" {
		t.Fatalf("render: got %q", text)
	}
	var got map[string]string
	if err := json.Unmarshal(s.fill("138", text), &got); err != nil || got["msg"] != text || got["to"] != "138" {
		t.Fatalf("fill: got %v, %v; want the text and phone back", got, err)
	}
	for _, bad := range []SMS{{Body: `{"to":"{phone}"}`}, {Body: `{"to":{phone},"msg":"{text}"}`}, {SignHeader: "X-Sign"}} {
		if err := bad.Check(); err == nil || !strings.Contains(err.Error(), "SMS") {
			t.Errorf("check %+v: got %v, want a refusal", bad, err)
		}
	}
}

// TestRobotKeyNotInAnswer: a robot's URL carries its key (企业微信) or
// access_token and signature (钉钉); an unreachable robot's answer, kept
// in the outbox and logged, names the host and path but never the query.
func TestRobotKeyNotInAnswer(t *testing.T) {
	for _, ch := range []Channel{
		&WeCom{URL: "http://127.0.0.1:1/cgi-bin/webhook/send?key=secret-robot-key"},
		&DingTalk{URL: "http://127.0.0.1:1/robot/send?access_token=secret-robot-key", Secret: "SECsecret-robot-key"},
		&SMS{URL: "http://127.0.0.1:1/sms?appkey=secret-robot-key"},
	} {
		answer, err := ch.Deliver(t.Context(), storage.Notification{Text: "t", Link: "l"}, Recipient{Name: "王芳", Phone: "13800000000"})
		if err == nil || !strings.HasPrefix(answer, "no answer") || strings.Contains(answer, "secret-robot-key") || strings.Contains(err.Error(), "secret-robot-key") ||
			!strings.Contains(answer, "127.0.0.1:1") {
			t.Errorf("%T: got answer %q, error %v; want no answer naming the host, without the key", ch, answer, err)
		}
	}
}

// TestRobotKey: a robot is named by its webhook's identity (host, path and
// its key or access_token), whatever else its URL carries, never by the
// key itself; two robots have two names.
func TestRobotKey(t *testing.T) {
	a := RobotKey("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=secret-a")
	for _, same := range []string{"https://QYAPI.weixin.qq.com/cgi-bin/webhook/send?key=secret-a", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?debug=1&key=secret-a"} {
		if k := RobotKey(same); k != a {
			t.Errorf("%s: got %q, want %q (the same robot)", same, k, a)
		}
	}
	for _, other := range []string{"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=secret-b", "https://oapi.dingtalk.com/robot/send?access_token=secret-a", ""} {
		if k := RobotKey(other); k == a {
			t.Errorf("%s: got %q, the name of another robot", other, k)
		}
	}
	if a == "" || strings.Contains(a, "secret") || RobotKey("") != "" {
		t.Errorf("got %q for a robot, %q for none; want a name without the key, and none", a, RobotKey(""))
	}
}
