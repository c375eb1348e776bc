package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pairsync/pairsync/server/notify"
	"github.com/pairsync/pairsync/storage"
)

// channelFixture is notifyFixture's pairing served by a server with cfg's
// channels instead of the webhook alone.
func channelFixture(t *testing.T, cfg Config) (e *idEnv, pid, cp string) {
	t.Helper()
	e, _, pid, cp = notifyFixture(t, false)
	cfg.PublicURL = "https://pairsync.example/"
	s, err := New(cfg, Deps{Store: e.db, Photos: e.s.photos, Now: e.now, PasswordParams: fastPasswords})
	if err != nil {
		t.Fatal(err)
	}
	e.s = s
	e.base = serve(t, s)
	return e, pid, cp
}

// noPacing turns quiet hours and the hourly limit off (the robots' own
// limit stays).
var noPacing = &notify.Pacing{Hourly: -1}

func channelNotes(t *testing.T, e *idEnv, channel string) []storage.Notification {
	t.Helper()
	var out []storage.Notification
	for _, n := range allNotifications(t, e) {
		if n.Channel == channel {
			out = append(out, n)
		}
	}
	return out
}

func send(t *testing.T, e *idEnv) int {
	t.Helper()
	n, err := e.s.SendNotifications(t.Context())
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	return n
}

// robot is a 企业微信 or 钉钉 robot on 127.0.0.1: it checks each request
// as the platform documents it (check), keeps 20 messages a minute on the
// test's clock, and answers {"errcode":0,"errmsg":"ok"} or the platform's
// refusal.
type robot struct {
	mu       sync.Mutex
	url      string
	bodies   [][]byte
	refused  []string // the errcodes and errmsgs it answered
	accepted []time.Time
}

func newRobot(t *testing.T, now func() time.Time, check func(r *http.Request, body []byte) (int, string)) *robot {
	rb := &robot{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rb.mu.Lock()
		defer rb.mu.Unlock()
		code, msg := check(r, body)
		if code == 0 {
			// The platforms' limit: 20 messages in any minute.
			recent := 0
			for _, at := range rb.accepted {
				if now().Sub(at) < time.Minute {
					recent++
				}
			}
			if recent >= 20 {
				code, msg = 45009, "api freq out of limit"
			}
		}
		if code != 0 {
			rb.refused = append(rb.refused, fmt.Sprintf("%d %s", code, msg))
		} else {
			rb.accepted = append(rb.accepted, now())
			rb.bodies = append(rb.bodies, body)
		}
		fmt.Fprintf(w, `{"errcode":%d,"errmsg":%q}`, code, msg)
	}))
	t.Cleanup(srv.Close)
	rb.url = srv.URL
	return rb
}

func (rb *robot) snapshot() (bodies [][]byte, refused []string) {
	rb.mu.Lock()
	defer rb.mu.Unlock()
	return slices.Clone(rb.bodies), slices.Clone(rb.refused)
}

const dingSecret = "SEC0123456789abcdef-test-secret"

// dingTalkCheck verifies a request as 钉钉 documents 加签: timestamp (ms)
// within an hour of the platform's clock, and sign the URL-encoded Base64
// of HMAC-SHA256 keyed by the secret over "timestamp\nsecret"; the
// access_token kept; a JSON body of a known msgtype.
func dingTalkCheck(t *testing.T, now func() time.Time, secret string) func(r *http.Request, body []byte) (int, string) {
	return func(r *http.Request, body []byte) (int, string) {
		if r.Method != http.MethodPost || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			t.Errorf("钉钉: got %s %q, want a JSON POST", r.Method, r.Header.Get("Content-Type"))
		}
		q := r.URL.Query()
		if q.Get("access_token") != "ding-token" {
			return 300001, "token is not exist"
		}
		ts, err := strconv.ParseInt(q.Get("timestamp"), 10, 64)
		if err != nil || now().Sub(time.UnixMilli(ts)).Abs() > time.Hour {
			return 310000, "invalid timestamp"
		}
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(q.Get("timestamp") + "\n" + secret))
		want := base64.StdEncoding.EncodeToString(m.Sum(nil))
		// The raw query carries it URL-encoded ('+', '/', '=' escaped).
		var raw string
		for _, kv := range strings.Split(r.URL.RawQuery, "&") {
			if v, ok := strings.CutPrefix(kv, "sign="); ok {
				raw = v
			}
		}
		if q.Get("sign") != want || raw != url.QueryEscape(want) {
			return 310000, "sign not match"
		}
		var b notify.DingTalkBody
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&b); err != nil || (b.MsgType != "markdown" || b.Markdown == nil) && (b.MsgType != "text" || b.Text == nil) {
			t.Errorf("钉钉: body %s: %v", body, err)
			return 40035, "invalid msgtype"
		}
		return 0, "ok"
	}
}

