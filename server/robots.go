package server

import (
	"context"
	"errors"
	"strings"

	"github.com/pairsync/pairsync/server/notify"
	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/storage"
)

// robotsView says which group robots an org unit has: never a URL, key
// or secret (they are write-only; the console shows 已设置).
type robotsView struct {
	WeCom          bool `json:"wecom"`
	DingTalk       bool `json:"dingtalk"`
	DingTalkSigned bool `json:"dingtalk_signed"`
}

func viewRobots(r storage.Robots) robotsView {
	return robotsView{WeCom: r.WeComURL != "", DingTalk: r.DingTalkURL != "", DingTalkSigned: r.DingTalkSecret != ""}
}

// orgUnitAnswer is a unit as p sees it: with which robots it has when p
// may manage it (its subtree's administrators), without otherwise.
func orgUnitAnswer(p pairing.Principal, u storage.OrgUnit) orgUnitView {
	v := viewOrgUnit(u)
	if pairing.Policy(p, pairing.Manage, orgObject(u)) == nil {
		r := viewRobots(u.Robots)
		v.Robots = &r
	}
	return v
}

// robotsRequest sets an org unit's robots: a field left out keeps its
// value, "" clears it.
type robotsRequest struct {
	WeComURL       *string `json:"wecom_url"`
	DingTalkURL    *string `json:"dingtalk_url"`
	DingTalkSecret *string `json:"dingtalk_secret"`
}

// apply returns r changed by the request, refusing a URL that is no
// robot's (the refusal never repeats the URL: it holds the key).
func (q robotsRequest) apply(r storage.Robots) (storage.Robots, error) {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = strings.TrimSpace(*v)
		}
	}
	set(&r.WeComURL, q.WeComURL)
	set(&r.DingTalkURL, q.DingTalkURL)
	set(&r.DingTalkSecret, q.DingTalkSecret)
	web := func(u string) bool { return strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://") }
	switch {
	case r.WeComURL != "" && (!web(r.WeComURL) || !strings.Contains(r.WeComURL, "key=")):
		return r, badRequest("robots.wecom_url", "a 企业微信 robot's URL is http(s)://…/cgi-bin/webhook/send?key=…: copy it from the group's robot settings")
	case r.DingTalkURL != "" && (!web(r.DingTalkURL) || !strings.Contains(r.DingTalkURL, "access_token=")):
		return r, badRequest("robots.dingtalk_url", "a 钉钉 robot's URL is http(s)://…/robot/send?access_token=…: copy it from the group's robot settings")
	case r.DingTalkSecret != "" && !strings.HasPrefix(r.DingTalkSecret, "SEC"):
		return r, badRequest("robots.dingtalk_secret", "a 钉钉 robot's 加签 secret starts with SEC: copy it from the robot's security settings")
	}
	return r, nil
}

// unitRobot finds the robot a notification goes to on channel (wecom or
// dingtalk): its pairing's unit's (the first of OrgPaths: the pairing's
// branch, or the recipient's own unit for activations and digests), else
// the nearest unit above that has one; "" when none has (the channel then
// uses the global flag's robot).
func (s *Server) unitRobot(ctx context.Context, channel string, n storage.Notification) (url, secret string, err error) {
	if len(n.OrgPaths) == 0 {
		return "", "", nil
	}
	ids := strings.Split(strings.Trim(n.OrgPaths[0], "/"), "/")
	for i := len(ids) - 1; i >= 0; i-- {
		u, err := s.store.OrgUnit(ctx, ids[i])
		if errors.Is(err, storage.ErrNotFound) {
			continue
		}
		if err != nil {
			return "", "", err
		}
		switch {
		case channel == notify.ChannelWeCom && u.Robots.WeComURL != "":
			return u.Robots.WeComURL, "", nil
		case channel == notify.ChannelDingTalk && u.Robots.DingTalkURL != "":
			return u.Robots.DingTalkURL, u.Robots.DingTalkSecret, nil
		}
	}
	return "", "", nil
}
