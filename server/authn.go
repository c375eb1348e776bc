package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/pairsync/pairsync/server/auth"
	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/syncproto"
)

const (
	claimsKey ctxKey = iota + 100
	objectKey
)

// errUnauthorized is the one answer to every request whose credentials do
// not verify, whatever the reason (SECURITY.md item 1: same body for all).
var errUnauthorized = &Error{Status: http.StatusUnauthorized,
	Wire: syncproto.Error{Code: syncproto.CodeUnauthorized, Message: "sign in again"}}

// authenticate checks the bearer token (Authorization header only: a token
// in the query string or a cookie is never read) and stores its claims.
func (s *Server) authenticate(c *fiber.Ctx) error {
	h := c.Get(fiber.HeaderAuthorization)
	token, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || len(token) > auth.MaxTokenLen {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="pairsync"`)
		return errUnauthorized
	}
	claims, err := s.tokens.Parse(c.UserContext(), token)
	if err != nil {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="pairsync", error="invalid_token"`)
		return errUnauthorized
	}
	// The signature is not enough: the sign-in behind the token must still
	// be live (liveness.go, SECURITY.md item 12).
	if err := s.checkLive(c.UserContext(), claims); err != nil {
		if err == errUnauthorized {
			c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="pairsync", error="invalid_token"`)
		}
		return err
	}
	c.Locals(claimsKey, claims)
	return c.Next()
}

// claims returns the verified claims of the request (nil on public routes).
func claims(c *fiber.Ctx) *auth.Claims {
	cl, _ := c.Locals(claimsKey).(*auth.Claims)
	return cl
}

// principal is who is asking, for the policy.
func principal(c *fiber.Ctx) pairing.Principal {
	cl := claims(c)
	if cl == nil {
		return pairing.Principal{}
	}
	return pairing.Principal{UserID: cl.Subject, Role: pairing.Role(cl.Role), OrgPath: cl.OrgUnit,
		Counterparty: cl.Counterparty, Device: cl.Device}
}

// authorize asks the policy; a refusal is audited and becomes 404 (not
// visible: no existence oracle) or 403.
func (s *Server) authorize(c *fiber.Ctx, a pairing.Action, o pairing.Object) error {
	err := pairing.Policy(principal(c), a, o)
	if err == nil {
		return nil
	}
	s.audit(c, storage.AuditEvent{Action: "denied", Object: objectName(o), Result: "denied",
		Detail: string(a), OrgPath: principal(c).OrgPath})
	if errors.Is(err, pairing.ErrForbidden) {
		return &Error{Status: http.StatusForbidden, Cause: err,
			Wire: syncproto.Error{Code: syncproto.CodeForbidden, Message: "your role does not allow this"}}
	}
	return &Error{Status: http.StatusNotFound, Cause: err,
		Wire: syncproto.Error{Code: syncproto.CodeNotFound, Message: "not found"}}
}

// truncatePath copies a request path for an audit line, at most 200 bytes
// (a probe may send a long one).
func truncatePath(p string) string {
	if len(p) > 200 {
		p = strings.ToValidUTF8(p[:200], "") + "…"
	}
	return strings.Clone(p)
}

func objectName(o pairing.Object) string {
	if o.ID == "" {
		return string(o.Kind)
	}
	return string(o.Kind) + ":" + o.ID
}

// loader resolves the object a route's :id names, for the policy check the
// router makes before the handler runs.
type loader func(s *Server, c *fiber.Ctx) (pairing.Object, any, error)

// guard wraps a handler of a route with an id: it loads the object, asks
// the policy, and hands the loaded value to the handler through Locals.
// An unknown id and an id outside the caller's scope get the same 404.
func (s *Server) guard(load loader, a pairing.Action, h fiber.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		obj, val, err := load(s, c)
		if errors.Is(err, storage.ErrNotFound) {
			// Audited like a refusal, so a probe for ids is on record and an
			// unknown id costs what a foreign one costs: the answer's timing
			// does not tell them apart.
			s.audit(c, storage.AuditEvent{Action: "denied", Object: truncatePath(c.Path()), Result: "not_found",
				Detail: string(a), OrgPath: principal(c).OrgPath})
			return errorf(http.StatusNotFound, syncproto.CodeNotFound, "not found")
		}
		if err != nil {
			return err
		}
		if err := s.authorize(c, a, obj); err != nil {
			return err
		}
		c.Locals(objectKey, val)
		return h(c)
	}
}

// loaded returns the value the route's loader produced.
func loaded[T any](c *fiber.Ctx) T {
	v, _ := c.Locals(objectKey).(T)
	return v
}

// audit appends one event, filling in time, actor, device and IP. A failed
// append is logged (the action it records has already happened).
func (s *Server) audit(c *fiber.Ctx, e storage.AuditEvent) {
	e.Time = time.Now().UTC()
	if cl := claims(c); cl != nil {
		if e.Actor == "" {
			e.Actor = cl.Subject
		}
		if e.Device == "" {
			e.Device = cl.Device
		}
	}
	e.IP = c.IP()
	if probeResults[e.Result] {
		record, summary := s.probes.admit(e.IP, e.Time)
		switch {
		case summary:
			e = storage.AuditEvent{Time: e.Time, IP: e.IP, Action: "probes_suppressed", Result: "denied", OrgPath: e.OrgPath,
				Detail: fmt.Sprintf("more than %d refused requests from this address within %s: the rest of that time is counted, not recorded one by one",
					probeAuditMax, probeAuditWindow)}
			s.metrics.probesSuppressed.Inc()
		case !record:
			s.metrics.probesSuppressed.Inc()
			return
		}
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.UserContext()), 5*time.Second)
	defer cancel()
	if err := s.store.AppendAudit(ctx, e); err != nil {
		s.log.Error("audit append failed", "request_id", requestID(c), "action", e.Action, "err", err)
	}
}