// TestDingTalkSigned: a dispatch reaches the 钉钉 robot signed exactly as
// 钉钉 documents 加签 (the receiver recomputes it), @s the handler by phone
// in at.atMobiles and in the text, names them and links to the issue; the
// same robot with another secret refuses it, and the refusal is kept as
// the answer for a retry.
func TestDingTalkSigned(t *testing.T) {
	for _, tc := range []struct {
		name, secret string
		ok           bool
	}{{"right secret", dingSecret, true}, {"wrong secret", "SECsomething-else", false}} {
		t.Run(tc.name, func(t *testing.T) {
			var e *idEnv
			now := func() time.Time { return e.now() }
			rb := newRobot(t, now, dingTalkCheck(t, now, dingSecret))
			e, pid, cp := channelFixture(t, Config{NotifyPacing: noPacing,
				NotifyDingTalk: notify.DingTalk{URL: rb.url + "/robot/send?access_token=ding-token", Secret: tc.secret}})
			raiseIssues(t, e, e.device(t, "officerA"), pid, cp, 1)
			dispatch(t, e, "i1")
			if n := send(t, e); n != 2 {
				t.Fatalf("send: got %d attempts, want 2 (the handler and the other officer)", n)
			}
			bodies, refused := rb.snapshot()
			if !tc.ok {
				if len(bodies) != 0 || len(refused) != 2 || !strings.Contains(refused[0], "310000") {
					t.Fatalf("wrong secret: got %d accepted, refused %v; want every request refused 310000", len(bodies), refused)
				}
				for _, n := range channelNotes(t, e, notify.ChannelDingTalk) {
					if n.State != storage.NotificationPending || n.Attempts != 1 || !strings.Contains(n.Answer, "310000") {
						t.Errorf("%s: got state %s attempts %d answer %q, want pending for a retry with the robot's errcode", n.ID, n.State, n.Attempts, n.Answer)
					}
				}
				return
			}
			if len(bodies) != 2 || len(refused) != 0 {
				t.Fatalf("robot: got %d accepted, refused %v; want 2, none", len(bodies), refused)
			}
			var handler notify.DingTalkBody
			for _, raw := range bodies {
				var b notify.DingTalkBody
				_ = json.Unmarshal(raw, &b)
				if slices.Equal(b.At.AtMobiles, []string{"13800000000"}) {
					handler = b
				} else if len(b.At.AtMobiles) != 0 || !strings.Contains(b.Markdown.Text, "**李四**") {
					t.Errorf("other officer's message: got %s, want no @ (no phone) and the name 李四", raw)
				}
			}
			if handler.Markdown == nil || handler.At.IsAtAll || !strings.Contains(handler.Markdown.Text, "@13800000000") ||
				!strings.Contains(handler.Markdown.Text, "**officerA**") || !strings.Contains(handler.Markdown.Text, "诉求「融资难1」已交办给您") ||
				!strings.Contains(handler.Markdown.Text, "(https://pairsync.example/issues/i1)") || handler.Markdown.Title != "诉求交办" ||
				strings.Contains(handler.Markdown.Text, "【结对共建】") {
				t.Fatalf("handler's message: got %+v, want markdown naming officerA, @13800000000, the text without 【】 and the link", handler.Markdown)
			}
			for _, n := range channelNotes(t, e, notify.ChannelDingTalk) {
				if n.State != storage.NotificationSent {
					t.Errorf("%s: got %s, want sent", n.ID, n.State)
				}
			}
		})
	}
}

