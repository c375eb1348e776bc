package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/pairsync/pairsync/server/auth"
	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/syncproto"
)

// Sign-in throttling (SECURITY.md items 3 and 14). Attempts are counted per
// account × client and per client, never per account alone: a per-account
// lock would let anyone lock the owner out by guessing from elsewhere. The
// account is the user the typed login resolves to, so typing the phone
// number or the user name counts on one counter; an unknown login, or a
// phone number several accounts share, counts under what was typed. Each
// attempt is reserved before the hash (auth.Throttle.Reserve) and given
// back on success.
const (
	throttleWindow    = 15 * time.Minute
	maxFailsAccountIP = 3  // the 4th wrong password from one client gets 429
	maxFailsIP        = 30 // across accounts from one client (password spraying)
	activationTTL     = 72 * time.Hour
)

// errWrongCredentials is the one answer to a failed sign-in, for unknown
// users, wrong passwords and disabled accounts alike.
var errWrongCredentials = &Error{Status: http.StatusUnauthorized,
	Wire: syncproto.Error{Code: syncproto.CodeUnauthorized, Message: "wrong user name or password"}}

// errAmbiguousLogin answers a phone number that several accounts able to
// sign in share (phones are not unique: issue 18 L3). It is given after the
// throttle and a hash, as a wrong password is, and the attempt stays
// counted.
var errAmbiguousLogin = &Error{Status: http.StatusConflict,
	Wire: syncproto.Error{Code: syncproto.CodeAmbiguousLogin,
		Message: "this phone number belongs to more than one account, so it cannot sign in: sign in with your user name (ask your administrator if you do not know it)"}}

// signInUser resolves a typed login to the account it signs in: the user
// with that user name, or else the one account with that phone number that
// can sign in (enabled, with a password). ambiguous reports a phone number
// several such accounts share; storage.ErrNotFound when nobody matches.
// A phone held by one account that cannot sign in resolves to it, so that
// it fails as a wrong password does.
func (s *Server) signInUser(ctx context.Context, login string) (u storage.User, ambiguous bool, err error) {
	u, err = s.store.UserByLogin(ctx, login)
	if !errors.Is(err, storage.ErrAmbiguous) {
		return u, false, err
	}
	holders, err := s.store.UsersByPhone(ctx, login)
	if err != nil {
		return storage.User{}, false, err
	}
	var able []storage.User
	for _, h := range holders {
		if !h.Disabled && h.PasswordHash != "" {
			able = append(able, h)
		}
	}
	switch {
	case len(able) == 1:
		return able[0], false, nil
	case len(able) > 1:
		return storage.User{}, true, storage.ErrNotFound
	}
	return storage.User{}, false, storage.ErrNotFound
}

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
	DeviceID string `json:"device_id,omitempty"`
}

type tokenResponse struct {
	AccessToken  string   `json:"access_token"`
	RefreshToken string   `json:"refresh_token"`
	TokenType    string   `json:"token_type"`
	ExpiresIn    int      `json:"expires_in"`
	User         userView `json:"user"`
}

// signInLimits are the limits of one sign-in attempt on account (a user id,
// or "?" and the login typed when it names nobody) from client ip.
func signInLimits(account, ip string) []auth.Limit {
	return []auth.Limit{
		{Key: "a|" + account + "|" + ip, Max: maxFailsAccountIP},
		{Key: "i|" + ip, Max: maxFailsIP},
	}
}

// reserve reserves an attempt on limits (auth.Throttle.Reserve): nil, the
// 429 of a reached limit, or the storage error (503: a guess is never let
// through unthrottled).
func (s *Server) reserve(ctx context.Context, limits ...auth.Limit) error {
	wait, ok, err := s.throttle.Reserve(ctx, limits...)
	switch {
	case err != nil:
		return err
	case !ok:
		return tooManyAttempts(wait)
	}
	return nil
}

// refund gives back a reserved attempt after a success, even when the
// client has gone; a failure keeps the attempt counted (logged).
func (s *Server) refund(ctx context.Context, limits ...auth.Limit) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.throttle.Refund(ctx, limits...); err != nil {
		s.log.Warn("giving back a throttled attempt", "err", err)
	}
}

