package main

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // -notify-timezone names a zone on machines without a zone database

	"github.com/pairsync/pairsync/server/notify"
)

// notifyChannelSettings are the settings of issue 17's channels (SMS
// gateway, 企业微信 and 钉钉 robots, in-app messages) and of pacing (quiet
// hours, the hourly limit). Their keys come from the environment or a
// file, never a flag.
func notifyChannelSettings() []setting {
	url := func(p func(*Config) *string) func(*Config, string) error {
		return func(c *Config, v string) error {
			if v != "" && !strings.HasPrefix(v, "https://") && !strings.HasPrefix(v, "http://") {
				return fmt.Errorf("want an http(s) URL, got %q", v)
			}
			*p(c) = v
			return nil
		}
	}
	str := func(p func(*Config) *string) func(*Config, string) error {
		return func(c *Config, v string) error { *p(c) = v; return nil }
	}
	keyFile := func(p func(*Config) *[]byte) func(*Config, string) error {
		return func(c *Config, v string) error {
			var secret string
			if err := secretFile(func(*Config) *string { return &secret })(c, v); err != nil {
				return err
			}
			if secret != "" {
				*p(c) = []byte(secret)
			}
			return nil
		}
	}
	msgType := func(p func(*Config) *string) func(*Config, string) error {
		return func(c *Config, v string) error {
			if v != "markdown" && v != "text" {
				return fmt.Errorf("want markdown or text, got %q", v)
			}
			*p(c) = v
			return nil
		}
	}
	return []setting{
		{"notify-inapp", "PAIRSYNC_NOTIFY_INAPP", "true", "in-app messages (the 消息 screens of the app and the console)", func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("want true or false, got %q", v)
			}
			c.Server.InAppMessages = b
			return nil
		}},
		{"notify-sms-url", "PAIRSYNC_NOTIFY_SMS_URL", "", "URL of the SMS gateway that takes one JSON POST per text message (empty: no SMS)", url(func(c *Config) *string { return &c.Server.NotifySMS.URL })},
		{"notify-sms-method", "PAIRSYNC_NOTIFY_SMS_METHOD", "POST", "the gateway's method: POST or PUT (the body template), or GET ({phone} and {text} in the URL, query-escaped)", str(func(c *Config) *string { return &c.Server.NotifySMS.Method })},
		{"notify-sms-headers", "PAIRSYNC_NOTIFY_SMS_HEADERS", "", "headers sent to the gateway, \"Name: value; Name: value\" (may hold a key: prefer the environment)", func(c *Config, v string) error {
			h, err := parseHeaders(v)
			if err != nil {
				return err
			}
			c.Server.NotifySMS.Headers = h
			return nil
		}},
		{"notify-sms-split", "PAIRSYNC_NOTIFY_SMS_SPLIT", "false", "send a text over 70 characters as its parts of 67, one request each (false: whole, the platform joins it)", func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("want true or false, got %q", v)
			}
			c.Server.NotifySMS.Split = b
			return nil
		}},
		{"notify-sms-body", "PAIRSYNC_NOTIFY_SMS_BODY", notify.DefaultSMSBody, "the gateway's JSON body, {phone} and {text} filled in (JSON-escaped)", str(func(c *Config) *string { return &c.Server.NotifySMS.Body })},
		{"notify-sms-signature", "PAIRSYNC_NOTIFY_SMS_SIGNATURE", notify.DefaultSMSSignature, "the SMS signature (短信签名), sent as 【signature】", str(func(c *Config) *string { return &c.Server.NotifySMS.Signature })},
		{"notify-sms-text", "PAIRSYNC_NOTIFY_SMS_TEXT", notify.DefaultSMSText, "the text message: {sign} {name} {text} {link}", str(func(c *Config) *string { return &c.Server.NotifySMS.Text })},
		{"notify-sms-sign-header", "PAIRSYNC_NOTIFY_SMS_SIGN_HEADER", "", "header carrying the hex HMAC-SHA256 of the body, keyed by PAIRSYNC_NOTIFY_SMS_SECRET (empty: unsigned)", str(func(c *Config) *string { return &c.Server.NotifySMS.SignHeader })},
		{"notify-sms-secret-file", "PAIRSYNC_NOTIFY_SMS_SECRET_FILE", "", "file holding the SMS gateway's signing key (else PAIRSYNC_NOTIFY_SMS_SECRET, environment only)", keyFile(func(c *Config) *[]byte { return &c.Server.NotifySMS.Secret })},
		{"notify-wecom-url", "PAIRSYNC_NOTIFY_WECOM_URL", "", "企业微信 group robot's webhook URL with its key (prefer the environment: the key is a secret; empty: off)", url(func(c *Config) *string { return &c.Server.NotifyWeCom.URL })},
		{"notify-wecom-msgtype", "PAIRSYNC_NOTIFY_WECOM_MSGTYPE", "markdown", "markdown (names the person, links) or text (also @s them by phone)", msgType(func(c *Config) *string { return &c.Server.NotifyWeCom.MsgType })},
		{"notify-dingtalk-url", "PAIRSYNC_NOTIFY_DINGTALK_URL", "", "钉钉 custom robot's URL with its access_token (prefer the environment; empty: off)", url(func(c *Config) *string { return &c.Server.NotifyDingTalk.URL })},
		{"notify-dingtalk-secret-file", "PAIRSYNC_NOTIFY_DINGTALK_SECRET_FILE", "", "file holding the 钉钉 robot's 加签 secret, SEC… (else PAIRSYNC_NOTIFY_DINGTALK_SECRET, environment only; none: unsigned)", func(c *Config, v string) error {
			var secret string
			if err := secretFile(func(*Config) *string { return &secret })(c, v); err != nil {
				return err
			}
			if secret != "" {
				c.Server.NotifyDingTalk.Secret = secret
			}
			return nil
		}},
		{"notify-unit-robots", "PAIRSYNC_NOTIFY_UNIT_ROBOTS", "false", "turn the 企业微信 and 钉钉 channels on for the robots administrators set on their org units, even without a global robot", func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("want true or false, got %q", v)
			}
			c.Server.NotifyUnitRobots = b
			return nil
		}},
		{"notify-dingtalk-msgtype", "PAIRSYNC_NOTIFY_DINGTALK_MSGTYPE", "markdown", "markdown or text", msgType(func(c *Config) *string { return &c.Server.NotifyDingTalk.MsgType })},
		{"notify-quiet-hours", "PAIRSYNC_NOTIFY_QUIET_HOURS", "22:00-07:00", "quiet hours: SMS and robot messages wait till their end (off: none)", func(c *Config, v string) error {
			q, err := notify.ParseQuietHours(v, nil)
			if err != nil {
				return err
			}
			p := pacing(c)
			q.Loc = p.Quiet.Loc
			p.Quiet = q
			return nil
		}},
		{"notify-timezone", "PAIRSYNC_NOTIFY_TIMEZONE", "Asia/Shanghai", "the clock of the quiet hours and of the hourly limit", func(c *Config, v string) error {
			loc, err := time.LoadLocation(v)
			if err != nil {
				return fmt.Errorf("want a time zone like Asia/Shanghai, got %q", v)
			}
			pacing(c).Quiet.Loc = loc
			return nil
		}},
		{"notify-hourly-limit", "PAIRSYNC_NOTIFY_HOURLY_LIMIT", strconv.Itoa(notify.DefaultHourly), "most SMS or robot messages one person gets on one channel in an hour; the rest goes folded into one message in the next (0: no limit)", func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return fmt.Errorf("want a number from 0, got %q", v)
			}
			if n == 0 {
				n = -1
			}
			pacing(c).Hourly = n
			return nil
		}},
	}
}