// TestWeComBodyAndLimit: 企业微信 robot messages in the documented body
// (markdown naming the person and linking; text @ing by phone), and never
// more than 20 a minute: 50 messages at once go out 20, 20, 10 a minute
// apart, the rest deferred (no attempt counted), none refused, none
// dropped.
func TestWeComBodyAndLimit(t *testing.T) {
	check := func(want string) func(r *http.Request, body []byte) (int, string) {
		return func(r *http.Request, body []byte) (int, string) {
			if r.URL.Query().Get("key") != "wecom-key" {
				return 93000, "invalid webhook url"
			}
			var b notify.WeComBody
			dec := json.NewDecoder(strings.NewReader(string(body)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&b); err != nil || b.MsgType != want {
				return 40008, "invalid message type"
			}
			switch {
			case want == "markdown" && (b.Markdown == nil || b.Text != nil || len(b.Markdown.Content) > 4096):
				return 40008, "invalid markdown"
			case want == "text" && (b.Text == nil || b.Markdown != nil || len(b.Text.Content) > 2048):
				return 40008, "invalid text"
			}
			return 0, "ok"
		}
	}
	t.Run("markdown and limit", func(t *testing.T) {
		var e *idEnv
		now := func() time.Time { return e.now() }
		rb := newRobot(t, now, check("markdown"))
		e, pid, cp := channelFixture(t, Config{NotifyPacing: noPacing, NotifyWeCom: notify.WeCom{URL: rb.url + "/cgi-bin/webhook/send?key=wecom-key"}})
		raiseIssues(t, e, e.device(t, "officerA"), pid, cp, 25)
		for i := range 25 {
			dispatch(t, e, fmt.Sprintf("i%d", i+1))
		}
		var rounds []int
		for round := 0; round < 5; round++ {
			send(t, e)
			bodies, _ := rb.snapshot()
			rounds = append(rounds, len(bodies))
			e.advance(time.Minute)
		}
		bodies, refused := rb.snapshot()
		if len(refused) != 0 || !slices.Equal(rounds, []int{20, 40, 50, 50, 50}) {
			t.Fatalf("robot: got %v accepted after each minute, refused %v; want 20, 40, 50 and none refused", rounds, refused)
		}
		var md notify.WeComBody
		for _, raw := range bodies {
			var b notify.WeComBody
			_ = json.Unmarshal(raw, &b)
			if b.Markdown != nil && strings.Contains(b.Markdown.Content, "融资难1」") && strings.Contains(b.Markdown.Content, ">officerA<") {
				md = b
			}
		}
		if md.Markdown == nil || !strings.HasPrefix(md.Markdown.Content, "**诉求交办**") ||
			!strings.Contains(md.Markdown.Content, "[在结对共建中查看](https://pairsync.example/issues/i1)") {
			t.Fatalf("markdown: got %+v, want the title, the person and the link", md.Markdown)
		}
		for _, n := range channelNotes(t, e, notify.ChannelWeCom) {
			if n.State != storage.NotificationSent || n.Attempts != 1 {
				t.Errorf("%s: got %s after %d attempts, want sent at the first (deferrals are no attempts)", n.ID, n.State, n.Attempts)
			}
		}
	})
	t.Run("text mentions by phone", func(t *testing.T) {
		var e *idEnv
		now := func() time.Time { return e.now() }
		rb := newRobot(t, now, check("text"))
		e, pid, cp := channelFixture(t, Config{NotifyPacing: noPacing, NotifyWeCom: notify.WeCom{URL: rb.url + "/cgi-bin/webhook/send?key=wecom-key", MsgType: "text"}})
		raiseIssues(t, e, e.device(t, "officerA"), pid, cp, 1)
		dispatch(t, e, "i1")
		send(t, e)
		bodies, refused := rb.snapshot()
		if len(bodies) != 2 || len(refused) != 0 {
			t.Fatalf("robot: got %d accepted, refused %v; want 2, none", len(bodies), refused)
		}
		found := false
		for _, raw := range bodies {
			var b notify.WeComBody
			_ = json.Unmarshal(raw, &b)
			if slices.Equal(b.Text.MentionedMobileList, []string{"13800000000"}) {
				found = strings.Contains(b.Text.Content, "officerA：") && strings.HasSuffix(b.Text.Content, "https://pairsync.example/issues/i1")
			}
		}
		if !found {
			t.Fatalf("text messages %s: want one @13800000000 naming officerA and ending with the link", bodies)
		}
	})
}

// smsGateway is an operator's SMS gateway on 127.0.0.1 taking
// {"mobile","content","sign_name"} with an HMAC of the body in X-Sign.
type smsGateway struct {
	mu  sync.Mutex
	url string
	got []map[string]string
}

func newSMSGateway(t *testing.T, key string) *smsGateway {
	g := &smsGateway{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		m := hmac.New(sha256.New, []byte(key))
		m.Write(body)
		if r.Header.Get("X-Sign") != hex.EncodeToString(m.Sum(nil)) {
			http.Error(w, `{"code":"bad_sign"}`, http.StatusUnauthorized)
			return
		}
		var msg map[string]string
		dec := json.NewDecoder(strings.NewReader(string(body)))
		if err := dec.Decode(&msg); err != nil {
			t.Errorf("gateway: body %s: %v", body, err)
			http.Error(w, `{"code":"bad_body"}`, http.StatusBadRequest)
			return
		}
		g.mu.Lock()
		g.got = append(g.got, msg)
		g.mu.Unlock()
		fmt.Fprint(w, `{"code":"OK"}`)
	}))
	t.Cleanup(srv.Close)
	g.url = srv.URL + "/sms/send"
	return g
}

