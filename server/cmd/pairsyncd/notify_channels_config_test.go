package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

// TestNotifyChannelsConfig: the channels' settings from flags and the
// environment, their keys from the environment only, the defaults (in-app
// on, 22:00–07:00 Shanghai, 6 an hour), and refusals at start of what could
// not send.
func TestNotifyChannelsConfig(t *testing.T) {
	c, err := ParseConfig(nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	p := c.Server.NotifyPacing
	if !c.Server.InAppMessages || c.Server.NotifySMS.URL != "" || p == nil || p.Quiet.String() != "22:00-07:00" || p.Quiet.Loc.String() != "Asia/Shanghai" || p.Hourly != 6 {
		t.Fatalf("defaults: got in-app %v, SMS %q, pacing %+v; want in-app on, no SMS, 22:00-07:00 Asia/Shanghai, 6", c.Server.InAppMessages, c.Server.NotifySMS.URL, p)
	}
	env := map[string]string{"PAIRSYNC_NOTIFY_SMS_SECRET": "sms-key", "PAIRSYNC_NOTIFY_DINGTALK_SECRET": "SECx",
		"PAIRSYNC_NOTIFY_DINGTALK_URL": "https://oapi.example/robot/send?access_token=t"}
	c, err = ParseConfig([]string{"-notify-sms-url", "http://10.0.0.5/sms", "-notify-sms-body", `{"m":"{phone}","c":"{text}"}`,
		"-notify-sms-sign-header", "X-Sign", "-notify-wecom-url", "https://qyapi.example/cgi-bin/webhook/send?key=k", "-notify-wecom-msgtype", "text",
		"-notify-quiet-hours", "off", "-notify-timezone", "Asia/Urumqi", "-notify-hourly-limit", "0", "-notify-inapp=false"},
		func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	s := c.Server
	if string(s.NotifySMS.Secret) != "sms-key" || s.NotifyDingTalk.Secret != "SECx" || s.NotifyWeCom.MsgType != "text" || s.InAppMessages ||
		s.NotifyPacing.Quiet.String() != "off" || s.NotifyPacing.Hourly != -1 || s.NotifyPacing.Quiet.Loc.String() != "Asia/Urumqi" {
		t.Fatalf("set: got %+v", s)
	}
	c, err = ParseConfig([]string{"-notify-sms-url", "http://10.0.0.5/sms?m={phone}&c={text}", "-notify-sms-method", "GET", "-notify-sms-split", "true"},
		func(k string) string {
			return map[string]string{"PAIRSYNC_NOTIFY_SMS_HEADERS": "X-App-Key: k1; X-App-Id: 7"}[k]
		}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if sms := c.Server.NotifySMS; sms.Method != "GET" || !sms.Split || sms.Headers.Get("X-App-Key") != "k1" || sms.Headers.Get("X-App-Id") != "7" {
		t.Fatalf("SMS method, headers, split: got %+v", sms)
	}
	if _, quiet := s.NotifyPacing.Quiet.End(time.Now()); quiet {
		t.Fatal("quiet hours off: got quiet now")
	}
	for _, tc := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"-notify-sms-url", "http://10.0.0.5/sms", "-notify-sms-body", `{"m":"{phone}"}`}, "{text}"},
		{[]string{"-notify-sms-url", "http://10.0.0.5/sms", "-notify-sms-sign-header", "X-Sign"}, "needs a key"},
		{[]string{"-notify-wecom-url", "https://qyapi.example/cgi-bin/webhook/send"}, "key="},
		{[]string{"-notify-dingtalk-url", "https://oapi.example/robot/send"}, "access_token="},
		{[]string{"-notify-wecom-msgtype", "news"}, "markdown or text"},
		{[]string{"-notify-quiet-hours", "22-7"}, "HH:MM-HH:MM"},
		{[]string{"-notify-timezone", "Mars/Olympus"}, "time zone"},
		{[]string{"-notify-hourly-limit", "-1"}, "from 0"},
		{[]string{"-notify-sms-url", "http://10.0.0.5/sms?m={phone}", "-notify-sms-method", "GET"}, "{text}"},
		{[]string{"-notify-sms-url", "http://10.0.0.5/sms", "-notify-sms-method", "PATCH"}, "GET, POST or PUT"},
		{[]string{"-notify-sms-headers", "AppKey"}, "Name: value"},
		{[]string{"-notify-sms-split", "maybe"}, "true or false"},
	} {
		if _, err := ParseConfig(tc.args, func(string) string { return "" }, io.Discard); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%v: got error %v, want one mentioning %q", tc.args, err, tc.wantErr)
		}
	}
}
