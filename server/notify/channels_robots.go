package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pairsync/pairsync/storage"
)

// WeCom posts to a 企业微信 group robot (URL: …/cgi-bin/webhook/send?key=…).
// MsgType "markdown" (the default) names the person in bold and links to
// the thing; "text" also @s them by phone (mentioned_mobile_list: the robot
// API mentions by phone only in text messages). The robot takes 20
// messages a minute (Pacing keeps to it).
type WeCom struct {
	URL     string
	MsgType string // markdown | text
	Client  *http.Client
	// Route, when set, gives the robot of n's org unit ("" none: URL).
	Route func(ctx context.Context, n storage.Notification) (url string, err error)
}

// ErrNoRobot's answer: neither the notification's unit, nor one above,
// nor the server has a robot on the channel.
const answerNoRobot = "no robot for this unit"

// The robots' body limits, in bytes.
const (
	weComTextMax     = 2048
	weComMarkdownMax = 4096
	dingTalkMax      = 4000
)

// WeComBody is what a 企业微信 robot receives.
type WeComBody struct {
	MsgType  string `json:"msgtype"`
	Markdown *struct {
		Content string `json:"content"`
	} `json:"markdown,omitempty"`
	Text *struct {
		Content             string   `json:"content"`
		MentionedMobileList []string `json:"mentioned_mobile_list,omitempty"`
	} `json:"text,omitempty"`
}

// Deliver posts n into the robot's group.
func (w *WeCom) Deliver(ctx context.Context, n storage.Notification, to Recipient) (string, error) {
	var b WeComBody
	name := cmpOrString(to.Name, n.RecipientName)
	if w.MsgType == "text" {
		b.MsgType = "text"
		b.Text = &struct {
			Content             string   `json:"content"`
			MentionedMobileList []string `json:"mentioned_mobile_list,omitempty"`
		}{Content: clipBytes(fmt.Sprintf("%s\n%s：%s\n%s", Title(n), name, body(n), n.Link), weComTextMax)}
		if to.Phone != "" {
			b.Text.MentionedMobileList = []string{to.Phone}
		}
	} else {
		b.MsgType = "markdown"
		b.Markdown = &struct {
			Content string `json:"content"`
		}{Content: clipBytes(fmt.Sprintf("**%s**\n> <font color=\"warning\">%s</font>：%s\n[%s](%s)", Title(n), mdEscape(name), mdEscape(body(n)),
			say(n.Lang, "open"), n.Link), weComMarkdownMax)}
	}
	raw, err := json.Marshal(b)
	if err != nil {
		return "", err
	}
	target, err := w.target(ctx, n)
	if err != nil {
		return "", err
	}
	if target == "" {
		return answerNoRobot, fmt.Errorf("wecom: %s: %w", answerNoRobot, ErrPermanent)
	}
	status, head, err := post(ctx, w.Client, target, raw, nil)
	return robotAnswer("wecom", status, head, err)
}

// target is the robot n goes to: its unit's (Route), else URL.
func (w *WeCom) target(ctx context.Context, n storage.Notification) (string, error) {
	if w.Route != nil {
		u, err := w.Route(ctx, n)
		if err != nil {
			return "", err
		}
		if u != "" {
			return u, nil
		}
	}
	return w.URL, nil
}

// Robot names the robot n goes to (RobotKey; "" none).
func (w *WeCom) Robot(ctx context.Context, n storage.Notification) (string, error) {
	u, err := w.target(ctx, n)
	return RobotKey(u), err
}

// A RobotChannel posts into group robots, each with its own limit
// (Pacing counts each robot's messages): Robot names the one n goes to.
type RobotChannel interface {
	Channel
	Robot(ctx context.Context, n storage.Notification) (string, error)
}

// RobotKey names a robot by its webhook's identity: the host and path and
// the key (企业微信 key=, 钉钉 access_token=) that pick one robot, hashed,
// so the outbox holds no key; "" for no URL. Two URLs of one robot (the
// order of the query, a signature added) have one name.
func RobotKey(raw string) string {
	if raw == "" {
		return ""
	}
	id := raw
	if u, err := url.Parse(raw); err == nil {
		q := u.Query()
		id = strings.ToLower(u.Host) + u.EscapedPath() + "?key=" + q.Get("key") + "&access_token=" + q.Get("access_token")
	}
	sum := sha256.Sum256([]byte(id))
	return "robot-" + hex.EncodeToString(sum[:8])
}

// DingTalk posts to a 钉钉 custom robot (URL: …/robot/send?access_token=…),
// signed when Secret (加签, "SEC…") is set: timestamp (ms) and sign, the
// Base64 of HMAC-SHA256 keyed by Secret over "timestamp\nSecret",
// URL-encoded, added to the query. The message @s the person by phone
// (at.atMobiles, and "@phone" in the text, as 钉钉 wants) and links to the
// thing. MsgType is "markdown" (the default) or "text".
type DingTalk struct {
	URL     string
	Secret  string
	MsgType string
	Client  *http.Client
	Now     func() time.Time // nil: time.Now
	// Route, when set, gives the robot of n's org unit and its secret
	// ("" none: URL and Secret).
	Route func(ctx context.Context, n storage.Notification) (url, secret string, err error)
}