func (g *smsGateway) messages() []map[string]string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.got)
}

func smsConfig(g *smsGateway) notify.SMS {
	return notify.SMS{URL: g.url, Body: `{"mobile":"{phone}","content":"{text}","sign_name":"南京结对"}`, Signature: "南京结对",
		Text: "{sign}{text}详情 {link}", SignHeader: "X-Sign", Secret: []byte("sms-key")}
}

// TestSMSTemplate: the gateway gets the body template filled in (phone and
// text JSON-escaped), signed, with the configured 【签名】 in place of the
// app's, the person's name and the link. A person without a phone number
// gets no text, and the administrator sees why: their SMS fails at once
// (no retries, not held by quiet hours) with the reason no_phone, which
// the console's 通知记录 puts in Chinese.
func TestSMSTemplate(t *testing.T) {
	g := newSMSGateway(t, "sms-key")
	e, pid, cp := channelFixture(t, Config{NotifyPacing: &notify.Pacing{Quiet: notify.QuietHours{From: 0, To: 24*time.Hour - time.Minute}}, NotifySMS: smsConfig(g)})
	raiseIssues(t, e, e.device(t, "officerA"), pid, cp, 1)
	dispatch(t, e, "i1")
	notes := channelNotes(t, e, notify.ChannelSMS)
	if len(notes) != 2 {
		t.Fatalf("SMS planned: got %+v, want two, to officerA and officerA2 (no phone: failed at once, shown why)", notes)
	}
	send(t, e)
	if got := g.messages(); len(got) != 0 {
		t.Fatalf("quiet hours (all day): the gateway got %v, want nothing yet", got)
	}
	var list notificationList
	if r := e.call("GET", "/v1/notifications?channel=sms", e.login("adminA").AccessToken, nil); r.status != 200 {
		t.Fatalf("list: got %d %s", r.status, r.body)
	} else {
		r.json(t, &list)
	}
	for _, n := range list.Notifications {
		if n.To == "u-officerA2" && (n.State != storage.NotificationFailed || n.Reason != "no_phone" || n.Attempts != 1) {
			t.Fatalf("officerA2's SMS in the console's list: got %s, reason %q, %d attempts; want failed at once, no_phone", n.State, n.Reason, n.Attempts)
		}
		if n.To == "u-officerA" && (n.State != storage.NotificationPending || n.Reason != notify.ReasonQuietHours) {
			t.Fatalf("officerA's SMS: got %s, reason %q; want pending, quiet_hours", n.State, n.Reason)
		}
	}
	e.s.notify.sender.Pacing = noPacing
	e.advance(24 * time.Hour)
	send(t, e)
	got := g.messages()
	want := map[string]string{"mobile": "13800000000", "sign_name": "南京结对",
		"content": "【南京结对】officerA，诉求「融资难1」已交办给您，请及时签收办理。详情 https://pairsync.example/issues/i1"}
	if len(got) != 1 || !maps.Equal(got[0], want) {
		t.Fatalf("gateway: got %v, want %v", got, want)
	}
	for _, n := range channelNotes(t, e, notify.ChannelSMS) {
		if n.Recipient == "u-officerA" && (n.State != storage.NotificationSent || !strings.HasPrefix(n.Answer, "HTTP 200")) {
			t.Fatalf("after delivery: got %s %q, want sent, HTTP 200", n.State, n.Answer)
		}
	}
}

