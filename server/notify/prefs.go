package notify

import (
	"slices"
	"strings"

	"github.com/pairsync/pairsync/storage"
)

// The channels' names (Notification.Channel), besides ChannelWebhook.
const (
	// ChannelInApp is the message box in the field app and the console
	// (GET /v1/me/messages): always on, never paced (it makes no sound).
	ChannelInApp = "inapp"
	// ChannelSMS is a text message through the operator's SMS gateway.
	ChannelSMS = "sms"
	// ChannelWeCom is a 企业微信 group robot; ChannelDingTalk a 钉钉 custom
	// robot. Both post into one group, naming the person.
	ChannelWeCom    = "wecom"
	ChannelDingTalk = "dingtalk"
)

// Choosable reports whether a person may turn channel off (every channel
// but the in-app messages, which keep what the others may have missed).
func Choosable(channel string) bool { return channel != ChannelInApp }

// Off returns the channels u turned off.
func Off(u storage.User) []string {
	if u.NotifyOff == "" {
		return nil
	}
	return strings.Split(u.NotifyOff, ",")
}

// JoinOff is the stored form of the channels turned off (User.NotifyOff):
// the choosable ones among off, sorted, without repeats.
func JoinOff(off []string) string {
	var keep []string
	for _, c := range off {
		if Choosable(c) && c != "" && !strings.Contains(c, ",") {
			keep = append(keep, c)
		}
	}
	slices.Sort(keep)
	return strings.Join(slices.Compact(keep), ",")
}

// ChannelsFor returns the channels among configured that u is written to:
// in-app always; every other channel unless u turned it off. SMS to a
// person without a phone number is planned too: the sender fails it at
// once ("no phone number"), so the administrator's 通知记录 shows who
// missed a text and why. It is the one place of the defaults
// (ARCHITECTURE.md: respecting people).
func ChannelsFor(u storage.User, configured []string) []string {
	off := Off(u)
	var out []string
	for _, ch := range configured {
		switch {
		case ch == ChannelInApp:
		case slices.Contains(off, ch):
			continue
		}
		out = append(out, ch)
	}
	return out
}