// DingTalkBody is what a 钉钉 robot receives.
type DingTalkBody struct {
	MsgType  string `json:"msgtype"`
	Markdown *struct {
		Title string `json:"title"`
		Text  string `json:"text"`
	} `json:"markdown,omitempty"`
	Text *struct {
		Content string `json:"content"`
	} `json:"text,omitempty"`
	At struct {
		AtMobiles []string `json:"atMobiles,omitempty"`
		IsAtAll   bool     `json:"isAtAll"`
	} `json:"at"`
}

// DingTalkSign is 钉钉's 加签: Base64(HMAC-SHA256(secret, timestamp+"\n"+secret)),
// before URL-encoding.
func DingTalkSign(timestamp int64, secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(timestamp, 10) + "\n" + secret))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Deliver posts n into the robot's group.
func (d *DingTalk) Deliver(ctx context.Context, n storage.Notification, to Recipient) (string, error) {
	var b DingTalkBody
	name := cmpOrString(to.Name, n.RecipientName)
	at := ""
	if to.Phone != "" {
		b.At.AtMobiles = []string{to.Phone}
		at = " @" + to.Phone
	}
	if d.MsgType == "text" {
		b.MsgType = "text"
		b.Text = &struct {
			Content string `json:"content"`
		}{Content: clipBytes(fmt.Sprintf("%s\n%s%s：%s\n%s", Title(n), name, at, body(n), n.Link), dingTalkMax)}
	} else {
		b.MsgType = "markdown"
		b.Markdown = &struct {
			Title string `json:"title"`
			Text  string `json:"text"`
		}{Title: Title(n), Text: clipBytes(fmt.Sprintf("#### %s\n\n**%s**%s：%s\n\n[%s](%s)", Title(n), mdEscape(name), at, mdEscape(body(n)),
			say(n.Lang, "open"), n.Link), dingTalkMax)}
	}
	raw, err := json.Marshal(b)
	if err != nil {
		return "", err
	}
	target, secret, err := d.target(ctx, n)
	if err != nil {
		return "", err
	}
	if target == "" {
		return answerNoRobot, fmt.Errorf("dingtalk: %s: %w", answerNoRobot, ErrPermanent)
	}
	if secret != "" {
		now := time.Now
		if d.Now != nil {
			now = d.Now
		}
		ts := now().UnixMilli()
		sep := "?"
		if strings.Contains(target, "?") {
			sep = "&"
		}
		target += sep + "timestamp=" + strconv.FormatInt(ts, 10) + "&sign=" + url.QueryEscape(DingTalkSign(ts, secret))
	}
	status, head, err := post(ctx, d.Client, target, raw, nil)
	return robotAnswer("dingtalk", status, head, err)
}

// target is the robot n goes to and its secret: its unit's (Route), else
// URL and Secret.
func (d *DingTalk) target(ctx context.Context, n storage.Notification) (target, secret string, err error) {
	if d.Route != nil {
		u, sec, err := d.Route(ctx, n)
		if err != nil {
			return "", "", err
		}
		if u != "" {
			return u, sec, nil
		}
	}
	return d.URL, d.Secret, nil
}

// Robot names the robot n goes to (RobotKey; "" none).
func (d *DingTalk) Robot(ctx context.Context, n storage.Notification) (string, error) {
	u, _, err := d.target(ctx, n)
	return RobotKey(u), err
}

// mdEscape keeps a person's words from being read as markdown.
func mdEscape(s string) string {
	return strings.NewReplacer("*", "\\*", "_", "\\_", "[", "\\[", "]", "\\]", "`", "\\`", "<", "&lt;", ">", "&gt;", "#", "\\#").Replace(s)
}

// InApp is the in-app channel: the notification itself is the message
// (GET /v1/me/messages), so delivering it only records that it is there.
type InApp struct{}

// Deliver records n as in the recipient's messages.
func (InApp) Deliver(context.Context, storage.Notification, Recipient) (string, error) {
	return "in the app's messages", nil
}

// Explain names, for screens, why a notification waits or failed: a
// Reason constant, "no_phone", "no_answer", "refused" (a robot's
// errcode), "http_error", "not_configured", "sent", "folded" (sent inside
// another's message: the hourly limit's fold), or "" when there is no
// answer yet.
func Explain(answer string) string {
	if rest, ok := strings.CutPrefix(answer, "part "); ok { // an SMS sent in parts: its last part's answer
		if _, a, ok := strings.Cut(rest, ": "); ok {
			answer = a
		}
	}
	for _, r := range []string{ReasonQuietHours, ReasonHourlyLimit, ReasonRobotLimit} {
		if strings.HasPrefix(answer, r+":") {
			return r
		}
	}
	switch {
	case answer == "":
		return ""
	case answer == "no phone number":
		return "no_phone"
	case answer == answerNoRobot:
		return "no_robot"
	case strings.HasPrefix(answer, "no answer"), strings.HasPrefix(answer, "invalid"):
		return "no_answer"
	case strings.HasPrefix(answer, "errcode"):
		return "refused"
	case strings.HasPrefix(answer, "channel ") && strings.HasSuffix(answer, "not configured"):
		return "not_configured"
	case strings.HasPrefix(answer, FoldedPrefix):
		return "folded"
	case strings.HasPrefix(answer, "HTTP 2"), answer == "in the app's messages":
		return "sent"
	case strings.HasPrefix(answer, "HTTP "):
		return "http_error"
	}
	return "other"
}