// TestQuietHoursDeferAndRelease: an SMS due in quiet hours waits, with no
// attempt and its reason, until their end and goes out then; the in-app
// message goes at once (it makes no sound). The clock is the test's.
func TestQuietHoursDeferAndRelease(t *testing.T) {
	g := newSMSGateway(t, "sms-key")
	var e *idEnv
	e, pid, cp := channelFixture(t, Config{InAppMessages: true, NotifySMS: smsConfig(g)})
	// Quiet hours around the test's now: from 30 min ago to 2 h on.
	tod := func(t time.Time) time.Duration {
		l := t.In(notify.Shanghai)
		return time.Duration(l.Hour())*time.Hour + time.Duration(l.Minute())*time.Minute
	}
	quiet := notify.QuietHours{From: tod(e.now().Add(-30 * time.Minute)), To: tod(e.now().Add(2 * time.Hour)), Loc: notify.Shanghai}
	end, ok := quiet.End(e.now())
	if !ok {
		t.Fatalf("quiet hours %s: now %v is not inside", quiet, e.now())
	}
	e.s.notify.sender.Pacing = &notify.Pacing{Quiet: quiet}
	raiseIssues(t, e, e.device(t, "officerA"), pid, cp, 1)
	dispatch(t, e, "i1")
	send(t, e)
	if got := g.messages(); len(got) != 0 {
		t.Fatalf("in quiet hours: the gateway got %v, want nothing", got)
	}
	var sms storage.Notification
	for _, n := range channelNotes(t, e, notify.ChannelSMS) {
		if n.Recipient == "u-officerA" { // officerA2 has no phone: failed at once (TestSMSTemplate)
			sms = n
		}
	}
	if sms.State != storage.NotificationPending || sms.Attempts != 0 || !sms.NextAt.Equal(end.Truncate(time.Millisecond)) ||
		notify.Explain(sms.Answer) != notify.ReasonQuietHours {
		t.Fatalf("deferred SMS: got state %s attempts %d next %v answer %q; want pending, 0, %v, quiet hours", sms.State, sms.Attempts, sms.NextAt, sms.Answer, end)
	}
	for _, n := range channelNotes(t, e, notify.ChannelInApp) {
		if n.State != storage.NotificationSent {
			t.Fatalf("in-app message in quiet hours: got %s, want sent at once", n.State)
		}
	}
	e.advance(end.Sub(e.now()) - time.Millisecond)
	send(t, e)
	if got := g.messages(); len(got) != 0 {
		t.Fatalf("a millisecond before the end: the gateway got %v, want nothing", got)
	}
	e.advance(time.Millisecond)
	send(t, e)
	if got := g.messages(); len(got) != 1 || got[0]["mobile"] != "13800000000" {
		t.Fatalf("at the end of quiet hours: the gateway got %v, want the SMS", got)
	}
	if n, _ := e.db.Notification(t.Context(), sms.ID); n.State != storage.NotificationSent || n.Attempts != 1 {
		t.Fatalf("released: got %s after %d attempts, want sent at the first", n.State, n.Attempts)
	}
}

// TestHourlyLimit: past 6 in a clock hour, the rest of one person's SMS
// wait for the next hour (said so in their answer), and then go out
// folded into ONE message listing them ("另有 3 条提醒：…", with the link
// to the messages); none dropped, none twice. The clock is the test's.
func TestHourlyLimit(t *testing.T) {
	g := newSMSGateway(t, "sms-key")
	e, pid, cp := channelFixture(t, Config{NotifyPacing: &notify.Pacing{}, NotifySMS: smsConfig(g)})
	raiseIssues(t, e, e.device(t, "officerA"), pid, cp, 14)
	for i := range 9 {
		dispatch(t, e, fmt.Sprintf("i%d", i+1))
	}
	// Quiet hours are the default (22:00–07:00 Shanghai): start at 10:00.
	l := e.now().In(notify.Shanghai)
	tenOClock := time.Date(l.Year(), l.Month(), l.Day()+1, 10, 0, 0, 0, notify.Shanghai)
	e.advance(tenOClock.Sub(e.now()))
	send(t, e)
	if got := len(g.messages()); got != 6 {
		t.Fatalf("this hour: the gateway got %d, want 6 (the limit)", got)
	}
	var waiting []storage.Notification
	for _, n := range channelNotes(t, e, notify.ChannelSMS) {
		if n.State == storage.NotificationPending {
			waiting = append(waiting, n)
		}
	}
	if len(waiting) != 3 {
		t.Fatalf("waiting: got %d, want 3", len(waiting))
	}
	for _, n := range waiting {
		if !n.NextAt.Equal(tenOClock.Add(time.Hour)) || n.Attempts != 0 || notify.Explain(n.Answer) != notify.ReasonHourlyLimit {
			t.Fatalf("%s: got next %v attempts %d answer %q, want %v, 0, the hourly limit", n.ID, n.NextAt, n.Attempts, n.Answer, tenOClock.Add(time.Hour))
		}
	}
	e.advance(59 * time.Minute)
	send(t, e)
	if got := len(g.messages()); got != 6 {
		t.Fatalf("at 10:59: the gateway got %d, want still 6", got)
	}
	e.advance(time.Minute)
	send(t, e)
	got := g.messages()
	if len(got) != 7 {
		t.Fatalf("at 11:00: the gateway got %d messages, want 7 (the 3 held folded into one)", len(got))
	}
	folded := got[6]["content"]
	if !strings.Contains(folded, "另有 3 条提醒") || !strings.Contains(folded, "https://pairsync.example/messages") {
		t.Fatalf("the folded message: got %q, want 另有 3 条提醒 and the link to the messages", folded)
	}
	for _, n := range waiting {
		title := strings.Split(strings.Split(n.Text, "「")[1], "」")[0]
		if !strings.Contains(folded, title) {
			t.Errorf("the folded message %q does not name %s", folded, title)
		}
	}
	for _, n := range channelNotes(t, e, notify.ChannelSMS) {
		if n.Recipient == "u-officerA" && n.State != storage.NotificationSent {
			t.Errorf("%s after 11:00: got %s %q, want sent", n.ID, n.State, n.Answer)
		}
	}
	send(t, e)
	if n := len(g.messages()); n != 7 {
		t.Fatalf("another pass: the gateway got %d, want still 7 (none twice)", n)
	}
	// The fold was one message of this hour's 6: five more go now.
	for i := 10; i <= 14; i++ {
		dispatch(t, e, fmt.Sprintf("i%d", i))
	}
	send(t, e)
	if n := len(g.messages()); n != 12 {
		t.Fatalf("five more at 11:00: the gateway got %d in all, want 12 (the folded three count as one message)", n)
	}
}