// parseHeaders reads "Name: value; Name: value" ("" is none).
func parseHeaders(v string) (http.Header, error) {
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	h := http.Header{}
	for _, kv := range strings.Split(v, ";") {
		if strings.TrimSpace(kv) == "" {
			continue
		}
		k, val, ok := strings.Cut(kv, ":")
		k = strings.TrimSpace(k)
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			// The value is left out: it may be a key.
			return nil, fmt.Errorf("want headers as \"Name: value; Name: value\", got an entry without a name and a colon (%q)", k)
		}
		h.Add(k, strings.TrimSpace(val))
	}
	return h, nil
}

// pacing is the server's pacing, made on first use.
func pacing(c *Config) *notify.Pacing {
	if c.Server.NotifyPacing == nil {
		c.Server.NotifyPacing = &notify.Pacing{Quiet: notify.DefaultQuietHours}
	}
	return c.Server.NotifyPacing
}

// checkNotifyChannels reads the channels' keys from the environment where
// no file gave them, and refuses a configuration that cannot send.
func checkNotifyChannels(c *Config, getenv func(string) string) error {
	if v := getenv("PAIRSYNC_NOTIFY_SMS_SECRET"); v != "" && len(c.Server.NotifySMS.Secret) == 0 {
		c.Server.NotifySMS.Secret = []byte(v)
	}
	if v := getenv("PAIRSYNC_NOTIFY_DINGTALK_SECRET"); v != "" && c.Server.NotifyDingTalk.Secret == "" {
		c.Server.NotifyDingTalk.Secret = v
	}
	if c.Server.NotifySMS.URL != "" {
		if err := c.Server.NotifySMS.Check(); err != nil {
			return fmt.Errorf("notify-sms: %w (see README, Notifications)", err)
		}
	}
	if u := c.Server.NotifyWeCom.URL; u != "" && !strings.Contains(u, "key=") {
		return errors.New("notify-wecom-url needs the robot's key: …/cgi-bin/webhook/send?key=…")
	}
	if u := c.Server.NotifyDingTalk.URL; u != "" && !strings.Contains(u, "access_token=") {
		return errors.New("notify-dingtalk-url needs the robot's access_token: …/robot/send?access_token=…")
	}
	return nil
}