// tooManyAttempts is the 429 of every throttle: Retry-After, and the wait in
// whole minutes in the message and in seconds in retry_after (the clients
// translate the code and show the minutes).
func tooManyAttempts(wait time.Duration) *Error {
	secs := int((wait + time.Second - 1) / time.Second)
	mins := (secs + 59) / 60
	return &Error{Status: http.StatusTooManyRequests, RetryAfter: wait,
		Wire: syncproto.Error{Code: syncproto.CodeRateLimited, RetryAfter: secs,
			Message: fmt.Sprintf("too many failed attempts: try again in %d minutes", mins)}}
}

// login: POST /v1/auth/login.
func (s *Server) login(c *fiber.Ctx) error {
	var req loginRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	if req.Username == "" || len(req.Username) > 128 || len(req.Password) > 1024 {
		return errWrongCredentials
	}
	ctx, ip := c.UserContext(), c.IP()
	u, ambiguous, err := s.signInUser(ctx, req.Username)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	account := "?" + req.Username
	if err == nil {
		account = u.ID
	}
	limits := signInLimits(account, ip)
	if err := s.reserve(ctx, limits...); err != nil {
		if errors.As(err, new(*Error)) {
			s.audit(c, storage.AuditEvent{Action: "login_throttled", Result: "denied", Username: maskLogin(req.Username)})
		}
		return err
	}
	ok := false
	if err == nil && u.PasswordHash != "" {
		ok, err = s.hasher.Verify(ctx, req.Password, u.PasswordHash)
		if err != nil && ctx.Err() != nil {
			return err
		}
	} else {
		s.hasher.Dummy(ctx, req.Password) // same time for unknown users
	}
	if ambiguous {
		// The reserved attempt stays counted, as for a wrong password.
		s.audit(c, storage.AuditEvent{Action: "login_failed", Result: "failed", Username: maskLogin(req.Username),
			Detail: "a phone number several accounts share"})
		return errAmbiguousLogin
	}
	if !ok || u.Disabled {
		// The reserved attempt stays counted.
		s.audit(c, storage.AuditEvent{Action: "login_failed", Actor: u.ID, Result: "failed", Username: maskLogin(req.Username)})
		return errWrongCredentials
	}
	// A success gives back its own attempt only: resetting the counter
	// would let guesses running beside it through (60 concurrent guesses,
	// one of them right, must still evaluate at most 3).
	s.refund(ctx, limits...)
	if s.hasher.NeedsRehash(u.PasswordHash) {
		if phc, err := s.hasher.Hash(ctx, req.Password); err == nil {
			u.PasswordHash = phc
			if nu, err := s.store.UpdateUser(ctx, u); err == nil {
				u = nu
			}
		}
	}
	deviceID := ""
	if req.DeviceID != "" {
		d, err := s.store.Device(ctx, req.DeviceID)
		switch {
		case errors.Is(err, storage.ErrNotFound) || err == nil && d.UserID != u.ID:
			return badRequest("device_id", "this device is not registered to you; register it again")
		case err != nil:
			return err
		case !d.RevokedAt.IsZero():
			return deviceRevoked()
		}
		deviceID = d.ID
	}
	resp, err := s.startSession(ctx, u, deviceID)
	if err != nil {
		return err
	}
	s.audit(c, storage.AuditEvent{Action: "login", Actor: u.ID, Device: deviceID, Result: "ok", Object: "user:" + u.ID, OrgPath: resp.orgPath})
	return c.JSON(resp.tokenResponse)
}

// maskLogin keeps enough of a typed login to recognise it in the audit log
// without storing a phone number: all-digit logins keep 3 digits.
func maskLogin(login string) string {
	if len(login) > 64 {
		login = login[:64]
	}
	digits := 0
	for _, r := range login {
		if r >= '0' && r <= '9' {
			digits++
		}
	}
	if digits >= 7 {
		if len(login) > 3 {
			return login[:3] + strings.Repeat("*", len(login)-3)
		}
		return "***"
	}
	return login
}

func deviceRevoked() *Error {
	return &Error{Status: http.StatusForbidden,
		Wire: syncproto.Error{Code: syncproto.CodeDeviceRevoked, Message: "this device was revoked by an administrator: what it has not synced stays unsent and its local data is wiped; sign in on another device"}}
}

type session struct {
	tokenResponse
	orgPath string
}