// TestPreferencesHonoured: a person who turns SMS off gets none (the
// robot and the in-app message still come); in-app cannot be turned off;
// SMS is off and not choosable without a phone number.
func TestPreferencesHonoured(t *testing.T) {
	g := newSMSGateway(t, "sms-key")
	var e *idEnv
	rb := newRobot(t, func() time.Time { return e.now() }, func(*http.Request, []byte) (int, string) { return 0, "ok" })
	e, pid, cp := channelFixture(t, Config{InAppMessages: true, NotifySMS: smsConfig(g),
		NotifyWeCom: notify.WeCom{URL: rb.url + "/?key=k"}})
	tok := e.login("officerA").AccessToken
	var st notifySettings
	e.call("GET", "/v1/me/notify-settings", tok, nil).json(t, &st)
	want := []channelSetting{{Channel: "inapp", On: true}, {Channel: "sms", On: true, Choosable: true}, {Channel: "wecom", On: true, Choosable: true}}
	if !slices.Equal(st.Channels, want) || st.QuietHours != "22:00-07:00" || st.TimeZone != "Asia/Shanghai" || st.HourlyLimit != 6 {
		t.Fatalf("officerA's defaults: got %+v, want %+v, 22:00-07:00 Asia/Shanghai, 6 an hour", st, want)
	}
	var st2 notifySettings
	e.call("GET", "/v1/me/notify-settings", e.login("officerA2").AccessToken, nil).json(t, &st2)
	if st2.Channels[1] != (channelSetting{Channel: "sms", Why: "no_phone"}) {
		t.Fatalf("officerA2 (no phone): got %+v, want SMS off, not choosable, no_phone", st2.Channels)
	}
	if r := e.call("PUT", "/v1/me/notify-settings", tok, map[string]any{"off": []string{"inapp"}}); r.status != 400 {
		t.Fatalf("turn in-app off: got %d %s, want 400", r.status, r.body)
	}
	r := e.call("PUT", "/v1/me/notify-settings", tok, map[string]any{"off": []string{"sms"}})
	r.json(t, &st)
	if r.status != 200 || st.Channels[1].On || !st.Channels[2].On {
		t.Fatalf("turn SMS off: got %d %s, want SMS off, the robot on", r.status, r.body)
	}
	raiseIssues(t, e, e.device(t, "officerA"), pid, cp, 1)
	dispatch(t, e, "i1")
	got := map[string][]string{}
	for _, n := range allNotifications(t, e) {
		got[n.Recipient] = append(got[n.Recipient], n.Channel)
	}
	// officerA2 has no phone: an SMS row that fails at once (no_phone), for
	// the administrator to see; nothing reaches the gateway.
	for who, want := range map[string][]string{"u-officerA": {"inapp", "wecom"}, "u-officerA2": {"inapp", "sms", "wecom"}} {
		slices.Sort(got[who])
		if !slices.Equal(got[who], want) {
			t.Errorf("%s: got channels %v, want %v", who, got[who], want)
		}
	}
	send(t, e)
	if m := g.messages(); len(m) != 0 {
		t.Fatalf("gateway: got %v, want no SMS (officerA turned it off, officerA2 has no phone)", m)
	}
}

