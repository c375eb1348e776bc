package server

import (
	"github.com/gofiber/fiber/v2"

	"github.com/pairsync/pairsync/server/auth"
	"github.com/pairsync/pairsync/storage"
)

// me: GET /v1/me — the signed-in user.
func (s *Server) me(c *fiber.Ctx) error {
	ctx, cl := c.UserContext(), claims(c)
	u, err := s.store.User(ctx, cl.Subject)
	return s.meAnswer(c, u, err)
}

// meAnswer answers with u as the person sees themselves (their org unit's
// path included), or with err when reading or writing u failed.
func (s *Server) meAnswer(c *fiber.Ctx, u storage.User, err error) error {
	if err != nil {
		return err
	}
	path, err := s.orgPath(c.UserContext(), u.OrgUnit)
	if err != nil {
		return err
	}
	return c.JSON(s.viewUser(u, path, true))
}

// patchMeRequest is what a person may change of themselves here: the
// language they chose in an app.
type patchMeRequest struct {
	// Language is "zh" (Chinese, the default) or "en".
	Language *string `json:"language"`
}

// patchMe: PATCH /v1/me — the person switched language in an app; their
// notifications (in-app, SMS, robots, webhook text) are written in it from
// then on. Chinese is stored as the default (empty).
func (s *Server) patchMe(c *fiber.Ctx) error {
	var req patchMeRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	if req.Language == nil {
		return badRequest("language", "send the language to keep: \"zh\" (Chinese) or \"en\" (English)")
	}
	lang := *req.Language
	switch lang {
	case "zh", "":
		lang = ""
	case "en":
	default:
		return badRequest("language", "language must be \"zh\" (Chinese) or \"en\" (English)")
	}
	u, err := s.updateUser(c.UserContext(), claims(c).Subject, func(u *storage.User) error {
		u.Language = lang
		return nil
	})
	return s.meAnswer(c, u, err)
}

type changePasswordRequest struct {
	OldPassword string `json:"old_password"`
	NewPassword string `json:"new_password"`
}

// changePassword: POST /v1/me/password. It ends every session of the user
// and starts a new one for this client.
func (s *Server) changePassword(c *fiber.Ctx) error {
	var req changePasswordRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	ctx, cl := c.UserContext(), claims(c)
	if err := auth.CheckPassword(req.NewPassword); err != nil {
		return badRequest("new_password", "%s", err.Error())
	}
	u, err := s.store.User(ctx, cl.Subject)
	if err != nil {
		return err
	}
	// The guess at the current password is reserved before the hash
	// (SECURITY.md 14) and given back when it was right.
	limits := []auth.Limit{{Key: "pw|" + cl.Subject, Max: maxFailsAccountIP}}
	if err := s.reserve(ctx, limits...); err != nil {
		return err
	}
	ok := false
	if len(req.OldPassword) <= 1024 {
		ok, _ = s.hasher.Verify(ctx, req.OldPassword, u.PasswordHash)
	}
	if !ok {
		s.audit(c, storage.AuditEvent{Action: "password_change_failed", Result: "failed", Object: "user:" + u.ID})
		return badRequest("old_password", "the current password is wrong")
	}
	s.refund(ctx, limits...)
	phc, err := s.hasher.Hash(ctx, req.NewPassword)
	if err != nil {
		return err
	}
	u, err = s.updateUser(ctx, u.ID, func(u *storage.User) error { u.PasswordHash, u.MustChangePassword = phc, false; return nil })
	if err != nil {
		return err
	}
	if _, err := s.store.RevokeSessions(ctx, storage.SessionFilter{UserID: u.ID}, s.now().UTC()); err != nil {
		return err
	}
	sess, err := s.startSession(ctx, u, cl.Device)
	if err != nil {
		return err
	}
	s.audit(c, storage.AuditEvent{Action: "password_change", Result: "ok", Object: "user:" + u.ID, OrgPath: sess.orgPath})
	return c.JSON(sess.tokenResponse)
}