// startSession opens a new refresh-token family for u (bound to deviceID,
// if any) and issues the first tokens.
func (s *Server) startSession(ctx context.Context, u storage.User, deviceID string) (session, error) {
	now := s.now().UTC()
	refresh := auth.NewSecret(32)
	family := uuid.Must(uuid.NewV7()).String()
	if err := s.store.CreateSession(ctx, storage.Session{
		TokenHash: auth.HashSecret(refresh), Family: family, UserID: u.ID, DeviceID: deviceID,
		IssuedAt: now, ExpiresAt: now.Add(auth.RefreshTTL),
	}); err != nil {
		return session{}, err
	}
	return s.issue(ctx, u, deviceID, family, refresh)
}

// issue makes an access token for u and wraps it with the refresh token.
func (s *Server) issue(ctx context.Context, u storage.User, deviceID, family, refresh string) (session, error) {
	orgPath, err := s.orgPath(ctx, u.OrgUnit)
	if err != nil {
		return session{}, err
	}
	access, exp, err := s.tokens.Issue(u.ID, auth.Claims{Role: u.Role, OrgUnit: orgPath, Counterparty: u.Counterparty, Device: deviceID, Family: family})
	if err != nil {
		return session{}, err
	}
	return session{tokenResponse: tokenResponse{
		AccessToken: access, RefreshToken: refresh, TokenType: "Bearer",
		ExpiresIn: int(exp.Sub(s.now()).Seconds()), User: s.viewUser(u, orgPath, true),
	}, orgPath: orgPath}, nil
}