// TestMessagesScoped: each person reads their own in-app messages (newest
// first, unread counted) and marks them read; another person's message id,
// a notification of another channel and an unknown id all answer 404.
func TestMessagesScoped(t *testing.T) {
	rc := newReceiver(t)
	e, pid, cp := channelFixture(t, Config{InAppMessages: true, NotifyWebhook: notify.Webhook{URL: rc.url, Secret: []byte(webhookSecret)}})
	raiseIssues(t, e, e.device(t, "officerA"), pid, cp, 2)
	dispatch(t, e, "i1")
	e.advance(time.Second)
	dispatch(t, e, "i2")
	a, a2 := e.login("officerA").AccessToken, e.login("officerA2").AccessToken
	var list messageList
	r := e.call("GET", "/v1/me/messages", a, nil)
	r.json(t, &list)
	if r.status != 200 || len(list.Messages) != 2 || list.Unread != 2 || list.Messages[0].Subject != "issues/i2" ||
		!strings.Contains(list.Messages[1].Text, "融资难1") {
		t.Fatalf("officerA's messages: got %d %s, want 2 unread, i2's first", r.status, r.body)
	}
	if r := e.call("GET", "/v1/me/messages?limit=1&offset=1", a, nil); !strings.Contains(string(r.body), `"more":false`) || !strings.Contains(string(r.body), "issues/i1") {
		t.Fatalf("second page: got %s, want i1's, no more", r.body)
	}
	mine := list.Messages[1].ID
	var webhookID string
	for _, n := range allNotifications(t, e) {
		if n.Recipient == "u-officerA" && n.Channel == notify.ChannelWebhook {
			webhookID = n.ID
		}
	}
	for _, tc := range []struct{ who, tok, id string }{{"officerA2", a2, mine}, {"officerA", a, webhookID}, {"officerA", a, "n-nope"}} {
		if r := e.call("POST", "/v1/me/messages/"+tc.id+"/read", tc.tok, nil); r.status != 404 {
			t.Errorf("%s reads %s: got %d %s, want 404", tc.who, tc.id, r.status, r.body)
		}
	}
	if n, _ := e.db.Notification(t.Context(), mine); !n.ReadAt.IsZero() {
		t.Fatalf("after officerA2's try: officerA's message read at %v, want unread", n.ReadAt)
	}
	var m messageView
	r = e.call("POST", "/v1/me/messages/"+mine+"/read", a, nil)
	r.json(t, &m)
	if r.status != 200 || m.ReadAt.IsZero() {
		t.Fatalf("officerA reads: got %d %s, want 200 with read_at", r.status, r.body)
	}
	e.call("GET", "/v1/me/messages", a, nil).json(t, &list)
	if list.Unread != 1 {
		t.Fatalf("unread after reading one: got %d, want 1", list.Unread)
	}
	e.call("GET", "/v1/me/messages", a2, nil).json(t, &list)
	if len(list.Messages) != 2 || list.Unread != 2 {
		t.Fatalf("officerA2's messages: got %d, %d unread; want 2, 2 (their own)", len(list.Messages), list.Unread)
	}
}

// TestMessagesReachDevice: a phone (its device token) reads its person's
// in-app messages, not another's, to keep offline; the reads it made
// offline go back in one batch at its next sync, each at its own time
// (clamped to the message's writing and now), once: the batch sent again
// changes nothing, and another person's or an unknown id is skipped alike.
func TestMessagesReachDevice(t *testing.T) {
	rc := newReceiver(t)
	e, pid, cp := channelFixture(t, Config{InAppMessages: true, NotifyWebhook: notify.Webhook{URL: rc.url, Secret: []byte(webhookSecret)}})
	phoneA := e.device(t, "officerA")
	phoneA2 := e.device(t, "officerA2")
	raiseIssues(t, e, phoneA, pid, cp, 2)
	dispatch(t, e, "i1")
	e.advance(time.Minute)
	dispatch(t, e, "i2")
	var list messageList
	if r := e.call("GET", "/v1/me/messages?limit=100", phoneA.token, nil); r.status != 200 {
		t.Fatalf("officerA's phone reads its messages: got %d %s", r.status, r.body)
	} else {
		r.json(t, &list)
	}
	if len(list.Messages) != 2 || list.Unread != 2 {
		t.Fatalf("officerA's phone: got %+v, want its 2 unread messages", list)
	}
	i1, i2 := list.Messages[1], list.Messages[0]
	var other messageList
	e.call("GET", "/v1/me/messages?limit=100", phoneA2.token, nil).json(t, &other)
	for _, m := range other.Messages {
		if m.ID == i1.ID || m.ID == i2.ID {
			t.Fatalf("officerA2's phone got officerA's message %s", m.ID)
		}
	}

	// officerA2's phone sends officerA's id: skipped, as an unknown one.
	r := e.call("POST", "/v1/me/messages/read", phoneA2.token, map[string]any{"reads": []map[string]any{{"id": i1.ID, "at": i1.At}, {"id": "n-nope"}}})
	if r.status != 200 || !strings.Contains(string(r.body), `"messages":[]`) {
		t.Fatalf("another's and an unknown id: got %d %s, want 200 and no message", r.status, r.body)
	}
	if n, _ := e.db.Notification(t.Context(), i1.ID); !n.ReadAt.IsZero() {
		t.Fatalf("officerA's message read by officerA2's batch at %v", n.ReadAt)
	}

	// officerA read i1 offline 10 s after it came, and i2 "before" it was
	// written (a phone's clock behind): i2 counts from its writing.
	readAt := i1.At.Add(10 * time.Second)
	batch := map[string]any{"reads": []map[string]any{{"id": i1.ID, "at": readAt}, {"id": i2.ID, "at": i2.At.Add(-time.Hour)}}}
	var got messageList
	r = e.call("POST", "/v1/me/messages/read", phoneA.token, batch)
	r.json(t, &got)
	if r.status != 200 || len(got.Messages) != 2 || !got.Messages[0].ReadAt.Equal(readAt) || !got.Messages[1].ReadAt.Equal(i2.At) {
		t.Fatalf("officerA's offline reads: got %d %s, want i1 read at %v, i2 at its writing %v", r.status, r.body, readAt, i2.At)
	}
	e.advance(5 * time.Minute)
	batch["reads"] = []map[string]any{{"id": i1.ID, "at": readAt.Add(time.Minute)}}
	got = messageList{}
	r = e.call("POST", "/v1/me/messages/read", phoneA.token, batch)
	r.json(t, &got)
	if r.status != 200 || len(got.Messages) != 1 || !got.Messages[0].ReadAt.Equal(readAt) {
		t.Fatalf("the batch sent again: got %d %s, want i1 still read at %v", r.status, r.body, readAt)
	}
	e.call("GET", "/v1/me/messages?limit=100", e.login("officerA").AccessToken, nil).json(t, &list)
	if list.Unread != 0 || !list.Messages[1].ReadAt.Equal(readAt) {
		t.Fatalf("the console's view after the phone's sync: got %+v, want both read, i1 at %v", list, readAt)
	}
	e.call("GET", "/v1/me/messages?limit=100", phoneA2.token, nil).json(t, &other)
	if other.Unread != len(other.Messages) {
		t.Fatalf("officerA2's messages: got %d unread of %d, want all unread", other.Unread, len(other.Messages))
	}
}

