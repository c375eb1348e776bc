package server

import (
	"context"

	"github.com/pairsync/pairsync/server/notify"
	"github.com/pairsync/pairsync/storage"
)

// addChannels adds the configured SMS gateway, robots and in-app messages
// to channels (issue 17's delivery side).
func (s *Server) addChannels(channels map[string]notify.Channel) {
	if c := s.cfg.NotifySMS; c.URL != "" {
		channels[notify.ChannelSMS] = &c
		// Text messages reach the person's own phone, so activation links
		// may go this way; never the robots, whose group chat would see them.
		s.notify.planner.PhoneChannels = append(s.notify.planner.PhoneChannels, notify.ChannelSMS)
	}
	// The robots: the global flag's, and the org units' own (robots.go),
	// the nearest to the notification's unit first.
	if c := s.cfg.NotifyWeCom; c.URL != "" || s.cfg.NotifyUnitRobots {
		c.Route = func(ctx context.Context, n storage.Notification) (string, error) {
			url, _, err := s.unitRobot(ctx, notify.ChannelWeCom, n)
			return url, err
		}
		channels[notify.ChannelWeCom] = &c
	}
	if c := s.cfg.NotifyDingTalk; c.URL != "" || s.cfg.NotifyUnitRobots {
		if c.Now == nil {
			c.Now = s.now
		}
		c.Route = func(ctx context.Context, n storage.Notification) (string, string, error) {
			return s.unitRobot(ctx, notify.ChannelDingTalk, n)
		}
		channels[notify.ChannelDingTalk] = &c
	}
	if s.cfg.InAppMessages {
		channels[notify.ChannelInApp] = notify.InApp{}
	}
}

// pacing is the configured pacing, or the defaults.
func (s *Server) pacing() *notify.Pacing {
	if s.cfg.NotifyPacing != nil {
		p := *s.cfg.NotifyPacing
		return &p
	}
	return &notify.Pacing{Quiet: notify.DefaultQuietHours}
}
