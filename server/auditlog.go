package server

import (
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/storage"
)

type auditView struct {
	Seq      uint64    `json:"seq"`
	Time     time.Time `json:"time"`
	Actor    string    `json:"actor,omitempty"`
	Device   string    `json:"device,omitempty"`
	IP       string    `json:"ip,omitempty"`
	Action   string    `json:"action"`
	Object   string    `json:"object,omitempty"`
	Result   string    `json:"result"`
	Detail   string    `json:"detail,omitempty"`
	Username string    `json:"username,omitempty"`
}

// listAudit: GET /v1/audit?actor=&action=&since=&until=&before=&limit= —
// the audit log of the caller's subtree, newest first.
func (s *Server) listAudit(c *fiber.Ctx) error {
	p := principal(c)
	if err := s.authorize(c, pairing.Read, pairing.Object{Kind: pairing.KindAudit, OrgPath: p.OrgPath}); err != nil {
		return err
	}
	q := storage.AuditQuery{OrgPath: p.OrgPath, Actor: c.Query("actor"), Action: c.Query("action")}
	var err error
	if q.Limit, err = queryLimit(c, 100, 1000); err != nil {
		return err
	}
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"since", &q.Since}, {"until", &q.Until}} {
		if v := c.Query(t.name); v != "" {
			if *t.dst, err = time.Parse(time.RFC3339, v); err != nil {
				return badRequest(t.name, "%s must be an RFC 3339 time like 2026-11-01T00:00:00Z", t.name)
			}
		}
	}
	if v := c.Query("before"); v != "" {
		if q.Before, err = strconv.ParseUint(v, 10, 64); err != nil {
			return badRequest("before", "before must be a sequence number")
		}
	}
	events, more, err := s.store.AuditLog(c.UserContext(), q)
	if err != nil {
		return err
	}
	out := make([]auditView, 0, len(events))
	for _, e := range events {
		out = append(out, auditView{Seq: e.Seq, Time: e.Time, Actor: e.Actor, Device: e.Device, IP: e.IP, Action: e.Action,
			Object: e.Object, Result: e.Result, Detail: e.Detail, Username: e.Username})
	}
	resp := fiber.Map{"events": out, "more": more}
	if more && len(events) > 0 {
		resp["next_before"] = events[len(events)-1].Seq
	}
	return c.JSON(resp)
}