// orgPath is the path of an org unit ("" for none or an unknown one: such a
// user sees no subtree).
func (s *Server) orgPath(ctx context.Context, id string) (string, error) {
	if id == "" {
		return "", nil
	}
	u, err := s.store.OrgUnit(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return u.Path, nil
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

// refresh: POST /v1/auth/refresh. Single use: the token is exchanged for a
// new one of the same family; presenting a used token again revokes the
// family (it was stolen, or the client is confused: either way, sign in).
func (s *Server) refresh(c *fiber.Ctx) error {
	var req refreshRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	if req.RefreshToken == "" || len(req.RefreshToken) > 256 {
		return errUnauthorized
	}
	ctx, now := c.UserContext(), s.now().UTC()
	refresh := auth.NewSecret(32)
	next := storage.Session{TokenHash: auth.HashSecret(refresh), IssuedAt: now}
	old, err := s.store.RotateSession(ctx, auth.HashSecret(req.RefreshToken), now, next)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return errUnauthorized
	case errors.Is(err, storage.ErrConflict) && old.UsedAt.IsZero():
		// Revoked earlier (logout, reuse, disabling, device revocation). A
		// revoked device is told so: it wipes its local data.
		if old.DeviceID != "" {
			if d, err := s.store.Device(ctx, old.DeviceID); err == nil && !d.RevokedAt.IsZero() {
				return deviceRevoked()
			}
		}
		return errUnauthorized
	case errors.Is(err, storage.ErrConflict):
		path := ""
		if u, err := s.store.User(ctx, old.UserID); err == nil {
			path, _ = s.orgPath(ctx, u.OrgUnit)
		}
		s.audit(c, storage.AuditEvent{Action: "refresh_reuse", Actor: old.UserID, Device: old.DeviceID, Result: "denied",
			Object: "session:" + old.Family, OrgPath: path, Detail: "a used refresh token was presented again; its family is revoked"})
		s.log.Warn("refresh token reuse: family revoked", "user", old.UserID, "family", old.Family, "request_id", requestID(c))
		return errUnauthorized
	case err != nil:
		return err
	}
	revoke := func() error {
		_, err := s.store.RevokeSessions(ctx, storage.SessionFilter{Family: old.Family}, now)
		return err
	}
	if !now.Before(old.ExpiresAt) {
		return errors.Join(errUnauthorized, revoke())
	}
	u, err := s.store.User(ctx, old.UserID)
	if errors.Is(err, storage.ErrNotFound) || err == nil && u.Disabled {
		return errors.Join(errUnauthorized, revoke())
	}
	if err != nil {
		return err
	}
	if old.DeviceID != "" {
		d, err := s.store.Device(ctx, old.DeviceID)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		if err != nil || !d.RevokedAt.IsZero() {
			return errors.Join(deviceRevoked(), revoke())
		}
	}
	resp, err := s.issue(ctx, u, old.DeviceID, old.Family, refresh)
	if err != nil {
		return err
	}
	return c.JSON(resp.tokenResponse)
}

// logout: POST /v1/auth/logout ends the refresh token's family. It answers
// 204 whatever the token, so it reveals nothing.
func (s *Server) logout(c *fiber.Ctx) error {
	var req refreshRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	ctx := c.UserContext()
	if sess, err := s.store.Session(ctx, auth.HashSecret(req.RefreshToken)); err == nil {
		if _, err := s.store.RevokeSessions(ctx, storage.SessionFilter{Family: sess.Family}, s.now().UTC()); err != nil {
			return err
		}
		s.audit(c, storage.AuditEvent{Action: "logout", Actor: sess.UserID, Device: sess.DeviceID, Result: "ok", Object: "session:" + sess.Family})
	} else if !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	return c.SendStatus(http.StatusNoContent)
}

type activateRequest struct {
	Code     string `json:"code"`
	Password string `json:"password"`
}

// activate: POST /v1/auth/activate. A new contact or officer sets their
// own password with the one-time code an administrator gave them, and is
// signed in.
func (s *Server) activate(c *fiber.Ctx) error {
	var req activateRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	ctx, ip := c.UserContext(), c.IP()
	if err := auth.CheckPassword(req.Password); err != nil {
		return badRequest("password", "%s", err.Error())
	}
	// A guess at a code is reserved before it is tried (SECURITY.md 14).
	limits := activationLimits(ip)
	if err := s.reserve(ctx, limits...); err != nil {
		return err
	}
	code := normalizeCode(req.Code)
	if len(code) != activationCodeLen {
		return errBadActivationCode()
	}
	act, err := s.store.ConsumeActivation(ctx, auth.HashSecret(code), s.now().UTC())
	if errors.Is(err, storage.ErrNotFound) {
		s.audit(c, storage.AuditEvent{Action: "activate_failed", Result: "failed"})
		return errBadActivationCode()
	}
	if err != nil {
		s.refund(ctx, limits...)
		return err
	}
	s.refund(ctx, limits...)
	phc, err := s.hasher.Hash(ctx, req.Password)
	if err != nil {
		return err
	}
	u, err := s.updateUser(ctx, act.UserID, func(u *storage.User) error {
		if u.Disabled {
			// A disabled account gets no password and no session
			// (SECURITY.md item 12).
			return errWrongCredentials
		}
		u.PasswordHash = phc
		return nil
	})
	if err != nil {
		return err
	}
	resp, err := s.startSession(ctx, u, "")
	if err != nil {
		return err
	}
	s.audit(c, storage.AuditEvent{Action: "activate", Actor: u.ID, Result: "ok", Object: "user:" + u.ID, OrgPath: resp.orgPath})
	return c.JSON(resp.tokenResponse)
}

// updateUser applies change to the stored user, retrying on a concurrent
// update.
func (s *Server) updateUser(ctx context.Context, id string, change func(*storage.User) error) (storage.User, error) {
	for attempt := 0; ; attempt++ {
		u, err := s.store.User(ctx, id)
		if err != nil {
			return u, err
		}
		if err := change(&u); err != nil {
			return u, err
		}
		nu, err := s.store.UpdateUser(ctx, u)
		if errors.Is(err, storage.ErrConflict) && attempt < 5 {
			continue
		}
		return nu, err
	}
}

// jwks: GET /v1/auth/jwks.json.
func (s *Server) jwks(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "public, max-age=300")
	return c.JSON(s.keys.JWKS())
}

// rotateKeys: POST /v1/auth/keys/rotate (administrators of a root unit).
func (s *Server) rotateKeys(c *fiber.Ctx) error {
	if err := s.authorize(c, pairing.Manage, pairing.Object{Kind: pairing.KindSystem, ID: "signing-keys"}); err != nil {
		return err
	}
	kid, err := auth.Rotate(c.UserContext(), s.store, s.now())
	if err != nil {
		return err
	}
	if err := s.keys.Reload(c.UserContext()); err != nil {
		return err
	}
	s.audit(c, storage.AuditEvent{Action: "keys_rotate", Result: "ok", Object: "key:" + kid, OrgPath: principal(c).OrgPath})
	return c.JSON(fiber.Map{"kid": kid})
}
