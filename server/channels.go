package server

import (
	"github.com/pairsync/pairsync/server/notify"
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
	if c := s.cfg.NotifyWeCom; c.URL != "" {
		channels[notify.ChannelWeCom] = &c
	}
	if c := s.cfg.NotifyDingTalk; c.URL != "" {
		if c.Now == nil {
			c.Now = s.now
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