// TestNotificationLanguage: a person who switched the app to English
// (PATCH /v1/me, kept on the user) is written to in English on every
// channel; another stays in Chinese, the default; switching back writes
// Chinese again; a language the apps do not speak is refused.
func TestNotificationLanguage(t *testing.T) {
	rc := newReceiver(t)
	e, pid, cp := channelFixture(t, Config{InAppMessages: true, NotifyWebhook: notify.Webhook{URL: rc.url, Secret: []byte(webhookSecret)}})
	a := e.login("officerA").AccessToken
	if r := e.call("PATCH", "/v1/me", a, map[string]any{"language": "fr"}); r.status != 400 {
		t.Fatalf("language fr: got %d %s, want 400", r.status, r.body)
	}
	var me userView
	r := e.call("PATCH", "/v1/me", a, map[string]any{"language": "en"})
	r.json(t, &me)
	if r.status != 200 || me.Language != "en" {
		t.Fatalf("switch to English: got %d %s", r.status, r.body)
	}
	if r := e.call("GET", "/v1/me", a, nil); !strings.Contains(string(r.body), `"language":"en"`) {
		t.Fatalf("GET /v1/me after the switch: %s, want language en", r.body)
	}
	raiseIssues(t, e, e.device(t, "officerA"), pid, cp, 2)
	dispatch(t, e, "i1")
	texts := func(issue string) map[string]string {
		got := map[string]string{}
		for _, n := range allNotifications(t, e) {
			if n.Subject == "issues/"+issue {
				got[n.Recipient+"/"+n.Channel] = n.Text
			}
		}
		return got
	}
	got := texts("i1")
	for _, k := range []string{"u-officerA/inapp", "u-officerA/webhook"} {
		if !strings.HasPrefix(got[k], "[Pairsync] ") || strings.Contains(got[k], "诉求") {
			t.Errorf("%s: got %q, want English", k, got[k])
		}
	}
	for _, k := range []string{"u-officerA2/inapp", "u-officerA2/webhook"} {
		if !strings.HasPrefix(got[k], "【结对共建】") {
			t.Errorf("%s: got %q, want Chinese (the default)", k, got[k])
		}
	}
	e.call("PATCH", "/v1/me", a, map[string]any{"language": "zh"})
	dispatch(t, e, "i2")
	if got := texts("i2"); !strings.HasPrefix(got["u-officerA/inapp"], "【结对共建】") {
		t.Errorf("after switching back: got %q, want Chinese", got["u-officerA/inapp"])
	}
}
