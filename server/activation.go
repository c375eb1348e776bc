package server

import (
	"errors"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/pairsync/pairsync/server/auth"
	"github.com/pairsync/pairsync/storage"
)

// The activation page (the app's /activate, opened from the link or QR an
// administrator hands over, or from 使用激活码 on the sign-in screen) shows
// the person whom the code is for before they choose a password, and the
// password rules. These handlers answer it; POST /v1/auth/activate then
// sets the password and signs in.

type activationInfoRequest struct {
	Code string `json:"code"`
}

// activationInfo is whom a live activation code is for, in words: no id
// and no phone number (the holder of a code sees only what the activation
// page shows). Role is the role's code; the app shows it in words.
type activationInfo struct {
	Name     string `json:"name"`
	Username string `json:"username"` // what to type at the next sign-in
	Role     string `json:"role"`
	// OrgUnitName is the name of the person's org unit; CounterpartyName, for
	// a contact, the name of their enterprise or community.
	OrgUnitName      string    `json:"org_unit_name,omitempty"`
	CounterpartyName string    `json:"counterparty_name,omitempty"`
	ExpiresAt        time.Time `json:"expires_at"`
}

// activationLimits throttles the guessing of activation codes per client
// address: the same key and budget as POST /v1/auth/activate, so looking
// codes up gives no more guesses than using them.
func activationLimits(ip string) []auth.Limit {
	return []auth.Limit{{Key: "act|" + ip, Max: 10}}
}

// errBadActivationCode is the one answer to a code that is unknown,
// malformed, used, replaced, expired or of a disabled account.
func errBadActivationCode() *Error {
	return badRequest("code", "this activation code is not valid (it may have expired or been used)")
}

// activationInfo: POST /v1/auth/activation-info — whom a code is for,
// without using it. Public (the person has no password yet) and throttled
// like activation itself; the code travels in the body, never in a URL.
func (s *Server) activationInfo(c *fiber.Ctx) error {
	var req activationInfoRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	// A look-up is reserved before it is tried, like a use (SECURITY.md 14),
	// and given back only when the code is good.
	ctx, limits := c.UserContext(), activationLimits(c.IP())
	if err := s.reserve(ctx, limits...); err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	code := normalizeCode(req.Code)
	if len(code) != activationCodeLen {
		return errBadActivationCode()
	}
	act, err := s.store.LiveActivation(ctx, auth.HashSecret(code), s.now().UTC())
	if errors.Is(err, storage.ErrNotFound) {
		return errBadActivationCode()
	}
	if err != nil {
		s.refund(ctx, limits...)
		return err
	}
	s.refund(ctx, limits...)
	u, err := s.store.User(ctx, act.UserID)
	if errors.Is(err, storage.ErrNotFound) || err == nil && u.Disabled {
		// The code cannot be used either: say the same thing.
		return errBadActivationCode()
	}
	if err != nil {
		return err
	}
	info := activationInfo{Name: u.Name, Username: u.Username, Role: u.Role, ExpiresAt: act.ExpiresAt}
	if u.OrgUnit != "" {
		unit, err := s.store.OrgUnit(ctx, u.OrgUnit)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		info.OrgUnitName = unit.Name
	}
	if u.Counterparty != "" {
		if cp, ok := s.dir.Counterparty(u.Counterparty); ok {
			info.CounterpartyName = cp.Name
		}
	}
	return c.Status(http.StatusOK).JSON(info)
}

// passwordRules: GET /v1/auth/password-rules — what a new password must
// be, shown before anyone types one (server/auth keeps the rule).
func (s *Server) passwordRules(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "public, max-age=300")
	return c.JSON(auth.Rules())
}
